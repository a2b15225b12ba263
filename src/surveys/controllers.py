from __future__ import annotations

import uuid
from typing import Annotated, Any

import anyio
from litestar import Controller, MediaType, Request, Response, get, patch, post, put
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK

from src.core.db import plain_dsn
from src.core.deps import CurrentUser, DbSession, Unit
from src.core.errors import AppError, Message, wants_english
from src.core.geo import CoordSys
from src.core.pagination import DEFAULT_LIMIT, Limit, Page
from src.exports.service import ExportFormat, ExportStream
from src.models.survey import SurveyStatus
from src.surveys import chart, export, service
from src.surveys.schemas import (
    PointOut,
    ResponseIn,
    ResponseOut,
    ResultsOut,
    SurveyIn,
    SurveyOut,
    SurveyPatch,
    TextOut,
)

Year = Annotated[int | None, QueryParameter(ge=2000, le=2100)]
Search = Annotated[str | None, QueryParameter(min_length=1, max_length=50)]
PointsLimit = Annotated[int, QueryParameter(ge=1, le=service.POINTS_PAGE_MAX)]


def _chart_format_unknown() -> AppError:
    return AppError(
        404,
        "chart_format_unknown",
        Message("图表格式只支持 .svg 或 .png", "Charts are .svg or .png"),
    )


