"""Walking-time queries on a loaded :class:`Graph`: pure computation, no I/O, no database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from src.facilities_nearby.graph import F64, I64, Graph, Snap, mercator, scale


@dataclass(frozen=True)
class Found:
    index: int  # position in the graph's facility arrays
    distance_m: float
    estimated: bool  # straight line × detour, not along streets


@dataclass(frozen=True)
class NearbyAnswer:
    method: Literal["network", "estimate", "straight_line"]
    items: list[Found]
    snap_m: float | None = None  # straight metres from the position to the network joined


def _lookup(sub: I64, dist: F64, nodes: I64) -> F64:
    """Distance of each of ``nodes`` (inf for nodes outside the searched sub-graph)."""
    if len(sub) == 0:
        return np.full(len(nodes), np.inf)
    at = np.minimum(np.searchsorted(sub, nodes), len(sub) - 1)
    return np.where(sub[at] == nodes, dist[at], np.inf)


def nearby(
    graph: Graph,
    lat: float,
    lng: float,
    limits_m: F64,
    *,
    detour: float,
    snap_max_m: float,
    limit: int,
) -> NearbyAnswer:
    """Facilities reachable from (lat, lng) (WGS-84), nearest walk first.

    ``limits_m[c]`` is the longest walk in metres for category ``c`` (0 leaves it out).
    """
    x, y = (float(v) for v in mercator(lat, lng))
    k = float(scale(lat))
    max_m = float(limits_m.max()) if len(limits_m) else 0.0
    origin = graph.snap(x, y, k, snap_max_m)
    method: Literal["network", "estimate"] = "network" if origin is not None else "estimate"
    snap_m = origin.offset_m if origin is not None else None
    if max_m <= 0 or graph.facility_count == 0:
        return NearbyAnswer(method, [], snap_m)
    cand = graph.fac_index.around(x, y, max_m / k)
    cat = graph.fac_cat[cand]
    cap = limits_m[cat]
    straight = np.hypot(graph.fac_x[cand] - x, graph.fac_y[cand] - y) * k
    keep = straight <= cap
    cand, cap, straight = cand[keep], cap[keep], straight[keep]
    if origin is None:
        dist = straight * detour
        estimated = np.ones(len(cand), dtype=bool)
    else:
        dist, estimated = _network(graph, origin, x, y, k, max_m, cand, straight, detour)
    keep = dist <= cap
    cand, dist, estimated = cand[keep], dist[keep], estimated[keep]
    order = np.lexsort((cand, dist))[:limit]
    return NearbyAnswer(
        method,
        [Found(int(cand[i]), float(dist[i]), bool(estimated[i])) for i in order],
        snap_m,
    )


def _network(
    graph: Graph,
    origin: Snap,
    x: float,
    y: float,
    k: float,
    max_m: float,
    cand: I64,
    straight: F64,
    detour: float,
) -> tuple[F64, np.ndarray]:
    sub, node_dist = graph.distances_from(origin, x, y, k, max_m)
    edge = graph.fac_edge[cand].astype(np.int64)
    on = edge >= 0
    dist = straight * detour  # facilities off the network: an estimate
    e = edge[on]
    t = graph.fac_t[cand][on]
    length = graph.edge_len[e]
    du = _lookup(sub, node_dist, graph.edge_u[e].astype(np.int64))
    dv = _lookup(sub, node_dist, graph.edge_v[e].astype(np.int64))
    walk = np.minimum(du + t * length, dv + (1.0 - t) * length) + graph.fac_off[cand][on]
    # On the origin's own segment the walk may go straight along it.
    same = e == origin.edge
    if same.any():
        direct = origin.offset_m + np.abs(t[same] - origin.t) * length[same]
        walk[same] = np.minimum(walk[same], direct + graph.fac_off[cand][on][same])
    dist[on] = walk
    return dist, ~on


def straight_line(
    graph: Graph, lat: float, lng: float, limits_m: F64, *, limit: int
) -> NearbyAnswer:
    """Facilities by crow-fly distance (the "circle on a map"), for comparison with walks."""
    x, y = (float(v) for v in mercator(lat, lng))
    k = float(scale(lat))
    max_m = float(limits_m.max()) if len(limits_m) else 0.0
    if max_m <= 0 or graph.facility_count == 0:
        return NearbyAnswer("straight_line", [])
    cand = graph.fac_index.around(x, y, max_m / k)
    dist = np.hypot(graph.fac_x[cand] - x, graph.fac_y[cand] - y) * k
    keep = dist <= limits_m[graph.fac_cat[cand]]
    cand, dist = cand[keep], dist[keep]
    order = np.lexsort((cand, dist))[:limit]
    return NearbyAnswer("straight_line", [Found(int(cand[i]), float(dist[i]), True) for i in order])
