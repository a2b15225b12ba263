from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from litestar import Controller, get
from litestar.params import FromPath, QueryParameter

from src.area_stats import service
from src.area_stats.schemas import AreaStatsOut
from src.core.deps import CurrentUser, DbSession


class AreaStatsController(Controller):
    path = "/api/v1/areas/{area_id:uuid}"
    tags = ["decision support"]

    @get(
        "/stats",
        summary="Figures of an area and of each child area (staff of the area or above)",
        description="from/to: Shanghai dates, inclusive. Suggestions by status and category, "
        "supports, first official replies, meetings by kind with turnout, satisfaction, "
        "projects by status and overdue; `children` has the same per child area.",
    )
    async def stats(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        date_from: Annotated[dt.date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[dt.date | None, QueryParameter(name="to")] = None,
    ) -> AreaStatsOut:
        return await service.area_stats(db_session, principal, area_id, date_from, date_to)
