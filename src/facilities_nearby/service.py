"""Rules of the facilities domain: which walk, how far, in which coordinates.

The nearby query reads only the worker's in-memory graph (no database, no Redis): the
resident's position is used for the computation and forgotten — never stored, never logged.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from src.config import Settings
from src.core.auth import Principal
from src.core.errors import AppError, Message, not_found, unprocessable
from src.core.geo import CoordSys, convert
from src.core.policy import authorize_area
from src.facilities_nearby import repository
from src.facilities_nearby.coords import gcj02_to_bd09
from src.facilities_nearby.coverage import Coverage, coverage, grid_points
from src.facilities_nearby.graph import Graph
from src.facilities_nearby.query import NearbyAnswer, straight_line
from src.facilities_nearby.query import nearby as nearby_query
from src.facilities_nearby.runtime import Loaded, NearbyRuntime
from src.facilities_nearby.schemas import (
    CategoryCoverage,
    CategoryOut,
    CoverageOut,
    FacilityOut,
)
from src.models.area import AreaLevel
from src.models.facility import FacilityCategory
from src.models.user import Role


def loaded_or_503(runtime: NearbyRuntime) -> Loaded:
    if runtime.loaded is None:
        raise AppError(
            503,
            "network_loading",
            Message("步行网络正在加载，请稍后再试", "Walking network loading, retry soon"),
            headers={"Retry-After": "2"},
        )
    return runtime.loaded


def speed_for(settings: Settings, profile: str) -> float:
    return settings.walk_speed_elderly_mps if profile == "elderly" else settings.walk_speed_mps


def parse_categories(loaded: Loaded, raw: str | None) -> list[int] | None:
    if raw is None or not raw.strip():
        return None
    codes = [c.strip() for c in raw.split(",") if c.strip()]
    unknown = [c for c in codes if c not in loaded.by_code]
    if unknown:
        raise unprocessable(
            "unknown_category",
            f"未知的设施类别：{', '.join(unknown[:5])}",
            f"Unknown facility category: {', '.join(unknown[:5])}",
        )
    return [loaded.by_code[c] for c in codes]


def limits_m(
    loaded: Loaded, categories: list[int] | None, minutes: int | None, speed: float
) -> np.ndarray:
    """Longest walk in metres per category (0 for categories left out)."""
    tiers = np.asarray([c.tier_minutes for c in loaded.categories], dtype=np.float64)
    walk = np.full(len(tiers), float(minutes)) if minutes is not None else tiers
    out = walk * 60.0 * speed
    if categories is not None:
        mask = np.zeros(len(tiers), dtype=bool)
        mask[categories] = True
        out[~mask] = 0.0
    return out


def nearby(
    runtime: NearbyRuntime,
    *,
    lat: float,
    lng: float,
    coord_sys: CoordSys,
    minutes: int | None,
    category: str | None,
    profile: str,
    limit: int,
    crow_fly: bool = False,
) -> dict[str, Any]:
    """Facilities by walk (or, with ``crow_fly``, by straight-line distance) from a position.

    The position is converted, used and dropped: it is not stored, logged or cached.
    """
    settings = runtime.settings
    loaded = loaded_or_503(runtime)
    speed = speed_for(settings, profile)
    w_lat, w_lng = convert(lat, lng, coord_sys, CoordSys.wgs84)
    limits = limits_m(loaded, parse_categories(loaded, category), minutes, speed)
    answer: NearbyAnswer
    if crow_fly:
        answer = straight_line(loaded.graph, w_lat, w_lng, limits, limit=limit)
    else:
        answer = nearby_query(
            loaded.graph,
            w_lat,
            w_lng,
            limits,
            detour=settings.walk_detour_factor,
            snap_max_m=settings.walk_snap_max_m,
            limit=limit,
        )
    graph = loaded.graph
    index = np.asarray([f.index for f in answer.items], dtype=np.int64)
    out_lat, out_lng = reply_coordinates(graph, index, coord_sys)
    ids = graph.fac_id_hex[index].tolist()
    cats = graph.fac_cat[index].tolist()
    # Plain dicts, shaped as NearbyOut: every field comes from checked data, and this is the
    # hot path (a pydantic model per item costs more than the walk itself).
    items = []
    for n, found in enumerate(answer.items):
        name, address = graph.facility_text(found.index)
        items.append(
            {
                "id": ids[n].decode(),
                "name": name,
                "category": loaded.categories[cats[n]].code,
                "walk_minutes": round(found.distance_m / speed / 60.0, 1),
                "distance_m": round(found.distance_m, 1),
                "lat": out_lat[n],
                "lng": out_lng[n],
                "address": address,
                "estimated": found.estimated,
            }
        )
    return {
        "method": answer.method,
        "coord_sys": coord_sys.value,
        "profile": "elderly" if profile == "elderly" else "default",
        "speed_mps": speed,
        "snap_m": None if answer.snap_m is None else round(answer.snap_m, 1),
        "items": items,
    }


def reply_coordinates(
    graph: Graph, index: np.ndarray, coord_sys: CoordSys
) -> tuple[list[float], list[float]]:
    """Facility coordinates in the caller's system, for many facilities at once."""
    if coord_sys == CoordSys.wgs84:
        lat, lng = graph.fac_lat[index], graph.fac_lng[index]
    else:
        lat, lng = graph.fac_gcj_lat[index], graph.fac_gcj_lng[index]
        if coord_sys == CoordSys.bd09:
            lat, lng = gcj02_to_bd09(lat, lng)
    return np.round(lat, 7).tolist(), np.round(lng, 7).tolist()


