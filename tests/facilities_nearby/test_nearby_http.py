from __future__ import annotations

import httpx
import pytest

from src.core.geo import CoordSys, convert, haversine_m
from src.facilities_nearby.demo import CENTER_GCJ
from src.facilities_nearby.runtime import NearbyRuntime

LAT, LNG = CENTER_GCJ


async def test_categories_are_the_domain_types_with_tiers(client: httpx.AsyncClient) -> None:
    reply = await client.get("/api/v1/facilities/categories")
    assert reply.status_code == 200
    cats = {c["code"]: c for c in reply.json()}
    assert len(cats) >= 20
    assert {c["group"] for c in cats.values()} == {"宜居", "宜业", "宜游", "宜学", "宜养"}
    assert cats["health_center"]["name"] == "社区卫生服务中心"
    assert cats["health_center"]["tier_minutes"] == 15
    assert cats["kindergarten"]["tier_minutes"] == 10
    assert cats["convenience_store"]["tier_minutes"] == 5


async def test_demo_answers_by_network_sorted_within_each_tier(
    client: httpx.AsyncClient, nearby_runtime: NearbyRuntime
) -> None:
    reply = await client.get(f"/api/v1/facilities/nearby?lat={LAT}&lng={LNG}&limit=200")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["method"] == "network"
    assert 0.0 <= body["snap_m"] < 250.0  # where the walk joins the streets
    items = body["items"]
    assert len(items) > 20
    minutes = [i["walk_minutes"] for i in items]
    assert minutes == sorted(minutes)
    tiers = {
        c["code"]: c["tier_minutes"]
        for c in (await client.get("/api/v1/facilities/categories")).json()
    }
    for item in items:
        assert item["walk_minutes"] <= tiers[item["category"]] + 0.05
        # Along streets is never shorter than the straight line (coordinates are GCJ-02 here).
        straight = haversine_m(LAT, LNG, item["lat"], item["lng"])
        assert item["distance_m"] >= straight - 1.0
    # Several categories of every tier are in reach in the middle of the village.
    assert {tiers[i["category"]] for i in items} == {5, 10, 15}


async def test_minutes_category_profile_and_coord_sys(
    client: httpx.AsyncClient, nearby_runtime: NearbyRuntime
) -> None:
    base = f"/api/v1/facilities/nearby?lat={LAT}&lng={LNG}&minutes=20&limit=200"
    walk = (await client.get(base + "&category=health_center,park")).json()
    assert walk["items"] and {i["category"] for i in walk["items"]} <= {"health_center", "park"}
    assert all(i["walk_minutes"] <= 20.05 for i in walk["items"])
    slow = (await client.get(base + "&category=health_center,park&profile=elderly")).json()
    assert slow["speed_mps"] == 0.9
    assert len(slow["items"]) <= len(walk["items"])
    by_id = {i["id"]: i for i in walk["items"]}
    for item in slow["items"]:
        assert item["distance_m"] == by_id[item["id"]]["distance_m"]
        assert item["walk_minutes"] > by_id[item["id"]]["walk_minutes"]
    # The same place asked in WGS-84 and answered in BD-09 gives the same facilities.
    w_lat, w_lng = convert(LAT, LNG, CoordSys.gcj02, CoordSys.wgs84)
    other = (
        await client.get(
            f"/api/v1/facilities/nearby?lat={w_lat}&lng={w_lng}&coord_sys=wgs84&minutes=20"
            "&category=health_center,park&limit=200"
        )
    ).json()
    assert [i["id"] for i in other["items"]] == [i["id"] for i in walk["items"]]
    first = walk["items"][0]
    detail = await client.get(f"/api/v1/facilities/{first['id']}?coord_sys=bd09")
    assert detail.status_code == 200
    back = convert(detail.json()["lat"], detail.json()["lng"], CoordSys.bd09, CoordSys.gcj02)
    assert haversine_m(*back, first["lat"], first["lng"]) < 0.5


