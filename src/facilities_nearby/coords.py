"""Vectorised WGS-84 → GCJ-02 → BD-09 (the formulas and the GCJ-02 area of
:mod:`src.core.geo`, on numpy arrays).

Facility coordinates are converted for a whole graph at build time and for a reply's items at
once, instead of item by item in Python.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from src.core.geo import GCJ02_AREA

_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0


def _transform_lat(x: Any, y: Any) -> Any:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: Any, y: Any) -> Any:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def in_gcj02_area(lat: Any, lng: Any) -> np.ndarray:
    """For many points: inside the area where GCJ-02 applies (any ring, even-odd per ring)."""
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    lng = np.atleast_1d(np.asarray(lng, dtype=np.float64))
    found = np.zeros(lat.shape, dtype=bool)
    for ring in GCJ02_AREA:
        x = np.asarray([p[0] for p in ring])
        y = np.asarray([p[1] for p in ring])
        box = (lng >= x.min()) & (lng <= x.max()) & (lat >= y.min()) & (lat <= y.max())
        inside = np.zeros(int(box.sum()), dtype=bool)
        py, px = lat[box], lng[box]
        for ax, ay, bx, by in zip(np.roll(x, 1), np.roll(y, 1), x, y, strict=True):
            if ay == by:
                continue
            spans = (ay > py) != (by > py)
            inside ^= spans & (px < ax + (py - ay) * (bx - ax) / (by - ay))
        found[box] |= inside
    return found


def wgs84_to_gcj02(lat: Any, lng: Any) -> tuple[np.ndarray, np.ndarray]:
    lat = np.asarray(lat, dtype=np.float64)
    lng = np.asarray(lng, dtype=np.float64)
    outside = ~in_gcj02_area(lat, lng)
    d_lat = _transform_lat(lng - 105.0, lat - 35.0)
    d_lng = _transform_lng(lng - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lng = (d_lng * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return np.where(outside, lat, lat + d_lat), np.where(outside, lng, lng + d_lng)


def gcj02_to_bd09(lat: Any, lng: Any) -> tuple[np.ndarray, np.ndarray]:
    lat = np.asarray(lat, dtype=np.float64)
    lng = np.asarray(lng, dtype=np.float64)
    z = np.sqrt(lng * lng + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lng) + 0.000003 * np.cos(lng * _X_PI)
    return z * np.sin(theta) + 0.006, z * np.cos(theta) + 0.0065