def category_out(c: FacilityCategory) -> CategoryOut:
    return CategoryOut(
        code=c.code, name=c.name_zh, name_en=c.name_en, group=c.group, tier_minutes=c.tier_minutes
    )


async def list_categories(session: AsyncSession) -> list[CategoryOut]:
    return [category_out(c) for c in await repository.list_categories(session)]


async def get_facility(
    session: AsyncSession, facility_id: uuid.UUID, coord_sys: CoordSys
) -> FacilityOut:
    facility = await repository.get_facility(session, facility_id)
    if facility is None:
        raise not_found("设施", "Facility")
    lat, lng = convert(facility.lat, facility.lng, CoordSys.wgs84, coord_sys)
    return FacilityOut(
        id=str(facility.id),
        name=facility.name,
        category=facility.category,
        lat=round(lat, 7),
        lng=round(lng, 7),
        coord_sys=coord_sys,
        address=facility.address,
        source=facility.source,
    )


# --- coverage ------------------------------------------------------------------------

_COVERAGE_CACHE: OrderedDict[tuple[str, str, str], Coverage] = OrderedDict()
_COVERAGE_CACHE_SIZE = 256
STAFF_ROLES = (Role.committee, Role.street, Role.planner, Role.admin)


async def area_coverage(
    session: AsyncSession,
    runtime: NearbyRuntime,
    principal: Principal,
    area_id: uuid.UUID,
    *,
    coord_sys: CoordSys,
    profile: str,
) -> CoverageOut:
    await authorize_area(session, principal, area_id, STAFF_ROLES)
    area = await repository.get_area(session, area_id)
    if area is None:
        raise not_found("区域", "Area")
    if area.level != AreaLevel.community:
        raise unprocessable(
            "not_a_community", "覆盖率按社区计算", "Coverage is computed for a community"
        )
    loaded = loaded_or_503(runtime)
    settings = runtime.settings
    speed = speed_for(settings, profile)
    cache_key = (str(area.id), loaded.graph.key, f"{profile}:{hash(str(area.boundary))}")
    result = _COVERAGE_CACHE.get(cache_key)
    if result is None:
        lat, lng, basis = grid_points(
            area.boundary,
            (area.centroid_lat, area.centroid_lng),
            settings.coverage_cell_m,
            settings.coverage_radius_m,
        )
        # CPU work of tens of milliseconds: off the event loop.
        result = await asyncio.to_thread(
            coverage,
            loaded.graph,
            lat,
            lng,
            basis,
            limits_m(loaded, None, None, speed),
            detour=settings.walk_detour_factor,
            snap_max_m=settings.walk_snap_max_m,
        )
        _COVERAGE_CACHE[cache_key] = result
        while len(_COVERAGE_CACHE) > _COVERAGE_CACHE_SIZE:
            _COVERAGE_CACHE.popitem(last=False)
    points = [
        convert(float(a), float(b), CoordSys.wgs84, coord_sys)
        for a, b in zip(result.lat, result.lng, strict=True)
    ]
    categories = []
    for item in result.categories:
        info = loaded.categories[item.index]
        total = len(item.covered)
        categories.append(
            CategoryCoverage(
                code=info.code,
                name=info.name_zh,
                group=info.group,
                tier_minutes=info.tier_minutes,
                facilities=item.facilities,
                covered_share=round(float(item.covered.sum()) / total, 4) if total else 0.0,
                uncovered={
                    "type": "MultiPoint",
                    "coordinates": [
                        [round(points[i][1], 7), round(points[i][0], 7)]
                        for i in np.flatnonzero(~item.covered)
                    ],
                },
            )
        )
    return CoverageOut(
        area_id=str(area.id),
        coord_sys=coord_sys,
        profile="elderly" if profile == "elderly" else "default",
        basis="boundary" if result.basis == "boundary" else "radius",
        cell_m=settings.coverage_cell_m,
        points=len(result.lat),
        method="network" if result.method == "network" else "estimate",
        categories=categories,
    )
