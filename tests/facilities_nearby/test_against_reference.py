"""Whole answers (snap, walk, facilities) against the independent reference: networkx on an
independent reading of the OSM file, brute-force snapping onto its main network."""

from __future__ import annotations

import math
import uuid
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from src.facilities_nearby.graph import FacilityRows, build_graph
from src.facilities_nearby.osm import read_osm
from src.facilities_nearby.query import nearby
from tests.facilities_nearby.extracts import OSM_FILE
from tests.facilities_nearby.reference import reference_network
from tests.facilities_nearby.synthetic import town

LIMIT_M = 1080.0  # 15 minutes at 1.2 m/s
CATS = {"a": ["amenity=cafe", "amenity=library", "shop=supermarket", "highway=bus_stop",
              "amenity=school", "amenity=kindergarten", "leisure=playground"]}  # fmt: skip


class Reference:
    def __init__(self, path: Path, facilities: list[tuple[str, float, float]]) -> None:
        g = reference_network(path)
        main = g.subgraph(max(nx.connected_components(g), key=len)).copy()
        self.pos = {n: (d["lat"], d["lng"]) for n, d in g.nodes(data=True)}
        self.edges = list(main.edges(data="weight"))
        lat0 = float(np.mean([p[0] for p in self.pos.values()]))
        self.k = math.cos(math.radians(lat0))
        self.u = np.array([self._xy(*self.pos[u]) for u, _, _ in self.edges])
        self.v = np.array([self._xy(*self.pos[v]) for _, v, _ in self.edges])
        self.g = main
        self.fac = {ext: self.snap(lat, lng) for ext, lat, lng in facilities}
        for ext, (i, t, off) in self.fac.items():
            u, v, w = self.edges[i]
            main.add_edge(("f", ext), u, weight=off + t * w)
            main.add_edge(("f", ext), v, weight=off + (1 - t) * w)

    def _xy(self, lat: float, lng: float) -> np.ndarray:
        return np.array([lng * 111_195.0 * self.k, lat * 111_195.0])

    def snap(self, lat: float, lng: float) -> tuple[int, float, float]:
        p = self._xy(lat, lng)
        d = self.v - self.u
        den = (d * d).sum(axis=1)
        t = np.clip(((p - self.u) * d).sum(axis=1) / np.where(den > 0, den, 1.0), 0, 1)
        dist = np.hypot(*(self.u + t[:, None] * d - p).T)
        i = int(np.argmin(dist))
        return i, float(t[i]), float(dist[i])

    def walks(self, lat: float, lng: float) -> tuple[float, dict[str, float]]:
        i, t, off = self.snap(lat, lng)
        u, v, w = self.edges[i]
        self.g.add_edge("o", u, weight=off + t * w)
        self.g.add_edge("o", v, weight=off + (1 - t) * w)
        for ext, (fi, ft, foff) in self.fac.items():
            if fi == i:
                self.g.add_edge("o", ("f", ext), weight=off + abs(ft - t) * w + foff)
        try:
            got = nx.single_source_dijkstra_path_length(self.g, "o", cutoff=LIMIT_M + 1)
        finally:
            self.g.remove_node("o")
        return off, {n[1]: d for n, d in got.items() if isinstance(n, tuple)}


@pytest.mark.parametrize("which", ["real extract", "town 30 × 30"])
def test_answers_equal_the_reference(which: str, tmp_path: Path) -> None:
    path = OSM_FILE if which == "real extract" else town(30, 9).write(tmp_path / "t.osm")
    network = read_osm(path, CATS)
    fac = network.facilities
    assert len(fac) > 30
    ids = np.array(list(network.nodes), dtype=np.int64)
    graph = build_graph(
        "t",
        ids,
        np.array([network.nodes[i][0] for i in ids]),
        np.array([network.nodes[i][1] for i in ids]),
        np.array([e[0] for e in network.edges], dtype=np.int64),
        np.array([e[1] for e in network.edges], dtype=np.int64),
        np.array([e[2] for e in network.edges]),
        FacilityRows(
            [uuid.uuid4() for _ in fac],
            ["a"] * len(fac),
            np.array([f[3] for f in fac]),
            np.array([f[4] for f in fac]),
            [f[1] for f in fac],
            [None] * len(fac),
        ),
        ["a"],
        250.0,
    )
    ref = Reference(path, [(f[0], f[3], f[4]) for f in fac])
    lat = np.array([p[0] for p in network.nodes.values()])
    lng = np.array([p[1] for p in network.nodes.values()])
    rng = np.random.default_rng(4)
    near = compared = 0
    for _ in range(60):
        o_lat = float(rng.uniform(lat.min(), lat.max()))
        o_lng = float(rng.uniform(lng.min(), lng.max()))
        off, want = ref.walks(o_lat, o_lng)
        if off > 20:
            continue
        near += 1
        answer = nearby(
            graph, o_lat, o_lng, np.array([LIMIT_M]), detour=1.3, snap_max_m=250, limit=10**6
        )
        assert answer.method == "network" and answer.snap_m is not None
        assert abs(answer.snap_m - off) < 0.05  # two projections of the same metres
        got = {fac[f.index][0]: f.distance_m for f in answer.items if not f.estimated}
        # The projections differ by centimetres: a facility at the very limit may flip.
        assert {e for e, d in want.items() if d < LIMIT_M - 0.2} <= set(got)
        assert set(got) <= set(want)
        for ext, d in got.items():
            assert abs(d - want[ext]) < 0.1, (ext, d, want[ext])
        compared += len(got)
    assert near > 15 and compared > 200
