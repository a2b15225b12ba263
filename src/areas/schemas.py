from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import Field

from src.areas.boundary import boundary_in
from src.core.geo import CoordSys, Location
from src.core.schemas import RequestModel, ResponseModel
from src.models.area import Area, AreaLevel


class AreaOut(ResponseModel):
    id: uuid.UUID
    code: str
    name: str
    level: AreaLevel
    parent_id: uuid.UUID | None
    # A street's head for its reference numbers (CY → CY-2026-000123); None: its code.
    reference_prefix: str | None
    centroid: Location
    retired: bool

    @classmethod
    def build(cls, area: Area, coord_sys: CoordSys) -> AreaOut:
        return cls(
            id=area.id,
            code=area.code,
            name=area.name,
            level=area.level,
            parent_id=area.parent_id,
            reference_prefix=area.reference_prefix,
            centroid=Location.from_wgs84(area.centroid_lat, area.centroid_lng, coord_sys),
            retired=area.retired,
        )


# --- administration -------------------------------------------------------------

AREA_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
# A street's reference prefix (src/proposals/references.py): 2–6 of A–Z and 0–9.
REFERENCE_PREFIX_PATTERN = r"^[A-Z0-9]{2,6}$"


class AreaIn(RequestModel):
    """A new district, street or community. ``boundary`` is a GeoJSON Polygon or
    MultiPolygon in ``boundary_coord_sys`` (positions ``[lng, lat]``)."""

    code: str = Field(pattern=AREA_CODE_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    level: AreaLevel
    parent_id: uuid.UUID | None = None
    reference_prefix: str | None = Field(default=None, pattern=REFERENCE_PREFIX_PATTERN)
    centroid: Location
    boundary: dict[str, Any] | None = None
    boundary_coord_sys: CoordSys = CoordSys.gcj02


class AreaPatch(RequestModel):
    """Fields to change; ``retired: true`` retires the area, ``false`` brings it back.
    ``boundary: null`` removes the boundary, ``reference_prefix: null`` the prefix."""

    code: str | None = Field(default=None, pattern=AREA_CODE_PATTERN)
    reference_prefix: str | None = Field(default=None, pattern=REFERENCE_PREFIX_PATTERN)
    name: str | None = Field(default=None, min_length=1, max_length=100)
    centroid: Location | None = None
    boundary: dict[str, Any] | None = None
    boundary_coord_sys: CoordSys = CoordSys.gcj02
    retired: bool | None = None


class AreaDetailOut(AreaOut):
    boundary: dict[str, Any] | None
    retired_at: dt.datetime | None

    @classmethod
    def build(cls, area: Area, coord_sys: CoordSys) -> AreaDetailOut:
        base = AreaOut.build(area, coord_sys)
        return cls(
            **base.model_dump(),
            boundary=boundary_in(area.boundary, coord_sys),
            retired_at=area.retired_at,
        )
