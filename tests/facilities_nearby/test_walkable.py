"""What is walked: the access table, pedestrian areas crossed, platforms, steps and lifts —
checked against an independent reading of the same OSM files (tests/.../reference.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from src.core.geo import haversine_m
from src.facilities_nearby.graph import FacilityRows, Graph, Snap, build_graph, mercator, scale
from src.facilities_nearby.osm import OsmNetwork, read_osm, walk_kind
from tests.facilities_nearby.extracts import OSM_FILE
from tests.facilities_nearby.reference import reference_network
from tests.facilities_nearby.synthetic import Town, town

CATS = {"cafe": ["amenity=cafe"]}


@pytest.mark.parametrize(
    ("tags", "kind"),
    [
        ({"highway": "footway", "foot": "private"}, None),
        ({"highway": "residential", "foot": "use_sidepath"}, None),
        ({"highway": "service", "access": "private;delivery"}, None),
        ({"highway": "service", "access": "no"}, None),
        ({"highway": "service", "access": "private", "foot": "yes"}, "line"),
        ({"highway": "residential", "access": "destination"}, "line"),
        ({"highway": "primary", "motorroad": "yes"}, None),
        ({"highway": "trunk"}, None),
        ({"highway": "trunk", "foot": "designated"}, "line"),
        ({"highway": "motorway", "foot": "yes"}, None),
        ({"highway": "steps"}, "line"),
        ({"highway": "elevator"}, "line"),
        ({"highway": "pedestrian", "area": "yes"}, "area"),
        ({"highway": "footway", "area": "yes"}, "area"),
        ({"highway": "service", "area": "yes"}, None),  # a parking apron
        ({"highway": "platform"}, "area_if_closed"),
        ({"railway": "platform"}, "area_if_closed"),
        ({"public_transport": "platform", "area": "no"}, "line"),
        ({"railway": "rail"}, None),
        ({"building": "yes"}, None),
    ],
)
def test_the_access_table(tags: dict[str, str], kind: str | None) -> None:
    assert walk_kind(tags) == kind


def _graph(network: OsmNetwork) -> tuple[Graph, np.ndarray]:
    ids = np.array(list(network.nodes), dtype=np.int64)
    graph = build_graph(
        "t",
        ids,
        np.array([network.nodes[i][0] for i in ids]),
        np.array([network.nodes[i][1] for i in ids]),
        np.array([e[0] for e in network.edges], dtype=np.int64),
        np.array([e[1] for e in network.edges], dtype=np.int64),
        np.array([e[2] for e in network.edges]),
        FacilityRows([uuid.uuid4()], ["cafe"], np.zeros(1), np.zeros(1), ["x"], [None]),
        ["cafe"],
        250.0,
    )
    return graph, np.unique(ids)


def _from_node(graph: Graph, order: np.ndarray, node: int, limit: float) -> dict[int, float]:
    """Walking metres from an OSM node to every node within ``limit``, by the product's query
    path (a snap onto one of the node's edges, at that end)."""
    i = int(np.searchsorted(order, node))
    edge = int(np.flatnonzero((graph.edge_u == i) | (graph.edge_v == i))[0])
    snap = Snap(edge, 0.0 if graph.edge_u[edge] == i else 1.0, 0.0)
    x, y = graph.node_x[i], graph.node_y[i]
    lat = float(np.degrees(2 * np.arctan(np.exp(y / 6_371_008.8)) - np.pi / 2))
    nodes, dist = graph.distances_from(snap, float(x), float(y), float(scale(lat)), limit)
    return {int(order[n]): float(d) for n, d in zip(nodes, dist, strict=True) if np.isfinite(d)}


def _compare(path: Path, origins: int, limit: float, seed: int) -> int:
    network = read_osm(path, CATS)
    graph, order = _graph(network)
    ref = reference_network(path)
    assert set(ref.nodes) == set(order.tolist())
    rng = np.random.default_rng(seed)
    compared = 0
    for node in rng.choice(order, origins, replace=False).tolist():
        if ref.degree(node) == 0:
            continue
        got = _from_node(graph, order, node, limit)
        want = nx.single_source_dijkstra_path_length(ref, node, cutoff=limit, weight="weight")
        # Equal up to float noise; a node just at the cutoff may fall either side.
        assert {n for n, d in want.items() if d < limit - 1e-6} <= set(got), node
        for n, d in got.items():
            # (The query's virtual start edge weighs at least 1 cm: scipy drops 0 weights.)
            assert n in want and abs(d - want[n]) <= 0.0101, (node, n, d, want.get(n))
        compared += len(want)
    return compared


def test_real_extract_walks_as_the_independent_reference() -> None:
    assert _compare(OSM_FILE, 40, 1500.0, seed=3) > 5000


@pytest.mark.parametrize(("side", "seed"), [(12, 1), (14, 5), (40, 2)])
def test_a_town_with_squares_walks_as_the_reference(side: int, seed: int, tmp_path: Path) -> None:
    path = town(side, seed).write(tmp_path / "town.osm")
    assert _compare(path, 30, 1200.0, seed) > 1000


def test_closed_ways_are_not_walked_and_squares_are_crossed(tmp_path: Path) -> None:
    t: Town = town(12, 1)
    path = t.write(tmp_path / "town.osm")
    network = read_osm(path, CATS)
    edges = {frozenset((u, v)) for u, v, _ in network.edges}
    way_refs = {w: refs for w, refs, _ in t.ways}
    assert t.closed_ways
    on_squares = [set(ring) for ring in t.plazas]
    checked = 0
    for way in t.closed_ways:
        if any(set(way_refs[way]) <= ring for ring in on_squares):
            continue  # the side of a square: walked as the square's outline
        assert frozenset(way_refs[way]) not in edges
        checked += 1
    assert checked > 5
    assert network.walkable_areas >= len(t.plazas) + 6  # the squares and the platforms
    graph, order = _graph(network)
    for ring in t.plazas:
        # Across the square from the middle of one side to the middle of the opposite one:
        # a straight walk (the square has no notch on that line), not around its outline.
        doors = [n for n in ring[:-1] if n in network.nodes]
        a, b = doors[-1], doors[3] if len(doors) == 8 else doors[4]
        got = _from_node(graph, order, a, 2000.0)[b]
        straight = haversine_m(*network.nodes[a], *network.nodes[b])
        assert got < straight * 1.25, (got, straight)


def test_a_plain_square_is_crossed_in_a_straight_line(tmp_path: Path) -> None:
    t = Town()
    d = 0.001  # ~110 m
    corners = [t.node(31.2, 121.4), t.node(31.2, 121.4 + d), t.node(31.2 + d, 121.4 + d),
               t.node(31.2 + d, 121.4)]  # fmt: skip
    west_door = t.node(31.2 + d / 2, 121.4)
    east_door = t.node(31.2 + d / 2, 121.4 + d)
    ring = [corners[0], corners[1], east_door, corners[2], corners[3], west_door, corners[0]]
    t.way(ring, highway="pedestrian", area="yes")
    west, east = t.node(31.2 + d / 2, 121.399), t.node(31.2 + d / 2, 121.401 + d)
    t.way([west, west_door], highway="footway")
    t.way([east_door, east], highway="footway")
    network = read_osm(t.write(tmp_path / "square.osm"), CATS)
    graph, order = _graph(network)
    got = _from_node(graph, order, west, 2000.0)[east]
    want = sum(
        haversine_m(*network.nodes[a], *network.nodes[b])
        for a, b in ((west, west_door), (west_door, east_door), (east_door, east))
    )
    assert got == pytest.approx(want, abs=0.0101)
    x, y = mercator(31.2 + d / 2, 121.4 + d / 2)
    # The middle of the square is on the network (on the crossing), not 55 m from it.
    snap = graph.snap(float(x), float(y), float(scale(31.2)), 250.0)
    assert snap is not None and snap.offset_m < 1.0
