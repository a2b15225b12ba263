"""Reference walking distances with networkx on the same graph, and brute-force snapping."""

from __future__ import annotations

import itertools
import math
from typing import Any

import networkx as nx
import numpy as np

from src.core.geo import haversine_m
from src.facilities_nearby.graph import Graph, Snap, mercator, scale


def mainland_edges(graph: Graph, island_max_m: float = 1000.0) -> np.ndarray:
    """Edges on pieces of the network that are not islands (networkx components: the largest
    piece, and every piece with at least ``island_max_m`` of street)."""
    g = nx.Graph()
    for e, (u, v) in enumerate(zip(graph.edge_u.tolist(), graph.edge_v.tolist(), strict=True)):
        g.add_edge(u, v, e=e)
    keep = np.zeros(graph.edge_count, dtype=bool)
    pieces = [g.subgraph(c) for c in nx.connected_components(g)]
    lengths = [sum(float(graph.edge_len[d["e"]]) for _, _, d in p.edges(data=True)) for p in pieces]
    for p, metres in zip(pieces, lengths, strict=True):
        if metres >= island_max_m or metres == max(lengths):
            keep[[d["e"] for _, _, d in p.edges(data=True)]] = True
    return keep


def brute_snap(
    graph: Graph, lat: float, lng: float, max_m: float, live: np.ndarray | None = None
) -> Snap | None:
    """The nearest point on any edge off the islands (``live``), by checking every edge."""
    x, y = (float(v) for v in mercator(lat, lng))
    k = float(scale(lat))
    ux, uy = graph.node_x[graph.edge_u], graph.node_y[graph.edge_u]
    dx, dy = graph.node_x[graph.edge_v] - ux, graph.node_y[graph.edge_v] - uy
    denom = dx * dx + dy * dy
    t = np.clip(((x - ux) * dx + (y - uy) * dy) / np.where(denom > 0, denom, 1.0), 0, 1)
    d = np.hypot(ux + t * dx - x, uy + t * dy - y)
    d = np.where(mainland_edges(graph) if live is None else live, d, np.inf)
    if len(d) == 0 or not np.isfinite(d).any():
        return None
    i = int(np.argmin(d))
    if d[i] * k > max_m:
        return None
    return Snap(i, float(t[i]), float(d[i]) * k)


def reference_distances(
    raw_edges: list[tuple[int, int, float]],
    graph: Graph,
    node_ids: np.ndarray,
    origin: Snap,
    cutoff: float,
) -> dict[int, float]:
    """Facility index -> walking metres (within ``cutoff``), by networkx Dijkstra.

    The network is rebuilt from the raw database edges (parallel edges: the shortest), the
    origin and every snapped facility become extra nodes on their segments.
    """
    g = nx.Graph()
    for u, v, length in raw_edges:
        if u == v:
            continue
        w = max(length, 0.01)
        if not g.has_edge(u, v) or g[u][v]["weight"] > w:
            g.add_edge(u, v, weight=w)
    order = np.sort(node_ids)

    def ends(edge: int) -> tuple[int, int, float]:
        return (
            int(order[graph.edge_u[edge]]),
            int(order[graph.edge_v[edge]]),
            float(graph.edge_len[edge]),
        )

    ou, ov, olen = ends(origin.edge)
    g.add_edge("origin", ou, weight=origin.offset_m + origin.t * olen)
    g.add_edge("origin", ov, weight=origin.offset_m + (1 - origin.t) * olen)
    for i in range(graph.facility_count):
        edge = int(graph.fac_edge[i])
        if edge < 0:
            continue
        fu, fv, flen = ends(edge)
        t, off = float(graph.fac_t[i]), float(graph.fac_off[i])
        g.add_edge(("f", i), fu, weight=off + t * flen)
        g.add_edge(("f", i), fv, weight=off + (1 - t) * flen)
        if edge == origin.edge:
            direct = origin.offset_m + abs(t - origin.t) * flen + off
            if not g.has_edge("origin", ("f", i)) or g["origin"][("f", i)]["weight"] > direct:
                g.add_edge("origin", ("f", i), weight=direct)
    lengths = nx.single_source_dijkstra_path_length(g, "origin", cutoff=cutoff, weight="weight")
    return {key[1]: d for key, d in lengths.items() if isinstance(key, tuple)}


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


# --- an independent reading of an OSM file ------------------------------------------------
# Written from the OSM wiki's access and area rules, not from src/facilities_nearby/osm.py:
# which ways a pedestrian uses, and every straight crossing of a pedestrian area between two
# outline nodes that see each other (all pairs, checked by sampling the segment).

NEVER = {"motorway", "motorway_link", "construction", "proposed", "abandoned", "raceway",
         "bus_guideway", "busway", "disused", "razed", "escape"}  # fmt: skip
