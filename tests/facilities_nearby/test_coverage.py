from __future__ import annotations

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.geo import CoordSys, convert
from src.facilities_nearby.demo import CENTER_GCJ
from src.facilities_nearby.runtime import NearbyRuntime
from src.models.area import Area
from src.models.user import Role
from tests.builders import login, make_tree, make_user


async def test_demo_community_coverage_for_street_staff(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], nearby_runtime: NearbyRuntime
) -> None:
    async with db() as session:
        community = await session.scalar(select(Area).where(Area.code == "310107012001"))
        street = await session.scalar(select(Area).where(Area.code == "310107012"))
    assert community is not None and street is not None
    staff = await make_user(db, role=Role.street, area=street)
    reply = await client.get(
        f"/api/v1/areas/{community.id}/coverage", headers=await login(client, staff)
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["basis"] == "radius" and body["method"] == "network"
    assert 60 <= body["points"] <= 100  # a 500 m disc at 100 m spacing
    cats = {c["code"]: c for c in body["categories"]}
    assert len(cats) >= 20
    for item in cats.values():
        assert 0.0 <= item["covered_share"] <= 1.0
        uncovered = len(item["uncovered"]["coordinates"])
        assert round((1 - item["covered_share"]) * body["points"]) == uncovered
    # A 15-minute walk covers more of the village than a 5-minute one does for similar density.
    assert any(c["covered_share"] > 0.5 for c in cats.values())


async def test_uncovered_places_really_have_no_facility_within_the_tier(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], nearby_runtime: NearbyRuntime
) -> None:
    tree = await make_tree(db, communities=1)
    community = tree.communities[0]
    lat, lng = convert(*CENTER_GCJ, CoordSys.gcj02, CoordSys.wgs84)
    d = 0.004  # a ~800 m square in the middle of the demo village
    square = [[lng - d, lat - d], [lng + d, lat - d], [lng + d, lat + d], [lng - d, lat + d]]
    async with db() as session, session.begin():
        await session.execute(
            update(Area)
            .where(Area.id == community.id)
            .values(boundary={"type": "Polygon", "coordinates": [[*square, square[0]]]})
        )
    committee = await make_user(db, role=Role.committee, area=community)
    headers = await login(client, committee)
    reply = await client.get(
        f"/api/v1/areas/{community.id}/coverage?coord_sys=wgs84&profile=elderly", headers=headers
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["basis"] == "boundary" and body["profile"] == "elderly"
    assert 50 <= body["points"] <= 90  # 800 m / 100 m squared, give or take the edges
    tiers = {c["code"]: c["tier_minutes"] for c in body["categories"]}
    checked = 0
    for item in body["categories"]:
        for p_lng, p_lat in item["uncovered"]["coordinates"][:3]:
            near = await client.get(
                f"/api/v1/facilities/nearby?lat={p_lat}&lng={p_lng}&coord_sys=wgs84"
                f"&category={item['code']}&profile=elderly"
            )
            assert near.json()["items"] == [], (item["code"], tiers[item["code"]])
            checked += 1
    assert checked > 0


async def test_coverage_is_for_staff_of_the_community(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], nearby_runtime: NearbyRuntime
) -> None:
    tree = await make_tree(db, communities=1)
    other = await make_tree(db, communities=1)
    community = tree.communities[0]
    resident = await make_user(db, community=community)
    stranger = await make_user(db, role=Role.street, area=other.street)
    url = f"/api/v1/areas/{community.id}/coverage"
    assert (await client.get(url)).status_code == 401
    denied = await client.get(url, headers=await login(client, resident))
    assert denied.status_code == 403 and denied.json()["code"] == "area_forbidden"
    denied = await client.get(url, headers=await login(client, stranger))
    assert denied.status_code == 403
    staff = await make_user(db, role=Role.street, area=tree.street)
    headers = await login(client, staff)
    street = await client.get(f"/api/v1/areas/{tree.street.id}/coverage", headers=headers)
    assert street.status_code == 422 and street.json()["code"] == "not_a_community"
    missing = await client.get(
        "/api/v1/areas/0190a3f4-0000-7000-8000-000000000000/coverage", headers=headers
    )
    assert missing.status_code == 404
