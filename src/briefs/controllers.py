from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery, QueryParameter

from src.briefs import service
from src.core.deps import CurrentUser, DbSession


class BriefController(Controller):
    path = "/api/v1/exports/briefs"
    tags = ["exports"]

    @get(
        "/",
        summary="The quarterly brief of an area: its figures with charts (XLSX)",
        description="One sheet for the area and one per child area; bar charts of suggestions "
        "by category, the satisfaction ranking and projects by status; landscape, fitted to "
        "the page width. Staff of the area or above.",
        response_description="an XLSX workbook",
    )
    async def brief(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromQuery[uuid.UUID],
        quarter: Annotated[str, QueryParameter(max_length=6)],
        format: Annotated[str, QueryParameter(max_length=8)] = "xlsx",
    ) -> Response[bytes]:
        brief = await service.quarterly_brief(
            db_session,
            principal,
            area_id,
            quarter,
            format,
            max_age_s=request.app.state.settings.decision_cache_s,
        )
        return Response(
            brief.body,
            media_type=service.XLSX,
            headers={"Content-Disposition": brief.content_disposition()},
        )
