"""``lifecircle areas import FILE.csv``: districts, streets and communities in bulk.

Columns: ``code, name, level, parent_code, lat, lng`` and optionally ``coord_sys``
(gcj02 by default, wgs84, bd09), ``boundary`` (GeoJSON Polygon/MultiPolygon text, in the
row's ``coord_sys``) and ``reference_prefix`` (a street's head for its reference numbers, e.g.
CY; src/proposals/references.py). Rows are applied in file order, so a parent comes before its
children. A known code is updated (name, centroid, boundary, a non-empty prefix) or left as is;
its level and parent never change through an import.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from src.areas import repository
from src.areas.boundary import normalise_boundary
from src.areas.schemas import AREA_CODE_PATTERN, REFERENCE_PREFIX_PATTERN
from src.areas.service import add_area, area_retired, check_heads, check_parent, check_prefix
from src.core import audit
from src.core.csv_import import Outcome
from src.core.errors import unprocessable
from src.core.geo import CoordSys, convert
from src.models.area import AreaLevel

REQUIRED = ("code", "name", "level", "parent_code", "lat", "lng")
OPTIONAL = ("coord_sys", "boundary", "reference_prefix")


class AreaRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(pattern=AREA_CODE_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    level: AreaLevel
    parent_code: str | None = None
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)
    coord_sys: CoordSys = CoordSys.gcj02
    boundary: str | None = None
    reference_prefix: str | None = Field(default=None, pattern=REFERENCE_PREFIX_PATTERN)


def _present(values: dict[str, str]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v != "" or k in ("code", "name", "level")}


def _parse_boundary(text: str | None, coord_sys: CoordSys) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError("boundary: not valid JSON") from exc
    return normalise_boundary(value, coord_sys)


def _same_point(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return math.isclose(a[0], b[0], abs_tol=1e-7) and math.isclose(a[1], b[1], abs_tol=1e-7)


async def import_area_row(session: AsyncSession, values: dict[str, str]) -> Outcome:
    row = AreaRow.model_validate(_present(values))
    lat, lng = convert(row.lat, row.lng, row.coord_sys, CoordSys.wgs84)
    boundary = _parse_boundary(row.boundary, row.coord_sys)
    parent = None
    if row.parent_code is not None:
        parent = await repository.get_by_code(session, row.parent_code, share=True)
        if parent is None:
            raise unprocessable(
                "unknown_parent",
                f"上级区域编码 {row.parent_code} 不存在",
                f"No area has the parent code {row.parent_code}",
            )
    existing = await repository.get_by_code(session, row.code)
    if existing is None:
        check_parent(row.level, parent)
        await add_area(
            session,
            None,
            code=row.code,
            name=row.name,
            level=row.level,
            parent=parent,
            lat=lat,
            lng=lng,
            boundary=boundary,
            reference_prefix=row.reference_prefix,
            source="cli",
            code_checked=True,
        )
        return Outcome.created
    if existing.level != row.level or existing.parent_id != (parent.id if parent else None):
        raise unprocessable(
            "area_moved",
            "已有区域的级别和上级不能通过导入修改",
            "An existing area's level and parent cannot be changed by an import",
        )
    changes: dict[str, Any] = {}
    if existing.name != row.name:
        changes["name"] = [existing.name, row.name]
    if not _same_point((existing.centroid_lat, existing.centroid_lng), (lat, lng)):
        changes["centroid"] = [[existing.centroid_lat, existing.centroid_lng], [lat, lng]]
    if row.boundary is not None and boundary != existing.boundary:
        changes["boundary"] = "set"
    prefix = row.reference_prefix
    if prefix is not None and prefix != existing.reference_prefix:
        changes["reference_prefix"] = [existing.reference_prefix, prefix]
    if not changes:
        return Outcome.unchanged
    if existing.retired:
        raise area_retired()
    if "reference_prefix" in changes:
        check_prefix(existing.level, prefix)
        await check_heads(session, existing.level, existing.id, prefix=prefix)
        existing.reference_prefix = prefix
    existing.name = row.name
    existing.centroid_lat, existing.centroid_lng = lat, lng
    if row.boundary is not None:
        existing.boundary = boundary
    await audit.record(
        session,
        None,
        "area.update",
        "area",
        existing.id,
        area_id=existing.id,
        details={**changes, "source": "cli"},
    )
    return Outcome.updated
