"""Coverage of a community: which share of it reaches each category within its tier.

A grid of points (every ``cell_m``) over the community's boundary — or, without one, over a
disc of ``radius_m`` around its centroid. For each category one multi-source Dijkstra runs
from all its facilities at once (a virtual source joined to both ends of each facility's
segment), bounded by the tier's walk; each grid point then reads its walk from the ends of its
own segment. Points or facilities off the network fall back to straight line × detour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from src.facilities_nearby.graph import F64, Graph, Subgraph, mercator, scale

MAX_POINTS = 20_000


@dataclass(frozen=True)
class CategoryResult:
    index: int
    facilities: int
    covered: np.ndarray  # bool per grid point


@dataclass(frozen=True)
class Coverage:
    lat: F64  # grid points, WGS-84
    lng: F64
    basis: str  # "boundary" | "radius"
    method: str  # "network" | "estimate" (no grid point on the network)
    categories: list[CategoryResult]


def _rings(boundary: dict[str, Any] | None) -> list[list[list[tuple[float, float]]]]:
    """Polygons (outer ring, holes) as (lng, lat) from GeoJSON Polygon/MultiPolygon/Feature."""
    if not isinstance(boundary, dict):
        return []
    if boundary.get("type") == "Feature":
        return _rings(boundary.get("geometry"))
    coords = boundary.get("coordinates")
    polys: list[Any]
    try:
        if boundary.get("type") == "Polygon":
            polys = [coords]
        elif boundary.get("type") == "MultiPolygon":
            polys = list(coords or [])
        else:
            return []
        return [
            [[(float(p[0]), float(p[1])) for p in ring] for ring in poly or [] if len(ring) >= 3]
            for poly in polys
        ]
    except (TypeError, ValueError, IndexError):
        return []


def _inside(lng: F64, lat: F64, ring: list[tuple[float, float]]) -> np.ndarray:
    """Even-odd ray casting, vectorised over points."""
    inside = np.zeros(len(lng), dtype=bool)
    xs = np.asarray([p[0] for p in ring])
    ys = np.asarray([p[1] for p in ring])
    for i in range(len(ring)):
        x1, y1, x2, y2 = xs[i - 1], ys[i - 1], xs[i], ys[i]
        crosses = (y1 > lat) != (y2 > lat)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (lng < at)
    return inside


def grid_points(
    boundary: dict[str, Any] | None,
    centroid: tuple[float, float],
    cell_m: float,
    radius_m: float,
) -> tuple[F64, F64, str]:
    """Grid points (lat, lng, basis) over the boundary, or a disc around the centroid."""
    polys = _rings(boundary)
    c_lat, c_lng = centroid
    if polys:
        all_lng = [p[0] for poly in polys for p in poly[0]]
        all_lat = [p[1] for poly in polys for p in poly[0]]
        lat0, lat1, lng0, lng1 = min(all_lat), max(all_lat), min(all_lng), max(all_lng)
        c_lat = (lat0 + lat1) / 2
    else:
        d_lat = radius_m / 111_195.0
        d_lng = d_lat / math.cos(math.radians(c_lat))
        lat0, lat1, lng0, lng1 = c_lat - d_lat, c_lat + d_lat, c_lng - d_lng, c_lng + d_lng
    step_lat = cell_m / 111_195.0
    step_lng = step_lat / math.cos(math.radians(c_lat))
    n_lat = int((lat1 - lat0) / step_lat) + 1
    n_lng = int((lng1 - lng0) / step_lng) + 1
    if n_lat * n_lng > MAX_POINTS * 4:  # an absurd boundary: coarser grid
        factor = math.sqrt(n_lat * n_lng / (MAX_POINTS * 4))
        step_lat, step_lng = step_lat * factor, step_lng * factor
        n_lat, n_lng = int((lat1 - lat0) / step_lat) + 1, int((lng1 - lng0) / step_lng) + 1
    # Cell centres, so a boundary smaller than a cell still gets its middle point.
    g_lat = lat0 + (np.arange(n_lat) + 0.5) * step_lat
    g_lng = lng0 + (np.arange(n_lng) + 0.5) * step_lng
    lat, lng = (a.ravel() for a in np.meshgrid(g_lat, g_lng, indexing="ij"))
    if polys:
        keep = np.zeros(len(lat), dtype=bool)
        for poly in polys:
            inner = _inside(lng, lat, poly[0])
            for hole in poly[1:]:
                inner &= ~_inside(lng, lat, hole)
            keep |= inner
        if not keep.any():
            keep[np.argmin((lat - c_lat) ** 2 + (lng - (lng0 + lng1) / 2) ** 2)] = True
        basis = "boundary"
    else:
        keep = (lat - c_lat) ** 2 + ((lng - c_lng) * math.cos(math.radians(c_lat))) ** 2 <= (
            radius_m / 111_195.0
        ) ** 2
        basis = "radius"
    return lat[keep][:MAX_POINTS], lng[keep][:MAX_POINTS], basis


def coverage(
    graph: Graph,
    lat: F64,
    lng: F64,
    basis: str,
    limits_m: F64,
    *,
    detour: float,
    snap_max_m: float,
) -> Coverage:
    """Per category (``limits_m[c]`` metres of walk; 0 skips it), which grid points reach one."""
    n = len(lat)
    px, py = mercator(lat, lng)
    k = float(scale(float(np.mean(lat)))) if n else 1.0
    snaps = [graph.snap(float(px[i]), float(py[i]), k, snap_max_m) for i in range(n)]
    on = np.asarray([s is not None for s in snaps], dtype=bool)
    p_edge = np.asarray([s.edge if s else -1 for s in snaps], dtype=np.int64)
    p_t = np.asarray([s.t if s else 0.0 for s in snaps])
    p_off = np.asarray([s.offset_m if s else 0.0 for s in snaps])
    max_m = float(limits_m.max()) if len(limits_m) else 0.0
    x0, x1 = float(px.min()) if n else 0.0, float(px.max()) if n else 0.0
    y0, y1 = float(py.min()) if n else 0.0, float(py.max()) if n else 0.0
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2 + max_m / k

    nodes = graph.node_index.around(cx, cy, half)
    sub = Subgraph.induced(graph, nodes)
    facs = graph.fac_index.around(cx, cy, half)
    results = []
    for c, limit in enumerate(limits_m):
        if limit <= 0:
            continue
        mine = facs[graph.fac_cat[facs] == c]
        dist = np.full(n, np.inf)
        if n and len(mine):
            f_edge = graph.fac_edge[mine].astype(np.int64)
            snapped = mine[f_edge >= 0]
            off_net = mine[f_edge < 0]
            if on.any() and len(snapped):
                e = graph.fac_edge[snapped].astype(np.int64)
                t, off = graph.fac_t[snapped], graph.fac_off[snapped]
                length = graph.edge_len[e]
                seeds = np.concatenate((graph.edge_u[e], graph.edge_v[e])).astype(np.int64)
                start = np.concatenate((off + t * length, off + (1 - t) * length))
                walked = sub.walk(seeds, start, float(limit))
                dist = _point_walks(graph, sub, walked, on, p_edge, p_t, p_off)
                dist = _same_edge(dist, on, p_edge, p_t, p_off, e, t, off, length)
            # Points off the network, and facilities off it: straight line × detour.
            for group, which in ((mine, ~on), (off_net, on)):
                if len(group) and which.any():
                    straight = _nearest_straight(graph, group, px[which], py[which], k)
                    dist[which] = np.minimum(dist[which], straight * detour)
        results.append(CategoryResult(c, len(mine), dist <= limit))
    method = "network" if on.any() else "estimate"
    return Coverage(np.asarray(lat), np.asarray(lng), basis, method, results)


def _point_walks(
    graph: Graph,
    sub: Subgraph,
    walked: F64,
    on: np.ndarray,
    p_edge: np.ndarray,
    p_t: F64,
    p_off: F64,
) -> F64:
    dist = np.full(len(on), np.inf)
    e = p_edge[on]
    length = graph.edge_len[e]
    du = sub.local(graph.edge_u[e].astype(np.int64))
    dv = sub.local(graph.edge_v[e].astype(np.int64))
    walk_u = np.where(du >= 0, walked[np.maximum(du, 0)], np.inf) if len(walked) else np.inf
    walk_v = np.where(dv >= 0, walked[np.maximum(dv, 0)], np.inf) if len(walked) else np.inf
    t = p_t[on]
    dist[on] = np.minimum(walk_u + t * length, walk_v + (1 - t) * length) + p_off[on]
    return dist


def _same_edge(
    dist: F64,
    on: np.ndarray,
    p_edge: np.ndarray,
    p_t: F64,
    p_off: F64,
    f_edge: np.ndarray,
    f_t: F64,
    f_off: F64,
    f_len: F64,
) -> F64:
    """A point and a facility on one segment may walk straight along it."""
    for i in np.flatnonzero(on):
        same = f_edge == p_edge[i]
        if same.any():
            direct = p_off[i] + np.abs(f_t[same] - p_t[i]) * f_len[same] + f_off[same]
            dist[i] = min(dist[i], float(direct.min()))
    return dist


def _nearest_straight(graph: Graph, facs: np.ndarray, x: F64, y: F64, k: float) -> F64:
    fx, fy = graph.fac_x[facs], graph.fac_y[facs]
    d = np.hypot(x[:, None] - fx[None, :], y[:, None] - fy[None, :])
    return np.asarray(d.min(axis=1) * k)
