"""The import commands, run as a user runs them, against the test database."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.cli import main
from src.config import Settings
from src.core.geo import CoordSys, convert, haversine_m
from src.facilities_nearby.demo import CENTER_GCJ
from src.facilities_nearby.imports import FileError, parse
from src.facilities_nearby.runtime import NearbyRuntime
from src.models.facility import Facility, WalkEdge, WalkNode
from tests.builders import unique_code

ROOT = Path(__file__).resolve().parents[2]
OSM_FILE = Path(__file__).parent / "data" / "helsinki-test.osm.pbf"


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def _subprocess(settings: Settings, *args: str) -> Ran:
    """The real ``lifecircle`` command in its own process."""
    env = {**os.environ, "LIFECIRCLE_DATABASE_URL": str(settings.database_url)}
    done = subprocess.run(
        [sys.executable, "-m", "src.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


async def lifecircle(settings: Settings, *args: str, subprocess_: bool = False) -> Ran:
    """Run the command line; in-process (same ``main``) unless ``subprocess_``: faster."""
    if subprocess_:
        return await asyncio.to_thread(_subprocess, settings, *args)

    def call() -> Ran:
        out, err = io.StringIO(), io.StringIO()
        saved = os.environ.get("LIFECIRCLE_DATABASE_URL")
        os.environ["LIFECIRCLE_DATABASE_URL"] = str(settings.database_url)
        try:
            # alembic (run by the command's ``migrate``) warns about its own configuration.
            with (
                warnings.catch_warnings(),
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(err),
            ):
                warnings.simplefilter("ignore", DeprecationWarning)
                code = main(list(args))
        finally:
            if saved is None:
                del os.environ["LIFECIRCLE_DATABASE_URL"]
            else:
                os.environ["LIFECIRCLE_DATABASE_URL"] = saved
        return Ran(code, out.getvalue(), err.getvalue())

    return await asyncio.to_thread(call)


async def _count(db: async_sessionmaker[AsyncSession], model: type, source: str) -> int:
    async with db() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(model).where(model.source == source)  # type: ignore[attr-defined]
            )
            or 0
        )


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("id,name,category,lat,lng,address\n" + "\n".join(rows) + "\n")
    return path


async def test_csv_import_validates_rows_strict_and_idempotent(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    tmp_path: Path,
    nearby_runtime: NearbyRuntime,
) -> None:
    lat, lng = CENTER_GCJ
    source = unique_code("city")
    good = [
        f"g1,桂巷社区卫生服务站,health_station,{lat + 0.0011},{lng + 0.0004},上海市普陀区桂巷路1号",
        f"g2,杏山路菜市场,market,{lat - 0.002},{lng + 0.003},",
        f"g3,兰溪路幼儿园,kindergarten,{lat + 0.003},{lng - 0.001},兰溪路9号",
    ]
    bad = [
        f"b1,远方,health_station,95.1,{lng},",  # out of range
        f"b2,赌场,casino,{lat},{lng},",  # unknown category
        f"b3,,market,{lat},{lng},",  # no name
        f"g1,重复,market,{lat},{lng},",  # duplicate id
        "b5,无坐标,market,abc,,",
    ]
    path = _csv(tmp_path / "city.csv", good + bad)

    strict = await lifecircle(
        settings, "facilities", "import", str(path), "--source", source, "--strict"
    )
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "nothing imported" in strict.stdout
    assert await _count(db, Facility, source) == 0

    loose = await lifecircle(settings, "facilities", "import", str(path), "--source", source)
    assert loose.returncode == 2, loose.stdout + loose.stderr
    out = loose.stdout
    assert "3 new, 0 updated, 0 unchanged, 5 rejected" in out
    assert "row 5: coordinates out of range" in out  # the header is line 1
    assert "row 6: unknown category 'casino'" in out
    assert "row 7: missing name" in out
    assert "row 8: duplicate id 'g1'" in out
    assert "row 9: lat/lng missing or not a number" in out
    assert await _count(db, Facility, source) == 3

    again = await lifecircle(settings, "facilities", "import", str(path), "--source", source)
    assert "0 new, 0 updated, 3 unchanged" in again.stdout
    _csv(path, [good[0].replace("卫生服务站", "卫生服务站（新址）"), *good[1:]])
    changed = await lifecircle(settings, "facilities", "import", str(path), "--source", source)
    assert changed.returncode == 0
    assert "0 new, 1 updated, 2 unchanged, 0 rejected" in changed.stdout
    assert await _count(db, Facility, source) == 3

    # The workers pick the change up; the facility is found by walking, in GCJ-02 as sent.
    await nearby_runtime.refresh()
    reply = await client.get(
        f"/api/v1/facilities/nearby?lat={lat}&lng={lng}&category=health_station&minutes=10"
    )
    found = [i for i in reply.json()["items"] if i["name"] == "桂巷社区卫生服务站（新址）"]
    assert len(found) == 1
    assert found[0]["address"] == "上海市普陀区桂巷路1号"
    assert haversine_m(found[0]["lat"], found[0]["lng"], lat + 0.0011, lng + 0.0004) < 0.05
    assert found[0]["distance_m"] >= haversine_m(lat, lng, lat + 0.0011, lng + 0.0004) - 0.5


async def test_geojson_import_in_wgs84_and_bad_files(
    db: async_sessionmaker[AsyncSession], settings: Settings, tmp_path: Path
) -> None:
    source = unique_code("geo")
    w_lat, w_lng = convert(*CENTER_GCJ, CoordSys.gcj02, CoordSys.wgs84)
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "p1",
                "geometry": {"type": "Point", "coordinates": [w_lng, w_lat]},
                "properties": {"name": "口袋公园", "category": "pocket_park"},
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[w_lng, w_lat]] * 2},
                "properties": {"id": "p2", "name": "线", "category": "park"},
            },
        ],
    }
    path = tmp_path / "parks.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False))
    result = await lifecircle(
        settings, "facilities", "import", str(path), "--coord-sys", "wgs84", "--source", source
    )
    assert "1 new" in result.stdout and "row 2: lat/lng missing" in result.stdout
    async with db() as session:
        stored = await session.scalar(select(Facility).where(Facility.source == source))
    assert stored is not None
    assert abs(stored.lat - w_lat) < 1e-6 and abs(stored.lng - w_lng) < 1e-6  # kept in WGS-84

    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    failed = await lifecircle(settings, "facilities", "import", str(broken))
    assert failed.returncode == 1 and "not valid JSON" in failed.stderr
    missing = await lifecircle(settings, "network", "import", str(tmp_path / "none.osm.pbf"))
    assert missing.returncode == 1


async def test_network_import_from_a_real_osm_extract(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    nearby_runtime: NearbyRuntime,
) -> None:
    source = unique_code("osm")
    first = await lifecircle(
        settings, "network", "import", str(OSM_FILE), "--source", source, subprocess_=True
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "walkable ways" in first.stdout and f"network '{source}'" in first.stdout
    nodes, edges = await _count(db, WalkNode, source), await _count(db, WalkEdge, source)
    facilities = await _count(db, Facility, source)
    assert nodes > 1000 and edges > 1000 and facilities > 10
    again = await lifecircle(settings, "network", "import", str(OSM_FILE), "--source", source)
    assert again.returncode == 0
    assert "0 new" in again.stdout
    assert await _count(db, WalkEdge, source) == edges  # replaced, not doubled
    assert await _count(db, Facility, source) == facilities

    await nearby_runtime.refresh()
    async with db() as session:
        node = (
            await session.execute(
                select(WalkNode.lat, WalkNode.lng).where(WalkNode.source == source).limit(1)
            )
        ).one()
    reply = await client.get(
        f"/api/v1/facilities/nearby?lat={node.lat}&lng={node.lng}&coord_sys=wgs84&minutes=30"
    )
    body = reply.json()
    assert body["method"] == "network"
    assert body["items"] and not any(i["estimated"] for i in body["items"])


def test_csv_without_the_needed_columns_is_refused() -> None:
    with pytest.raises(FileError, match="lacks columns: external_id/id, category, lng/lon"):
        parse(Path("x.csv"), "name,lat\nx,1\n", CoordSys.gcj02, {"market"})