async def test_far_from_any_street_is_an_estimate(
    client: httpx.AsyncClient, nearby_runtime: NearbyRuntime
) -> None:
    # 600 m north of the generated village: no street within the snap radius.
    lat = LAT + 0.0215
    reply = await client.get(
        f"/api/v1/facilities/nearby?lat={lat}&lng={LNG}&minutes=30&coord_sys=gcj02"
    )
    body = reply.json()
    o_lat, o_lng = convert(lat, LNG, CoordSys.gcj02, CoordSys.wgs84)
    assert body["method"] == "estimate" and body["snap_m"] is None
    assert body["items"] and all(i["estimated"] for i in body["items"])
    for item in body["items"]:
        f_lat, f_lng = convert(item["lat"], item["lng"], CoordSys.gcj02, CoordSys.wgs84)
        straight = haversine_m(o_lat, o_lng, f_lat, f_lng)
        assert item["distance_m"] == pytest.approx(straight * 1.3, rel=1e-3)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("lat=91&lng=121.4", "validation_failed"),
        ("lat=31.2&lng=181", "validation_failed"),
        ("lat=abc&lng=121.4", "validation_failed"),
        ("lng=121.4", "validation_failed"),
        ("lat=31.2&lng=121.4&minutes=0", "validation_failed"),
        ("lat=31.2&lng=121.4&minutes=61", "validation_failed"),
        ("lat=31.2&lng=121.4&limit=0", "validation_failed"),
        ("lat=31.2&lng=121.4&coord_sys=utm", "validation_failed"),
        ("lat=31.2&lng=121.4&profile=runner", "validation_failed"),
        ("lat=31.2&lng=121.4&category=casino", "unknown_category"),
    ],
)
async def test_bad_queries_are_4xx_problems(
    client: httpx.AsyncClient, nearby_runtime: NearbyRuntime, query: str, code: str
) -> None:
    reply = await client.get(f"/api/v1/facilities/nearby?{query}")
    assert 400 <= reply.status_code < 500
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["code"] == code


async def test_unknown_facility_is_404(client: httpx.AsyncClient) -> None:
    reply = await client.get("/api/v1/facilities/0190a3f4-0000-7000-8000-000000000000")
    assert reply.status_code == 404
    assert reply.json()["code"] == "not_found"


async def test_straight_line_is_never_longer_than_the_walk_and_overstates_reach(
    client: httpx.AsyncClient, nearby_runtime: NearbyRuntime
) -> None:
    query = f"lat={LAT}&lng={LNG}&minutes=10&limit=200"
    walk = (await client.get(f"/api/v1/facilities/nearby?{query}")).json()
    crow = (await client.get(f"/api/v1/facilities/straight-line?{query}")).json()
    assert crow["method"] == "straight_line"
    by_id = {i["id"]: i for i in crow["items"]}
    assert by_id.keys() >= {i["id"] for i in walk["items"]}
    for item in walk["items"]:
        assert by_id[item["id"]]["distance_m"] <= item["distance_m"] + 0.1
    # A circle on the map promises facilities that take longer than 10 minutes to walk to.
    assert len(crow["items"]) > len(walk["items"])


@pytest.mark.parametrize("lat", [90, -90, 89.9999])
async def test_positions_at_the_poles_answer_at_once(
    client: httpx.AsyncClient, nearby_runtime: NearbyRuntime, lat: float
) -> None:
    """Found by schemathesis: at lat=±90 the metres-per-unit factor was 0, so the search for
    a street to snap to never ended and the worker hung. Now such a position is simply far
    from every street and facility."""
    reply = await client.get(
        f"/api/v1/facilities/nearby?lat={lat}&lng={LNG}&coord_sys=wgs84&minutes=15"
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["items"] == []
    straight = await client.get(
        f"/api/v1/facilities/straight-line?lat={lat}&lng={LNG}&coord_sys=wgs84&minutes=15"
    )
    assert straight.status_code == 200, straight.text
    assert straight.json()["items"] == []
