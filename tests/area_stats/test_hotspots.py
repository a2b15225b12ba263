"""Hot spots: grid cells agree with counting the random suggestions by cell, in the caller's
coordinate system."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import Counter, defaultdict

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.area_stats.service import cell_degrees
from src.core.geo import CoordSys, convert
from tests.area_stats.world import World, _in, build_world
from tests.builders import login


@pytest.fixture(scope="module")
async def world(db: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(db, seed=1818)


def expected_cells(
    world: World,
    members: set[uuid.UUID],
    cell_m: int,
    category: str | None = None,
    lo: dt.date | None = None,
    hi: dt.date | None = None,
) -> dict[str, dict[str, int]]:
    dlat, dlng = cell_degrees(cell_m)
    cells: dict[str, Counter[str]] = defaultdict(Counter)
    for p in world.proposals:
        if (
            p.community_id in members
            and p.lat is not None
            and p.lng is not None
            and p.status != "hidden"
            and (category is None or p.category == category)
            and _in(p.created_at, lo, hi)
        ):
            cells[f"{math.floor(p.lat / dlat)}:{math.floor(p.lng / dlng)}"][p.category] += 1
    return {k: dict(sorted(v.items())) for k, v in cells.items()}


def _got(body: dict[str, object]) -> dict[str, dict[str, int]]:
    features = body["features"]
    assert isinstance(features, list)
    return {f["properties"]["cell"]: f["properties"]["by_category"] for f in features}


async def test_cells_agree_with_counting(client: httpx.AsyncClient, world: World) -> None:
    h = await login(client, world.staff["district_admin"])
    everyone = {c.id for cs in world.communities.values() for c in cs}
    url = f"/api/v1/areas/{world.district.id}/hotspots"
    for params in ({}, {"cell_m": "200"}, {"from": "2026-08-01", "to": "2026-09-15"}):
        reply = await client.get(url, params=params, headers=h)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["type"] == "FeatureCollection"
        lo = dt.date.fromisoformat(params["from"]) if "from" in params else None
        hi = dt.date.fromisoformat(params["to"]) if "to" in params else None
        want = expected_cells(world, everyone, int(params.get("cell_m", 300)), lo=lo, hi=hi)
        assert _got(body) == want and len(want) > 3
        counts = [f["properties"]["count"] for f in body["features"]]
        assert counts == sorted(counts, reverse=True)
    category = world.proposals[0].category
    one = (await client.get(url, params={"category": category}, headers=h)).json()
    assert _got(one) == expected_cells(world, everyone, 300, category)
    street = world.streets[1]
    members = {c.id for c in world.communities[street.id]}
    street_body = (await client.get(f"/api/v1/areas/{street.id}/hotspots", headers=h)).json()
    assert _got(street_body) == expected_cells(world, members, 300)


async def test_polygons_in_the_callers_coord_sys(client: httpx.AsyncClient, world: World) -> None:
    h = await login(client, world.staff["district_admin"])
    url = f"/api/v1/areas/{world.district.id}/hotspots"
    p = next(p for p in world.proposals if p.lat is not None and p.status != "hidden")
    assert p.lat is not None and p.lng is not None
    dlat, dlng = cell_degrees(300)
    cell = f"{math.floor(p.lat / dlat)}:{math.floor(p.lng / dlng)}"
    for coord_sys in CoordSys:
        body = (await client.get(url, params={"coord_sys": coord_sys.value}, headers=h)).json()
        assert body["coord_sys"] == coord_sys.value
        ring = next(
            f["geometry"]["coordinates"][0]
            for f in body["features"]
            if f["properties"]["cell"] == cell
        )
        lat, lng = convert(p.lat, p.lng, CoordSys.wgs84, coord_sys)
        lngs, lats = [c[0] for c in ring], [c[1] for c in ring]
        assert min(lats) <= lat <= max(lats) and min(lngs) <= lng <= max(lngs)
        if coord_sys == CoordSys.wgs84:
            assert min(lats) == pytest.approx(math.floor(p.lat / dlat) * dlat, abs=1e-6)


async def test_hotspots_guard_and_bad_input(client: httpx.AsyncClient, world: World) -> None:
    street_staff = await login(client, world.staff["street0"])
    url = f"/api/v1/areas/{world.district.id}/hotspots"
    denied = await client.get(url, headers=street_staff)
    assert denied.status_code == 403 and denied.json()["code"] == "area_forbidden"
    h = await login(client, world.staff["district_admin"])
    for params in (
        {"cell_m": "5"},
        {"coord_sys": "mars"},
        {"from": "2026-10-01", "to": "2026-01-01"},
    ):
        r = await client.get(url, params=params, headers=h)
        assert r.status_code in (400, 422) and r.json()["code"] == "validation_failed", params