class SurveyController(Controller):
    path = "/api/v1/surveys"
    tags = ["surveys"]

    @post("/", summary="Build a needs survey for a community or a street (committee, street)")
    async def create(
        self, db_session: DbSession, principal: CurrentUser, data: JSONBody[SurveyIn]
    ) -> SurveyOut:
        return await service.create(db_session, principal, data)

    @get("/", summary="Surveys of a community (with its street's) or of a street")
    async def list(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[SurveyStatus | None] = None,
        year: Year = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Page[SurveyOut]:
        items, next_cursor = await service.list_surveys(
            db_session,
            principal,
            area_id=area_id,
            status=status,
            year=year,
            cursor=cursor,
            limit=limit,
        )
        return Page(items=items, next_cursor=next_cursor)

    @get("/{survey_id:uuid}", summary="A survey with its questions")
    async def detail(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        survey_id: FromPath[uuid.UUID],
    ) -> SurveyOut:
        return await service.get(db_session, principal, survey_id, state.settings.secret_key)

    @patch("/{survey_id:uuid}", summary="Change a draft (questions only while draft)")
    async def update(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        survey_id: FromPath[uuid.UUID],
        data: JSONBody[SurveyPatch],
    ) -> SurveyOut:
        return await service.update(db_session, principal, survey_id, data)

    @post("/{survey_id:uuid}/open", status_code=HTTP_200_OK, summary="Open the survey")
    async def open(
        self, db_session: DbSession, principal: CurrentUser, survey_id: FromPath[uuid.UUID]
    ) -> SurveyOut:
        return await service.open_survey(db_session, principal, survey_id)

    @post("/{survey_id:uuid}/close", status_code=HTTP_200_OK, summary="Close the survey")
    async def close(
        self, db_session: DbSession, principal: CurrentUser, survey_id: FromPath[uuid.UUID]
    ) -> SurveyOut:
        return await service.close_survey(db_session, principal, survey_id)

    @post(
        "/{survey_id:uuid}/responses",
        summary="Answer the survey (a resident, once), or enter a paper questionnaire (staff)",
        opt={"idempotency": "sealed"},
    )
    async def respond(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        survey_id: FromPath[uuid.UUID],
        data: JSONBody[ResponseIn],
    ) -> ResponseOut:
        return await service.submit(
            db_session, principal, survey_id, data, state.settings.secret_key
        )

    @get("/{survey_id:uuid}/responses/mine", summary="My response")
    async def mine(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        survey_id: FromPath[uuid.UUID],
    ) -> ResponseOut:
        return await service.get_mine(db_session, principal, survey_id, state.settings.secret_key)

    @put("/{survey_id:uuid}/responses/mine", summary="Change my response while the survey is open")
    async def change_mine(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        survey_id: FromPath[uuid.UUID],
        data: JSONBody[ResponseIn],
    ) -> ResponseOut:
        return await service.change_mine(db_session, principal, survey_id, data)

    @get(
        "/{survey_id:uuid}/results",
        summary="Counts, shares, means, rankings, texts, points",
        responses={
            200: ResponseSpec(ResultsOut, description="The results", generate_examples=False)
        },
    )
    async def results(
        self,
        unit: Unit,
        principal: CurrentUser,
        survey_id: FromPath[uuid.UUID],
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
    ) -> Response[bytes]:
        body = await service.results(await unit.raw_connection(), principal, survey_id, coord_sys)
        return Response(body, media_type=MediaType.JSON)

    @get("/{survey_id:uuid}/results/{key:str}/texts", summary="Text answers, paged, searchable")
    async def texts(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        survey_id: FromPath[uuid.UUID],
        key: FromPath[str],
        q: Search = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Page[TextOut]:
        items, next_cursor = await service.texts_page(
            db_session, principal, survey_id, key, q=q, cursor=cursor, limit=limit
        )
        return Page(items=items, next_cursor=next_cursor)

    @get("/{survey_id:uuid}/results/{key:str}/points", summary="Map points of a question, paged")
    async def points(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        survey_id: FromPath[uuid.UUID],
        key: FromPath[str],
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
        cursor: FromQuery[str | None] = None,
        limit: PointsLimit = 500,
    ) -> Page[PointOut]:
        items, next_cursor = await service.points_page(
            db_session, principal, survey_id, key, coord_sys=coord_sys, cursor=cursor, limit=limit
        )
        return Page(items=items, next_cursor=next_cursor)

    @get("/{survey_id:uuid}/results/{chart_name:str}", summary="A question's chart (.svg, .png)")
    async def chart(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        survey_id: FromPath[uuid.UUID],
        chart_name: FromPath[str],
    ) -> Response[bytes]:
        key, dot, ext = chart_name.rpartition(".")
        if not dot or ext not in ("svg", "png"):
            raise _chart_format_unknown()
        survey, question, full = await service.chart_question(db_session, principal, survey_id, key)
        headers = {"Cache-Control": "private, max-age=60"}
        if ext == "svg":
            body = chart.svg(survey.title, question, full).encode()
            return Response(body, media_type="image/svg+xml; charset=utf-8", headers=headers)
        drawn = await anyio.to_thread.run_sync(chart.png, survey.title, question, full)
        if drawn is None:
            raise _chart_format_unknown()
        return Response(drawn, media_type="image/png", headers=headers)


class SurveyExportController(Controller):
    path = "/api/v1/exports/surveys"
    tags = ["exports", "surveys"]

    @get(
        "/{survey_id:uuid}",
        summary="Export a survey's responses as CSV or XLSX (street staff), streamed",
        description=(
            "One row per questionnaire, online and paper, one column per question. "
            "Respondents' phones masked; anonymous surveys carry no respondent."
        ),
    )
    async def survey(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        survey_id: FromPath[uuid.UUID],
        format: FromQuery[ExportFormat] = ExportFormat.csv,
    ) -> Stream:
        settings = state.settings
        await state.limiter.check(
            f"export:{principal.user_id}", settings.export_limit, settings.export_window_s
        )
        plan = await export.plan_survey(
            db_session, principal, survey_id, fmt=format, english=wants_english(request)
        )
        stream = ExportStream(
            plan, plain_dsn(settings.database_url), idle_timeout_s=settings.export_idle_timeout_s
        )
        await stream.open()
        return Stream(
            stream.chunks(),
            media_type=plan.media_type,
            headers={
                "Content-Disposition": plan.content_disposition(),
                "X-Export-Id": str(plan.record_id),
                "Cache-Control": "no-store",
            },
        )
