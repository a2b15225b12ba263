"""The area tree over HTTP: lists by level and parent, cursors, coordinates in any system."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.geo import haversine_m, wgs84_to_gcj02
from tests.builders import make_tree


def _cursor(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


async def test_the_demo_tree_has_the_pilot_street_and_its_communities(
    client: httpx.AsyncClient,
) -> None:
    streets = (await client.get("/api/v1/areas?level=street&limit=100")).json()["items"]
    caoyang = next(s for s in streets if s["code"] == "310107012")
    assert caoyang["name"] == "曹杨新村街道"
    communities = (await client.get(f"/api/v1/areas?parent_id={caoyang['id']}")).json()["items"]
    assert len(communities) >= 3
    assert {c["level"] for c in communities} == {"community"}
    assert {c["parent_id"] for c in communities} == {caoyang["id"]}
    one = await client.get(f"/api/v1/areas/{caoyang['id']}")
    assert one.status_code == 200
    assert set(one.json()) >= {"id", "code", "name", "level", "parent_id", "centroid"}


async def test_pages_follow_cursors_without_gaps_or_repeats(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(db, 5)
    expected = sorted(c.code for c in tree.communities)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        url = f"/api/v1/areas?parent_id={tree.street.id}&limit=2"
        page = (await client.get(url + (f"&cursor={cursor}" if cursor else ""))).json()
        seen += [a["code"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%not-base64%%%",
        "bm90IGpzb24",  # "not json"
        _cursor({"a": 1}),
        _cursor(["only-one"]),
        _cursor(["C1", "not-a-uuid"]),
        _cursor([1, str(uuid.uuid4())]),
        _cursor(["C1", 12345]),
        _cursor(["C\u0000", str(uuid.uuid4())]),
        _cursor([["nested"], str(uuid.uuid4())]),
        base64.urlsafe_b64encode(b"[" * 5000).decode(),
        "x" * 5000,
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
    ],
)
async def test_a_tampered_cursor_is_400_invalid_cursor(
    client: httpx.AsyncClient, cursor: str
) -> None:
    reply = await client.get("/api/v1/areas", params={"level": "street", "cursor": cursor})
    assert reply.status_code == 400, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["code"] == "invalid_cursor"


async def test_list_parameters_are_validated(client: httpx.AsyncClient) -> None:
    for query in ("level=city", "limit=0", "limit=101", "limit=ten", "parent_id=nope"):
        reply = await client.get(f"/api/v1/areas?{query}")
        assert reply.status_code in (400, 422), query
        assert reply.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(f"/api/v1/areas/{uuid.uuid4()}")).status_code == 404
    assert (await client.get("/api/v1/areas/not-a-uuid")).status_code in (400, 404)


async def test_the_centroid_comes_in_the_asked_coordinate_system(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(db, 1)
    area = tree.communities[0]
    base = f"/api/v1/areas/{area.id}"
    wgs = (await client.get(base, params={"coord_sys": "wgs84"})).json()["centroid"]
    gcj = (await client.get(base)).json()["centroid"]  # GCJ-02 by default
    bd = (await client.get(base, params={"coord_sys": "bd09"})).json()["centroid"]

    assert (wgs["lat"], wgs["lng"]) == pytest.approx((area.centroid_lat, area.centroid_lng))
    assert gcj["coord_sys"] == "gcj02"
    expected = wgs84_to_gcj02(area.centroid_lat, area.centroid_lng)
    assert haversine_m(gcj["lat"], gcj["lng"], *expected) < 0.1
    # In Shanghai the systems differ by hundreds of metres: the conversion really happened.
    assert 300 < haversine_m(wgs["lat"], wgs["lng"], gcj["lat"], gcj["lng"]) < 1000
    assert 300 < haversine_m(gcj["lat"], gcj["lng"], bd["lat"], bd["lng"]) < 1500
    assert (await client.get(base, params={"coord_sys": "utm"})).status_code in (400, 422)
