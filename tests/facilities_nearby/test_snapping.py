"""Positions and facilities join the network where it connects to the rest of the city:
islands are reported and never snapped onto."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from src.config import Settings
from src.facilities_nearby.graph import FacilityRows, build_graph, mercator, scale
from src.facilities_nearby.osm import read_osm
from src.facilities_nearby.query import nearby
from tests.builders import unique_code
from tests.facilities_nearby.extracts import OSM_FILE
from tests.facilities_nearby.reference import brute_snap, mainland_edges
from tests.facilities_nearby.synthetic import LAT0 as TOWN_LAT
from tests.facilities_nearby.synthetic import LNG0 as TOWN_LNG
from tests.facilities_nearby.synthetic import Town, town
from tests.facilities_nearby.test_imports import lifecircle
from tests.facilities_nearby.test_walkable import _graph

LAT0, LNG0 = 31.2, 121.4
M = 1 / 111_195.0  # degrees of latitude per metre
M_LNG = M / 0.8557


def _grid_with_island() -> tuple[list[tuple[int, float, float]], list[tuple[int, int, float]]]:
    """A 10 × 10 grid 100 m apart, and a 3-node footway 10 m from the grid's first street."""
    nodes, edges = [], []
    for r in range(10):
        for c in range(10):
            nodes.append((r * 10 + c, LAT0 + r * 100 * M, LNG0 + c * 100 * M_LNG))
            if c:
                edges.append((r * 10 + c - 1, r * 10 + c, 100.0))
            if r:
                edges.append(((r - 1) * 10 + c, r * 10 + c, 100.0))
    for k in range(3):  # the island: 20 m south of row 0, 30 m long
        nodes.append((1000 + k, LAT0 - 20 * M, LNG0 + (440 + 15 * k) * M_LNG))
    edges += [(1000, 1001, 15.0), (1001, 1002, 15.0)]
    return nodes, edges


def _build(nodes: list[tuple[int, float, float]], edges: list[tuple[int, int, float]],
           fac: list[tuple[float, float]]):  # type: ignore[no-untyped-def]  # fmt: skip
    return build_graph(
        "t",
        np.array([n[0] for n in nodes], dtype=np.int64),
        np.array([n[1] for n in nodes]),
        np.array([n[2] for n in nodes]),
        np.array([e[0] for e in edges], dtype=np.int64),
        np.array([e[1] for e in edges], dtype=np.int64),
        np.array([e[2] for e in edges]),
        FacilityRows(
            [uuid.uuid4() for _ in fac],
            ["a"] * len(fac),
            np.array([f[0] for f in fac]),
            np.array([f[1] for f in fac]),
            [f"f{i}" for i in range(len(fac))],
            [None] * len(fac),
        ),
        ["a"],
        250.0,
    )


def test_a_position_beside_an_island_joins_the_city_network() -> None:
    nodes, edges = _grid_with_island()
    on_island = (LAT0 - 21 * M, LNG0 + 455 * M_LNG)  # 1 m from the island, 21 m from the grid
    elsewhere = [(LAT0 + 250 * M, LNG0 + 300 * M_LNG), (LAT0 + 50 * M, LNG0 + 700 * M_LNG)]
    graph = _build(nodes, edges, [on_island, *elsewhere])
    assert graph.meta["pieces"] == 2 and graph.meta["islands"] == 1
    assert graph.meta["largest_islands"][0]["nodes"] == 3
    # The origin 6 m from the island and 14 m from the grid: it walks from the grid.
    lat, lng = LAT0 - 14 * M, LNG0 + 455 * M_LNG
    answer = nearby(graph, lat, lng, np.array([2000.0]), detour=1.3, snap_max_m=250, limit=10)
    assert answer.method == "network"
    assert answer.snap_m is not None and abs(answer.snap_m - 14.0) < 0.05
    assert len(answer.items) == 3 and not any(f.estimated for f in answer.items)
    # The facility by the island sits on the grid (21 m away), reached along it.
    assert abs(float(graph.fac_off[0]) - 21.0) < 0.05
    first = next(f for f in answer.items if f.index == 0)
    assert abs(first.distance_m - (14.0 + 21.0)) < 0.1


def test_a_second_town_is_not_an_island() -> None:
    nodes, edges = _grid_with_island()
    # 1.2 km of street 5 km east, not connected to the grid: a network of its own.
    base = len(nodes)
    for k in range(13):
        nodes.append((5000 + k, LAT0, LNG0 + (5000 + 100 * k) * M_LNG))
        if k:
            edges.append((5000 + k - 1, 5000 + k, 100.0))
    graph = _build(nodes, edges, [(LAT0 + 5 * M, LNG0 + 5550 * M_LNG)])
    assert base and graph.meta["pieces"] == 3 and graph.meta["islands"] == 1
    assert graph.fac_edge[0] >= 0 and abs(float(graph.fac_off[0]) - 5.0) < 0.05


def test_every_origin_near_the_main_network_gets_its_answer_from_it(tmp_path: Path) -> None:
    """Random origins on the real extract and on made-up towns: whoever is within 20 m of the
    main network snaps onto it (brute force over every edge off the islands agrees)."""
    for path in (OSM_FILE, town(20, 3).write(tmp_path / "town.osm")):
        network = read_osm(path, {"a": ["amenity=cafe"]})
        graph, _ = _graph(network)
        live = mainland_edges(graph)
        main_only = mainland_edges(graph, island_max_m=float("inf"))  # the largest piece
        rng = np.random.default_rng(11)
        lat = np.array([p[0] for p in network.nodes.values()])
        lng = np.array([p[1] for p in network.nodes.values()])
        near = 0
        for _ in range(200):
            o_lat = float(rng.uniform(lat.min(), lat.max()))
            o_lng = float(rng.uniform(lng.min(), lng.max()))
            to_main = brute_snap(graph, o_lat, o_lng, 20.0, main_only)
            if to_main is None:
                continue
            near += 1
            x, y = mercator(o_lat, o_lng)
            mine = graph.snap(float(x), float(y), float(scale(o_lat)), 250.0)
            assert mine is not None and live[mine.edge]
            want = brute_snap(graph, o_lat, o_lng, 250.0, live)
            assert want is not None and abs(mine.offset_m - want.offset_m) < 1e-6
            assert mine.offset_m <= to_main.offset_m + 1e-6
        assert near > 20


async def test_the_import_reports_islands_and_unreachable_facilities(
    settings: Settings, tmp_path: Path
) -> None:
    t: Town = town(8, 4)
    far = t.node(TOWN_LAT + 0.05, TOWN_LNG)  # ~5 km north of the town
    t._next += 1
    t.pois.append(
        (t._next, TOWN_LAT + 0.05, TOWN_LNG, {"amenity": "library", "name": "远郊图书馆"})
    )
    island = [far, t.node(TOWN_LAT + 0.05, TOWN_LNG + 0.0003)]
    t.way(island, highway="footway")
    path = t.write(tmp_path / "town.osm")
    source = unique_code("town")
    ran = await lifecircle(settings, "network", "import", str(path), "--source", source)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "islands (under 1000 m of street" in ran.stdout
    assert any(
        line.startswith("  · island of 2 nodes,")
        and f"at {TOWN_LAT + 0.05:.6f},{TOWN_LNG:.6f}" in line
        for line in ran.stdout.splitlines()
    )
    assert f"1 facilities of {source!r} farther than 250 m" in ran.stdout
    assert f"✗ 远郊图书馆 (library) at {TOWN_LAT + 0.05:.6f},{TOWN_LNG:.6f}" in ran.stdout
