"""Area boundaries: a GeoJSON Polygon or MultiPolygon, checked and stored in WGS-84.

A ring is a list of ``[lng, lat]`` positions (GeoJSON order), at least four, closed (the
last position repeats the first). Positions arrive in the caller's ``coord_sys`` and are
converted one by one, so a boundary drawn on a GCJ-02 map lines up with the stored centroid.
"""

from __future__ import annotations

import math
from typing import Any

from src.core.errors import validation_failed
from src.core.geo import CoordSys, convert

MAX_POSITIONS = 20_000


class _Invalid(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


def _position(value: Any, where: str, coord_sys: CoordSys) -> list[float]:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise _Invalid(where, "a position is [lng, lat]")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise _Invalid(where, "coordinates must be numbers")
    lng, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lng) and math.isfinite(lat)):
        raise _Invalid(where, "coordinates must be finite")
    if not (-180 <= lng <= 180 and -90 <= lat <= 90):
        raise _Invalid(where, "lng must be within ±180 and lat within ±90")
    w_lat, w_lng = convert(lat, lng, coord_sys, CoordSys.wgs84)
    return [round(w_lng, 7), round(w_lat, 7)]


def _polygon(value: Any, where: str, coord_sys: CoordSys, budget: list[int]) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise _Invalid(where, "a polygon is a non-empty list of rings")
    rings = []
    for r, ring in enumerate(value):
        here = f"{where}[{r}]"
        if not isinstance(ring, list) or len(ring) < 4:
            raise _Invalid(here, "a ring needs at least 4 positions")
        budget[0] += len(ring)
        if budget[0] > MAX_POSITIONS:
            raise _Invalid(here, f"at most {MAX_POSITIONS} positions in a boundary")
        if ring[0] != ring[-1]:
            raise _Invalid(here, "a ring must be closed (last position = first)")
        rings.append([_position(p, f"{here}[{i}]", coord_sys) for i, p in enumerate(ring)])
        # Converting can move the closing position by rounding: keep the ring closed exactly.
        rings[-1][-1] = list(rings[-1][0])
    return rings


def normalise_boundary(value: Any, coord_sys: CoordSys) -> dict[str, Any]:
    """The boundary as WGS-84 GeoJSON, or a 422 naming the first bad part."""
    try:
        if not isinstance(value, dict):
            raise _Invalid("boundary", "a GeoJSON geometry object")
        kind = value.get("type")
        extra = set(value) - {"type", "coordinates"}
        if extra:
            raise _Invalid("boundary", f"unexpected members: {', '.join(sorted(extra))}")
        coords = value.get("coordinates")
        budget = [0]
        if kind == "Polygon":
            return {
                "type": "Polygon",
                "coordinates": _polygon(coords, "boundary.coordinates", coord_sys, budget),
            }
        if kind == "MultiPolygon":
            if not isinstance(coords, list) or not coords:
                raise _Invalid("boundary.coordinates", "a non-empty list of polygons")
            return {
                "type": "MultiPolygon",
                "coordinates": [
                    _polygon(p, f"boundary.coordinates[{i}]", coord_sys, budget)
                    for i, p in enumerate(coords)
                ],
            }
        raise _Invalid("boundary.type", "must be Polygon or MultiPolygon")
    except _Invalid as exc:
        raise validation_failed([{"field": exc.where, "message": exc.message}]) from exc


def boundary_in(boundary: dict[str, Any] | None, coord_sys: CoordSys) -> dict[str, Any] | None:
    """A stored (WGS-84) boundary in the caller's ``coord_sys``."""
    if boundary is None or coord_sys == CoordSys.wgs84:
        return boundary

    def ring(points: list[list[float]]) -> list[list[float]]:
        out = []
        for lng, lat, *_ in points:
            c_lat, c_lng = convert(lat, lng, CoordSys.wgs84, coord_sys)
            out.append([round(c_lng, 7), round(c_lat, 7)])
        out[-1] = list(out[0])
        return out

    if boundary["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": [ring(r) for r in boundary["coordinates"]]}
    return {
        "type": "MultiPolygon",
        "coordinates": [[ring(r) for r in poly] for poly in boundary["coordinates"]],
    }
