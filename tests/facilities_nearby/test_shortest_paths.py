"""Walking times equal networkx's shortest paths on the same graph (random graphs, real OSM)."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from src.core.geo import haversine_m
from src.facilities_nearby.graph import FacilityRows, Graph, build_graph, load_graph, save_graph
from src.facilities_nearby.osm import read_osm
from src.facilities_nearby.query import nearby
from tests.facilities_nearby.reference import (
    brute_snap,
    close,
    mainland_edges,
    reference_distances,
)

OSM_FILE = Path(__file__).parent / "data" / "helsinki-test.osm.pbf"
CATS = ["a", "b", "c"]


def _facilities(rng: np.random.Generator, lat: np.ndarray, lng: np.ndarray, n: int) -> FacilityRows:
    f_lat = rng.uniform(lat.min() - 0.002, lat.max() + 0.002, n)
    f_lng = rng.uniform(lng.min() - 0.002, lng.max() + 0.002, n)
    return FacilityRows(
        ids=[uuid.uuid4() for _ in range(n)],
        categories=[CATS[i % 3] for i in range(n)],
        lat=f_lat,
        lng=f_lng,
        names=[f"设施{i}" for i in range(n)],
        addresses=[None if i % 2 else f"地址{i}" for i in range(n)],
    )


def _check_against_reference(
    graph: Graph,
    raw_edges: list[tuple[int, int, float]],
    node_ids: np.ndarray,
    origins: list[tuple[float, float]],
    limit_m: float,
) -> int:
    """Compare every origin's answer with networkx; the number of facilities compared."""
    compared = 0
    live = mainland_edges(graph)
    for lat, lng in origins:
        answer = nearby(
            graph, lat, lng, np.full(3, limit_m), detour=1.3, snap_max_m=250, limit=10_000
        )
        origin = brute_snap(graph, lat, lng, 250, live)
        if origin is None:
            assert answer.method == "estimate"
            continue
        assert answer.method == "network"
        got = {f.index: f for f in answer.items if not f.estimated}
        want = reference_distances(raw_edges, graph, node_ids, origin, limit_m)
        # Ties between equally near segments may pick another segment: compare distances
        # only where the snapped segment is the same one.
        mine = graph.snap(*_merc(lat, lng), 250)
        assert mine is not None and close(mine.offset_m, origin.offset_m)
        if mine.edge != origin.edge:
            continue
        assert set(got) == set(want)
        for index, distance in want.items():
            assert close(got[index].distance_m, distance), (index, got[index], distance)
            straight = haversine_m(lat, lng, graph.fac_lat[index], graph.fac_lng[index])
            assert got[index].distance_m >= straight * (1 - 1e-3)
        compared += len(want)
    return compared


def _merc(lat: float, lng: float) -> tuple[float, float, float]:
    from src.facilities_nearby.graph import mercator, scale

    x, y = mercator(lat, lng)
    return float(x), float(y), float(scale(lat))


@pytest.mark.parametrize("seed", range(8))
def test_random_graphs_match_networkx(seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    lat = 30.55 + rng.random(n) * 0.015
    lng = 114.30 + rng.random(n) * 0.015
    ids = rng.choice(10**12, n, replace=False).astype(np.int64)
    raw: list[tuple[int, int, float]] = []
    for i in range(n):
        for j in rng.choice(n, int(rng.integers(1, 4))):
            # Streets are never shorter than the straight line; some wind (× up to 1.4).
            length = haversine_m(lat[i], lng[i], lat[j], lng[j]) * rng.uniform(1.0, 1.4)
            raw.append((int(ids[i]), int(ids[j]), length))
    raw.append(raw[0])  # a parallel duplicate
    graph = build_graph(
        "t",
        ids,
        lat,
        lng,
        np.array([e[0] for e in raw]),
        np.array([e[1] for e in raw]),
        np.array([e[2] for e in raw]),
        _facilities(rng, lat, lng, 150),
        CATS,
        250.0,
    )
    # Every facility sits at its nearest street point off the islands (checked against all).
    live = mainland_edges(graph)
    for i in range(graph.facility_count):
        want = brute_snap(graph, float(graph.fac_lat[i]), float(graph.fac_lng[i]), 250, live)
        if want is None:
            assert graph.fac_edge[i] == -1
        else:
            assert graph.fac_edge[i] >= 0 and close(float(graph.fac_off[i]), want.offset_m)
    # The answers come from the saved, memory-mapped files, as in the workers.
    save_graph(graph, tmp_path / "g")
    graph = load_graph(tmp_path / "g")
    origins = [
        (float(rng.uniform(lat.min(), lat.max())), float(rng.uniform(lng.min(), lng.max())))
        for _ in range(12)
    ]
    assert _check_against_reference(graph, raw, ids, origins, float(rng.uniform(300, 1500))) > 0


def test_real_osm_extract_matches_networkx() -> None:
    cats = {"a": ["amenity=cafe"], "b": ["shop=supermarket"], "c": []}
    network = read_osm(OSM_FILE, cats)
    assert len(network.nodes) > 1000 and len(network.edges) > 1000
    ids = np.array(list(network.nodes), dtype=np.int64)
    lat = np.array([network.nodes[i][0] for i in ids])
    lng = np.array([network.nodes[i][1] for i in ids])
    rng = np.random.default_rng(7)
    graph = build_graph(
        "osm",
        ids,
        lat,
        lng,
        np.array([e[0] for e in network.edges]),
        np.array([e[1] for e in network.edges]),
        np.array([e[2] for e in network.edges]),
        _facilities(rng, lat, lng, 300),
        CATS,
        250.0,
    )
    # Origins on and near the streets of the extract.
    picks = rng.choice(len(ids), 15, replace=False)
    origins = [(float(lat[i]) + 0.0002, float(lng[i]) - 0.0001) for i in picks]
    assert _check_against_reference(graph, network.edges, ids, origins, 1080.0) > 0
