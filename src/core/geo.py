"""Coordinates: WGS-84 ⇄ GCJ-02 ⇄ BD-09, and the ``Location`` every API body uses.

Positions are stored in WGS-84 (what OpenStreetMap and GPS use) and converted at the edge.
GCJ-02 is the public "eviltransform" algorithm. It applies inside mainland China only: the
land border of ``data/gcj02_area.json`` (a simplified outline; Hong Kong, Macau and Taiwan
are outside — their maps are published in WGS-84 — see the file's ``about``). Elsewhere, in
Seoul or Hanoi, every system is WGS-84. BD-09 is Baidu's rotation on top of GCJ-02. Both
inverses are solved iteratively to well under a centimetre.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0
_EARTH_RADIUS_M = 6_371_008.8


class CoordSys(StrEnum):
    gcj02 = "gcj02"
    wgs84 = "wgs84"
    bd09 = "bd09"


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    coord_sys: CoordSys = CoordSys.gcj02

    def to_wgs84(self) -> tuple[float, float]:
        return convert(self.lat, self.lng, self.coord_sys, CoordSys.wgs84)

    @classmethod
    def from_wgs84(cls, lat: float, lng: float, coord_sys: CoordSys) -> Location:
        out_lat, out_lng = convert(lat, lng, CoordSys.wgs84, coord_sys)
        return cls(lat=round(out_lat, 7), lng=round(out_lng, 7), coord_sys=coord_sys)


def _load_area() -> list[list[tuple[float, float]]]:
    doc = json.loads((Path(__file__).parent / "data" / "gcj02_area.json").read_text())
    return [[(float(x), float(y)) for x, y in ring] for ring in doc["rings"]]


GCJ02_AREA = _load_area()  # rings of (lng, lat)
_BOXES = [
    (min(x for x, _ in r), max(x for x, _ in r), min(y for _, y in r), max(y for _, y in r))
    for r in GCJ02_AREA
]


def _in_ring(ring: list[tuple[float, float]], lat: float, lng: float) -> bool:
    inside = False
    ax, ay = ring[-1]
    for bx, by in ring:
        if (ay > lat) != (by > lat) and lng < ax + (lat - ay) * (bx - ax) / (by - ay):
            inside = not inside
        ax, ay = bx, by
    return inside


def _in_area(lat: float, lng: float) -> bool:
    return any(
        x0 <= lng <= x1 and y0 <= lat <= y1 and _in_ring(ring, lat, lng)
        for ring, (x0, x1, y0, y1) in zip(GCJ02_AREA, _BOXES, strict=True)
    )


_CELL = 0.25  # degrees


def _crosses(ax: float, ay: float, bx: float, by: float, x0: float, y0: float) -> bool:
    """Whether the segment (ax, ay)–(bx, by) meets the cell [x0, x0 + _CELL] × [y0, y0 + _CELL]."""
    x1, y1 = x0 + _CELL, y0 + _CELL
    if max(ax, bx) < x0 or min(ax, bx) > x1 or max(ay, by) < y0 or min(ay, by) > y1:
        return False
    sides = {
        (bx - ax) * (cy - ay) - (by - ay) * (cx - ax) > 0
        for cx, cy in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))
    }
    return len(sides) == 2  # corners on both sides of the segment's line


@functools.cache
def _cell(ix: int, iy: int) -> bool | None:
    """A cell of the grid wholly inside (True) or wholly outside (False) the area, or None
    when a border runs through it. Worked out on first use: a city's points fall in a few
    cells, and each then costs a dict look-up instead of a walk round the border."""
    x0, y0 = ix * _CELL, iy * _CELL
    for ring in GCJ02_AREA:
        ax, ay = ring[-1]
        for bx, by in ring:
            if _crosses(ax, ay, bx, by, x0, y0):
                return None
            ax, ay = bx, by
    return _in_area(y0 + _CELL / 2, x0 + _CELL / 2)


def out_of_china(lat: float, lng: float) -> bool:
    """True outside the GCJ-02 area (mainland China's land border, simplified)."""
    whole = _cell(math.floor(lng / _CELL), math.floor(lat / _CELL))
    if whole is not None:
        return not whole
    return not _in_area(lat, lng)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _gcj_delta(lat: float, lng: float) -> tuple[float, float]:
    d_lat = _transform_lat(lng - 105.0, lat - 35.0)
    d_lng = _transform_lng(lng - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lng = (d_lng * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return d_lat, d_lng


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    if out_of_china(lat, lng):
        return lat, lng
    d_lat, d_lng = _gcj_delta(lat, lng)
    return lat + d_lat, lng + d_lng


_TOLERANCE_DEG = 1e-11  # ~1 µm: the inverses stop when the forward map hits the input


def _solve(
    forward: Callable[[float, float], tuple[float, float]],
    lat: float,
    lng: float,
    start: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """The point that ``forward`` maps to (lat, lng), by fixed-point iteration.

    Both forward maps are the identity plus a shift that changes by ~1e-5 of a step, so each
    iteration cuts the error by that much: two or three iterations reach a micrometre.
    """
    x_lat, x_lng = start or (lat, lng)
    for _ in range(20):
        f_lat, f_lng = forward(x_lat, x_lng)
        e_lat, e_lng = f_lat - lat, f_lng - lng
        if abs(e_lat) < _TOLERANCE_DEG and abs(e_lng) < _TOLERANCE_DEG:
            break
        x_lat, x_lng = x_lat - e_lat, x_lng - e_lng
    return x_lat, x_lng


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    """Invert :func:`wgs84_to_gcj02` exactly (the WGS-84 point whose GCJ-02 is the input).

    Near the border the shifted point may lie on the other side of it: the answer is the one
    whose forward conversion gives the input back, inside or outside.
    """
    if out_of_china(lat, lng):
        d_lat, d_lng = _gcj_delta(lat, lng)
        if out_of_china(lat - d_lat, lng - d_lng):
            return lat, lng
    return _solve(wgs84_to_gcj02, lat, lng)


def gcj02_to_bd09(lat: float, lng: float) -> tuple[float, float]:
    z = math.sqrt(lng * lng + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def bd09_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """Invert :func:`gcj02_to_bd09` exactly: the published one-step formula (off by up to
    ~0.3 m) as the start, then iterated until the forward map gives the input back."""
    x, y = lng - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return _solve(gcj02_to_bd09, lat, lng, (z * math.sin(theta), z * math.cos(theta)))


def convert(lat: float, lng: float, src: CoordSys, dst: CoordSys) -> tuple[float, float]:
    if src == dst:
        return lat, lng
    # Go through GCJ-02, the hub of the three systems.
    if src == CoordSys.wgs84:
        lat, lng = wgs84_to_gcj02(lat, lng)
    elif src == CoordSys.bd09:
        lat, lng = bd09_to_gcj02(lat, lng)
    if dst == CoordSys.wgs84:
        return gcj02_to_wgs84(lat, lng)
    if dst == CoordSys.bd09:
        return gcj02_to_bd09(lat, lng)
    return lat, lng


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    d_p = p2 - p1
    d_l = math.radians(lng2 - lng1)
    h = math.sin(d_p / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(d_l / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(math.sqrt(h))
