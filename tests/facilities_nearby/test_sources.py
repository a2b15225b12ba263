"""Network imports scoped by source: overlapping extracts, partial re-imports, vanished POIs."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import asyncpg
import httpx
import numpy as np

from src.config import Settings
from src.core.db import plain_dsn
from src.facilities_nearby import repository
from src.facilities_nearby.graph import FacilityRows, Graph, build_graph
from src.facilities_nearby.osm import OsmNetwork, read_osm
from src.facilities_nearby.runtime import NearbyRuntime
from tests.builders import unique_code
from tests.facilities_nearby.extracts import crop
from tests.facilities_nearby.test_imports import lifecircle

NO_FACILITIES = FacilityRows([], [], np.zeros(0), np.zeros(0), [], [])


def _shape(graph: Graph, ids: np.ndarray) -> tuple[set[int], set[tuple[int, int]]]:
    """Node ids and edges (as id pairs) of a built graph."""
    order = np.unique(ids)
    u, v = order[graph.edge_u], order[graph.edge_v]
    return set(order.tolist()), set(zip(u.tolist(), v.tolist(), strict=True))


def _graph(nodes: np.ndarray, edges: np.ndarray) -> tuple[set[int], set[tuple[int, int]]]:
    ids = nodes[:, 0].astype(np.int64)
    graph = build_graph(
        "t",
        ids,
        nodes[:, 1],
        nodes[:, 2],
        edges[:, 0].astype(np.int64),
        edges[:, 1].astype(np.int64),
        edges[:, 2],
        NO_FACILITIES,
        [],
        250.0,
    )
    return _shape(graph, ids)


def _expected(*networks: OsmNetwork) -> tuple[set[int], set[tuple[int, int]]]:
    nodes = np.array([(i, *p) for n in networks for i, p in n.nodes.items()], dtype=np.float64)
    nodes[:, 0] = [i for n in networks for i in n.nodes]  # exact ids (float64 holds < 2**53)
    edges = np.array([e for n in networks for e in n.edges], dtype=np.float64)
    return _graph(nodes, edges)


async def _stored(conn: asyncpg.Connection, *sources: str) -> tuple[set[int], set[tuple[int, int]]]:
    nodes = await conn.fetch(
        "SELECT id, lat, lng FROM walk_nodes WHERE source = ANY($1)", list(sources)
    )
    edges = await conn.fetch(
        "SELECT u, v, length_m FROM walk_edges WHERE source = ANY($1)", list(sources)
    )
    return _graph(
        np.array([tuple(r) for r in nodes], dtype=np.float64),
        np.array([tuple(r) for r in edges], dtype=np.float64),
    )


async def _live(conn: asyncpg.Connection, refs: set[str]) -> dict[str, uuid.UUID]:
    """OSM object -> facility id, for the facilities the workers serve (only ``refs``)."""
    rows = await repository.read_network(conn)
    served = await conn.fetch(
        "SELECT id, osm_ref FROM facilities WHERE id = ANY($1)", rows.facilities.ids
    )
    mine = [(r["osm_ref"], r["id"]) for r in served if r["osm_ref"] in refs]
    assert len(mine) == len({ref for ref, _ in mine}), "an OSM object is served twice"
    return dict(mine)


async def _dangling(conn: asyncpg.Connection, source: str) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM walk_edges e WHERE e.source = $1 AND ("
            " NOT EXISTS (SELECT 1 FROM walk_nodes n WHERE n.source = e.source AND n.id = e.u)"
            " OR NOT EXISTS (SELECT 1 FROM walk_nodes n WHERE n.source = e.source AND n.id = e.v))",
            source,
        )
    )


async def test_overlapping_sources_and_a_partial_reimport(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path, nearby_runtime: NearbyRuntime
) -> None:
    base = random.randrange(1, 800) * 10**13  # ids of this test's place only
    full = crop(tmp_path / "full.osm.pbf", 0, 180, base)
    west = crop(tmp_path / "west.osm.pbf", 0, 26.955, base)
    east = crop(tmp_path / "east.osm.pbf", 26.945, 180, base)  # overlaps west by ~550 m
    half = crop(tmp_path / "half.osm.pbf", 0, 26.94, base)
    conn = await asyncpg.connect(plain_dsn(str(settings.database_url)))
    try:
        tags = await repository.category_codes(conn)
        net = {p.stem: read_osm(p, tags) for p in (full, west, east, half)}
        refs = {f[0] for f in net["full.osm"].facilities}
        shared = {f[0] for f in net["west.osm"].facilities} & {
            f[0] for f in net["east.osm"].facilities
        }
        assert shared and len(net["half.osm"].nodes) < len(net["west.osm"].nodes) * 0.8

        a, b = unique_code("west"), unique_code("east")
        for path, source in ((west, a), (east, b)):
            ran = await lifecircle(settings, "network", "import", str(path), "--source", source)
            assert ran.returncode == 0, ran.stdout + ran.stderr
        # Every node of both stored; together exactly the network of the whole extract.
        assert await conn.fetchval("SELECT count(*) FROM walk_nodes WHERE source = $1", b) == len(
            net["east.osm"].nodes
        )
        assert await _stored(conn, a, b) == _expected(net["full.osm"])
        before = await _live(conn, refs)
        assert set(before) == refs  # each POI once, the shared ones too

        ran = await lifecircle(settings, "network", "import", str(half), "--source", a)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        kept = {f[0] for f in net["half.osm"].facilities} | {
            f[0] for f in net["east.osm"].facilities
        }
        gone = refs - kept
        assert gone, "the cut must remove some facilities for this test to mean anything"
        west_only = {f[0] for f in net["west.osm"].facilities} - {
            f[0] for f in net["half.osm"].facilities
        }
        assert f"{len(west_only)} removed" in ran.stdout
        assert await _dangling(conn, a) == 0 and await _dangling(conn, b) == 0
        assert await _stored(conn, a, b) == _expected(net["half.osm"], net["east.osm"])
        after = await _live(conn, refs)
        assert set(after) == kept
        # Still served: the same ids (what refers to them stays attached).
        for ref in {f[0] for f in net["half.osm"].facilities}:
            assert after[ref] == before[ref]
        # Gone from every source: out of the answers, but the row and its id are kept.
        retired = await conn.fetch(
            "SELECT id, retired_at FROM facilities WHERE source = $1 AND osm_ref = ANY($2)",
            a,
            list(gone),
        )
        assert {r["id"] for r in retired} == {before[ref] for ref in gone}
        assert all(r["retired_at"] is not None for r in retired)
        await nearby_runtime.refresh()
        assert nearby_runtime.loaded is not None
        served = set(nearby_runtime.loaded.graph.fac_id_hex.tolist())
        assert not {str(before[ref]).encode() for ref in gone} & served
        assert {str(after[ref]).encode() for ref in kept} <= served

        # The whole west again: the retired ones come back under their old ids.
        ran = await lifecircle(settings, "network", "import", str(west), "--source", a)
        assert ran.returncode == 0 and "0 removed" in ran.stdout
        again = await _live(conn, refs)
        assert again == before
    finally:
        await conn.close()
