"""Reference walking distances with networkx on the same graph, and brute-force snapping."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np

from src.facilities_nearby.graph import Graph, Snap, mercator, scale


def brute_snap(graph: Graph, lat: float, lng: float, max_m: float) -> Snap | None:
    """The nearest point on any edge, by checking every edge."""
    x, y = (float(v) for v in mercator(lat, lng))
    k = float(scale(lat))
    ux, uy = graph.node_x[graph.edge_u], graph.node_y[graph.edge_u]
    dx, dy = graph.node_x[graph.edge_v] - ux, graph.node_y[graph.edge_v] - uy
    denom = dx * dx + dy * dy
    t = np.clip(((x - ux) * dx + (y - uy) * dy) / np.where(denom > 0, denom, 1.0), 0, 1)
    d = np.hypot(ux + t * dx - x, uy + t * dy - y)
    if len(d) == 0:
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