ONLY_SIGNED = {"trunk", "trunk_link"}
ALLOW = {"yes", "designated", "permissive", "official", "destination", "customers",
         "discouraged", "public"}  # fmt: skip
DENY = {"no", "private", "use_sidepath", "delivery", "agricultural", "forestry", "permit",
        "military", "emergency", "restricted"}  # fmt: skip
AREA_OK = {"pedestrian", "footway", "platform", "path", "living_street", "corridor"}


def _says(value: str | None) -> str | None:
    if not value:
        return None
    parts = {p.strip() for p in value.split(";")}
    if parts & ALLOW:
        return "yes"
    if parts & DENY:
        return "no"
    return None


def ref_way(tags: dict[str, str]) -> str | None:
    highway = tags.get("highway")
    platform = "platform" in (tags.get("railway"), tags.get("public_transport"), highway)
    if highway is None and not platform:
        return None
    if highway in NEVER:
        return None
    foot = _says(tags.get("foot"))
    signed = foot == "yes"
    if (highway in ONLY_SIGNED or tags.get("motorroad") == "yes") and not signed:
        return None
    if foot is None:
        foot = _says(tags.get("access"))
    if foot == "no":
        return None
    if tags.get("area") == "yes":
        return "area" if (highway in AREA_OK or platform) else None
    if platform and tags.get("area") != "no":
        return "closed-area"
    return "line"


def _inside(px: float, py: float, poly: list[tuple[float, float]]) -> bool:
    inside = False
    for (ax, ay), (bx, by) in zip(poly, poly[1:] + poly[:1], strict=True):
        if (ay > py) != (by > py) and px < ax + (py - ay) * (bx - ax) / (by - ay):
            inside = not inside
    return inside


def _crosses(p: tuple[float, float], q: tuple[float, float], a: tuple[float, float],
             b: tuple[float, float]) -> bool:  # fmt: skip
    def orient(o: tuple[float, float], s: tuple[float, float], t: tuple[float, float]) -> float:
        return (s[0] - o[0]) * (t[1] - o[1]) - (s[1] - o[1]) * (t[0] - o[0])

    return orient(a, b, p) * orient(a, b, q) < 0 and orient(p, q, a) * orient(p, q, b) < 0


def ref_crossings(ring: list[int], pos: dict[int, tuple[float, float]]) -> list[tuple[int, int]]:
    """Every pair of outline nodes whose straight segment stays inside the outline."""
    ids = ring[:-1]
    lat0 = sum(pos[i][0] for i in ids) / len(ids)
    k = math.cos(math.radians(lat0))
    poly = [(pos[i][1] * 111_195.0 * k, pos[i][0] * 111_195.0) for i in ids]
    out = []
    n = len(ids)
    for a in range(n):
        for b in range(a + 2, n):
            if a == 0 and b == n - 1:
                continue
            p, q = poly[a], poly[b]
            edges = [(poly[e], poly[(e + 1) % n]) for e in range(n)
                     if len({e, (e + 1) % n} & {a, b}) == 0]  # fmt: skip
            if any(_crosses(p, q, s, t) for s, t in edges):
                continue
            samples = [(p[0] + (q[0] - p[0]) * f / 64, p[1] + (q[1] - p[1]) * f / 64)
                       for f in range(1, 64)]  # fmt: skip
            if all(_inside(x, y, poly) for x, y in samples):
                out.append((ids[a], ids[b]))
    return out


def reference_network(path: Any) -> nx.Graph:
    """The walking graph of an OSM file by the rules above, on OSM node ids (metres)."""
    import osmium

    ways: list[tuple[list[int], str]] = []
    pos: dict[int, tuple[float, float]] = {}

    class Reader(osmium.SimpleHandler):  # type: ignore[misc]
        def way(self, w: Any) -> None:
            kind = ref_way({t.k: t.v for t in w.tags})
            if kind is None:
                return
            refs = []
            for nd in w.nodes:
                if nd.location.valid():
                    pos[nd.ref] = (nd.location.lat, nd.location.lon)
                    refs.append(nd.ref)
            ways.append((refs, kind))

    Reader().apply_file(str(path), locations=True)
    g = nx.Graph()

    def add(u: int, v: int) -> None:
        g.add_node(u, lat=pos[u][0], lng=pos[u][1])
        g.add_node(v, lat=pos[v][0], lng=pos[v][1])
        if u != v:
            d = max(haversine_m(*pos[u], *pos[v]), 0.01)
            if not g.has_edge(u, v) or g[u][v]["weight"] > d:
                g.add_edge(u, v, weight=d)

    for refs, kind in ways:
        for u, v in itertools.pairwise(refs):
            add(u, v)
        closed = len(refs) >= 4 and refs[0] == refs[-1]
        if closed and kind in ("area", "closed-area") and len(set(refs[:-1])) == len(refs) - 1:
            for u, v in ref_crossings(refs, pos):
                add(u, v)
    return g
