"""Walking across a pedestrian area (a square, a plaza, a platform): its visibility edges.

A walker crosses an open area in straight lines, bending only at the corners that stick into
it (reflex vertices): the shortest walk between two points of the outline inside a simple
polygon is a chain of straight pieces between such corners. So the area gets an edge between
every two outline nodes that see each other (the segment between them stays inside the
outline); on a large outline only between its *doors* (outline nodes another way meets) and
reflex corners. Along with the outline itself, the graph then holds the exact shortest
crossing between any two doors.
"""

from __future__ import annotations

import math

import numpy as np

from src.core.geo import haversine_m

ALL_PAIRS_UP_TO = 64  # outlines up to this many nodes: every visible pair, not only doors
MAX_POINTS = 400  # doors + reflex corners considered per area (a huge area keeps its doors)
EPS = 1e-6  # metres: collinear within this counts as touching


def _local_xy(lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metres east/north of the first point (equirectangular: exact enough over a square)."""
    k = math.cos(math.radians(float(lat.mean())))
    return (lng - lng[0]) * 111_195.0 * k, (lat - lat[0]) * 111_195.0


def _inside(px: np.ndarray, py: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Even-odd test of many points against the polygon (x, y) (not closed)."""
    x2, y2 = np.roll(x, -1), np.roll(y, -1)
    px, py = px[:, None], py[:, None]
    crosses = (y > py) != (y2 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = x + (py - y) * (x2 - x) / (y2 - y)
    return np.asarray(((crosses & (px < at)).sum(axis=1) % 2) == 1)


def crossings(
    ids: list[int], lat: list[float], lng: list[float], doors: list[bool]
) -> list[tuple[int, int, float]]:
    """Edges across the area with outline ``ids`` (closed: first == last), in metres.

    ``doors[i]`` tells whether another walkable way meets the outline at node ``i``.
    """
    if len(ids) < 4 or ids[0] != ids[-1]:
        return []
    ring = ids[:-1]
    n = len(ring)
    if len(set(ring)) != n:  # self-touching outline: not a simple polygon
        return []
    y_lat, x_lng = np.asarray(lat[:-1]), np.asarray(lng[:-1])
    x, y = _local_xy(y_lat, x_lng)
    area2 = float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
    if abs(area2) < EPS:
        return []
    # Reflex corners turn against the outline's orientation.
    ax, ay = x - np.roll(x, 1), y - np.roll(y, 1)
    bx, by = np.roll(x, -1) - x, np.roll(y, -1) - y
    turn = (ax * by - ay * bx) * math.copysign(1.0, area2)
    if n <= ALL_PAIRS_UP_TO:  # every outline node to every one it sees
        points = np.arange(n)
    else:
        points = np.flatnonzero(np.asarray(doors[:-1], dtype=bool) | (turn < -EPS))
    if len(points) > MAX_POINTS:
        points = np.flatnonzero(np.asarray(doors[:-1], dtype=bool))[:MAX_POINTS]
    if len(points) < 2:
        return []
    i, j = np.triu_indices(len(points), k=1)
    i, j = points[i], points[j]
    adjacent = (j - i == 1) | ((i == 0) & (j == n - 1))  # outline edges exist already
    i, j = i[~adjacent], j[~adjacent]
    if len(i) == 0:
        return []
    visible = np.ones(len(i), dtype=bool)
    k = np.arange(n)
    k2 = (k + 1) % n
    ex, ey, fx, fy = x[k], y[k], x[k2], y[k2]
    step = max(1, 2_000_000 // n)
    for lo in range(0, len(i), step):
        pi, pj = i[lo : lo + step, None], j[lo : lo + step, None]
        px, py, qx, qy = x[pi], y[pi], x[pj], y[pj]
        dx, dy = qx - px, qy - py
        o1 = (fx - ex) * (py - ey) - (fy - ey) * (px - ex)
        o2 = (fx - ex) * (qy - ey) - (fy - ey) * (qx - ex)
        o3 = dx * (ey - py) - dy * (ex - px)
        o4 = dx * (fy - py) - dy * (fx - px)
        touches_end = (k == pi) | (k == pj) | (k2 == pi) | (k2 == pj)
        cross = (o1 * o2 < 0) & (o3 * o4 < 0) & ~touches_end
        # A corner lying on the segment blocks it too (the walk bends there instead).
        length = np.hypot(dx, dy)
        along = ((ex - px) * dx + (ey - py) * dy) / np.maximum(length, EPS) ** 2
        on = (np.abs(o3) <= EPS * np.maximum(length, 1.0)) & (along > 0) & (along < 1)
        on &= (k != pi) & (k != pj)
        visible[lo : lo + step] = ~(cross | on).any(axis=1)
    mx, my = (x[i] + x[j]) / 2, (y[i] + y[j]) / 2
    visible &= _inside(mx, my, x, y)
    return [
        (ring[a], ring[b], haversine_m(y_lat[a], x_lng[a], y_lat[b], x_lng[b]))
        for a, b in zip(i[visible].tolist(), j[visible].tolist(), strict=True)
    ]
