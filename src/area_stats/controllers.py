from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from litestar import Controller, MediaType, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, QueryParameter

from src.area_stats import service
from src.area_stats.schemas import AreaStatsOut, HotspotsOut
from src.core.deps import CurrentUser, DbSession
from src.core.geo import CoordSys


def _json(body: bytes) -> Response[bytes]:
    """The service's encoded reply (cached bytes on a hit) as the response body, untouched."""
    return Response(body, media_type=MediaType.JSON)


class AreaStatsController(Controller):
    path = "/api/v1/areas/{area_id:uuid}"
    tags = ["decision support"]

    @get(
        "/stats",
        summary="Figures of an area and of each child area (staff of the area or above)",
        description="from/to: Shanghai dates, inclusive. Suggestions by status and category, "
        "supports, first official replies, meetings by kind with turnout, satisfaction, "
        "projects by status and overdue, needs surveys with their responses and response "
        "rates; `children` has the same per child area. "
        "`computed_at` says how fresh the figures are (at most `decision_cache_s` old).",
        responses={
            200: ResponseSpec(AreaStatsOut, description="The figures", generate_examples=False)
        },
    )
    async def stats(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        date_from: Annotated[dt.date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[dt.date | None, QueryParameter(name="to")] = None,
    ) -> Response[bytes]:
        body = await service.area_stats(
            db_session,
            principal,
            area_id,
            date_from,
            date_to,
            max_age_s=state.settings.decision_cache_s,
        )
        return _json(body)

    @get(
        "/hotspots",
        summary="Suggestion hot spots: GeoJSON grid cells with counts per category",
        description="Cells of `cell_m` metres (default 300) on a fixed grid; suggestions with "
        "a place, not hidden, created in from/to (Shanghai dates, inclusive). Polygons in the "
        "caller's `coord_sys`.",
        responses={
            200: ResponseSpec(
                HotspotsOut, description="The cells, GeoJSON", generate_examples=False
            )
        },
    )
    async def hotspots(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        category: Annotated[str | None, QueryParameter(max_length=32)] = None,
        date_from: Annotated[dt.date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[dt.date | None, QueryParameter(name="to")] = None,
        cell_m: Annotated[int, QueryParameter(ge=100, le=2000)] = 300,
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
    ) -> Response[bytes]:
        body = await service.hotspots(
            db_session,
            principal,
            area_id,
            category=category,
            date_from=date_from,
            date_to=date_to,
            cell_m=cell_m,
            coord_sys=coord_sys,
            max_age_s=state.settings.decision_cache_s,
        )
        return _json(body)
