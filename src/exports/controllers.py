from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Stream

from src.core.db import plain_dsn
from src.core.deps import CurrentUser, DbSession
from src.core.errors import wants_english
from src.core.pagination import DEFAULT_LIMIT, Limit, Page
from src.exports import service
from src.exports.schemas import ExportOut
from src.exports.service import ExportFormat, ExportStream, ProposalExportQuery
from src.models.proposal import ProposalStatus


class ExportController(Controller):
    path = "/api/v1/exports"
    tags = ["exports"]

    @get(
        "/proposals",
        summary="Export suggestions as CSV or XLSX (street staff, admins), streamed",
        description=(
            "Suggestions of a street or one community with replies, status history and "
            "support counts. UTF-8 CSV with BOM and CRLF, or XLSX. Phones masked, anonymous "
            "authors anonymous, coordinates rounded to about 100 m. Header X-Export-Id names "
            "the export record."
        ),
    )
    async def proposals(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        format: FromQuery[ExportFormat] = ExportFormat.csv,
        street_id: FromQuery[uuid.UUID | None] = None,
        community_id: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[ProposalStatus | None] = None,
        category: Annotated[str | None, QueryParameter(max_length=32)] = None,
        event_id: FromQuery[uuid.UUID | None] = None,
        date_from: Annotated[dt.date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[dt.date | None, QueryParameter(name="to")] = None,
    ) -> Stream:
        settings = state.settings
        await state.limiter.check(
            f"export:{principal.user_id}", settings.export_limit, settings.export_window_s
        )
        plan = await service.plan_proposals(
            db_session,
            principal,
            ProposalExportQuery(
                format=format,
                street_id=street_id,
                community_id=community_id,
                status=status,
                category=category,
                event_id=event_id,
                date_from=date_from,
                date_to=date_to,
            ),
            english=wants_english(request),
        )
        stream = ExportStream(
            plan,
            plain_dsn(settings.database_url),
            idle_timeout_s=settings.export_idle_timeout_s,
        )
        await stream.open()
        return Stream(
            stream.chunks(),
            media_type=plan.media_type,
            headers={
                "Content-Disposition": plan.content_disposition(),
                "X-Export-Id": str(plan.record_id),
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @get(
        "/ratings",
        summary="Export the ratings and comments of a review meeting or a project (street "
        "staff, admins), streamed",
        description=(
            "Exactly one of event_id (a review meeting) and project_id (all its review "
            "meetings). Scores per criterion, the comment and whether it is hidden, the rater "
            "with a masked phone. Same file formats and record as the suggestions export."
        ),
    )
    async def ratings(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        format: FromQuery[ExportFormat] = ExportFormat.csv,
        event_id: FromQuery[uuid.UUID | None] = None,
        project_id: FromQuery[uuid.UUID | None] = None,
    ) -> Stream:
        await _limit(state, principal)
        plan = await service.plan_ratings(
            db_session,
            principal,
            fmt=format,
            event_id=event_id,
            project_id=project_id,
            english=wants_english(request),
        )
        return await _stream(state, plan)

    @get(
        "/events/{event_id:uuid}/results",
        summary="Export a coordination meeting's results (street staff, admins)",
        description=(
            "Totals per option (online, paper, total, share), turnout, eligibility and quorum "
            "as GET /events/{id}/results gives them, then every ballot's receipt with its "
            "options once the meeting is closed."
        ),
    )
    async def event_results(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        format: FromQuery[ExportFormat] = ExportFormat.csv,
    ) -> Stream:
        await _limit(state, principal)
        plan = await service.plan_event_results(
            db_session, principal, event_id, fmt=format, english=wants_english(request)
        )
        return await _stream(state, plan)

    @get(
        "/project-list",
        summary="The yearly project list for the city office (street staff, district admins)",
        description=(
            "项目实施清单和项目数据库: one row per project of the year's list (content, "
            "implementation path, responsible unit, funding source, timeline, design team) "
            "with the needs it answers and the suggestions behind them (titles and support "
            "counts; no personal data). Exactly one of street_id and district_id; year "
            "defaults to next year (Shanghai time)."
        ),
    )
    async def project_list(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        format: FromQuery[ExportFormat] = ExportFormat.xlsx,
        street_id: FromQuery[uuid.UUID | None] = None,
        district_id: FromQuery[uuid.UUID | None] = None,
        year: Annotated[int | None, QueryParameter(ge=2000, le=2100)] = None,
    ) -> Stream:
        await _limit(state, principal)
        plan = await service.plan_project_list(
            db_session,
            principal,
            fmt=format,
            street_id=street_id,
            district_id=district_id,
            year=year,
            english=wants_english(request),
        )
        return await _stream(state, plan)

    @get("/", summary="Past exports, newest first (street staff, admins)")
    async def list_exports(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Page[ExportOut]:
        items, next_cursor = await service.list_exports(
            db_session, principal, cursor=cursor, limit=limit
        )
        return Page(items=items, next_cursor=next_cursor)


async def _limit(state: State, principal: Any) -> None:
    settings = state.settings
    await state.limiter.check(
        f"export:{principal.user_id}", settings.export_limit, settings.export_window_s
    )


async def _stream(state: State, plan: service.ExportPlan) -> Stream:
    settings = state.settings
    stream = ExportStream(
        plan,
        plain_dsn(settings.database_url),
        idle_timeout_s=settings.export_idle_timeout_s,
    )
    await stream.open()
    return Stream(
        stream.chunks(),
        media_type=plan.media_type,
        headers={
            "Content-Disposition": plan.content_disposition(),
            "X-Export-Id": str(plan.record_id),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
