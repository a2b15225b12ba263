from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from src.core.deps import CurrentUser, DbSession
from src.monthly_reports import service
from src.monthly_reports.schemas import PERIOD_PATTERN, FilingsOut, ReportEdit, ReportIn, ReportOut

Period = Annotated[str | None, QueryParameter(pattern=PERIOD_PATTERN)]


class MonthlyReportController(Controller):
    path = "/api/v1/areas/{area_id:uuid}/reports"
    tags = ["monthly reports"]

    @post("/", summary="File the street's monthly report (once a month; street staff)")
    async def file(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        data: JSONBody[ReportIn],
    ) -> ReportOut:
        return await service.file(db_session, principal, area_id, data)

    @put(
        "/{period:str}",
        summary="Edit the report of a month, until the month after it ends (street staff)",
    )
    async def edit(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        period: FromPath[str],
        data: JSONBody[ReportEdit],
    ) -> ReportOut:
        return await service.edit(db_session, principal, area_id, period, data)

    @get("/", summary="Which streets filed the month's report and which have not")
    async def filings(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        period: Period = None,
    ) -> FilingsOut:
        return await service.filings(db_session, principal, area_id, period)
