from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from src.core.deps import CurrentUser, DbSession
from src.core.errors import wants_english
from src.core.geo import CoordSys
from src.core.pagination import DEFAULT_LIMIT, Limit, Page
from src.models.project import ProjectKind, ProjectStatus
from src.projects import service
from src.projects.schemas import (
    ProgressIn,
    ProgressOut,
    ProjectDetailOut,
    ProjectIn,
    ProjectOut,
    ProjectPatch,
    ProjectStatsOut,
    YearQuery,
)
from src.proposals.service import Viewer


class ProjectController(Controller):
    path = "/api/v1/projects"
    tags = ["projects"]

    @post("/", summary="Add a project to a community's annual list (committee, street)")
    async def create(
        self, db_session: DbSession, principal: CurrentUser, data: JSONBody[ProjectIn]
    ) -> ProjectOut:
        return await service.create(db_session, principal, data)

    @get(
        "/",
        summary="Projects of a community or street (staff: overdue first)",
        description="overdue=true: only projects whose planned end has passed and that are "
        "not done or cancelled; overdue=false: the others. Staff see overdue projects first, "
        "then newest year first; residents newest year first.",
    )
    async def list_projects(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        community_id: FromQuery[uuid.UUID | None] = None,
        street_id: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[ProjectStatus | None] = None,
        year: Annotated[int | None, QueryParameter(ge=2000, le=2100)] = None,
        kind: FromQuery[ProjectKind | None] = None,
        overdue: FromQuery[bool | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Page[ProjectOut]:
        items, next_cursor = await service.list_projects(
            db_session,
            principal,
            community_id=community_id,
            street_id=street_id,
            status=status,
            year=year,
            kind=kind,
            overdue=overdue,
            cursor=cursor,
            limit=limit,
        )
        return Page(items=items, next_cursor=next_cursor)

    @get("/{project_id:uuid}", summary="One project, with the suggestions it came from")
    async def get_project(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        principal: CurrentUser,
        project_id: FromPath[uuid.UUID],
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
    ) -> ProjectDetailOut:
        viewer = Viewer(principal, wants_english(request), coord_sys)
        return await service.get_detail(db_session, viewer, project_id)

    @patch(
        "/{project_id:uuid}",
        summary="Move a project's status or change its facts (committee, street)",
    )
    async def update(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        project_id: FromPath[uuid.UUID],
        data: JSONBody[ProjectPatch],
    ) -> ProjectOut:
        return await service.update(db_session, principal, project_id, data)

    @post("/{project_id:uuid}/progress", summary="Add a dated progress update (committee, street)")
    async def add_progress(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        project_id: FromPath[uuid.UUID],
        data: JSONBody[ProgressIn],
    ) -> ProgressOut:
        return await service.add_progress(db_session, principal, project_id, data)

    @get("/{project_id:uuid}/progress", summary="A project's progress updates, newest first")
    async def list_progress(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        project_id: FromPath[uuid.UUID],
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Page[ProgressOut]:
        items, next_cursor = await service.list_progress(
            db_session, principal, project_id, cursor=cursor, limit=limit
        )
        return Page(items=items, next_cursor=next_cursor)


class ProjectStatsController(Controller):
    path = "/api/v1/areas"
    tags = ["projects"]

    @get(
        "/{area_id:uuid}/project-stats",
        summary="The city plan's table for an area: projects of the year per child area",
        description="Per child area (a district's streets, a street's communities) and for "
        "the area itself: projects of the year's list (cancelled ones apart), finished within "
        "the year, planned to finish within it, and how many are 人民坊 and 六艺亭. Staff whose "
        "role covers the area. year defaults to this year (Shanghai time).",
    )
    async def project_stats(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        year: YearQuery = None,
    ) -> ProjectStatsOut:
        return await service.project_stats(db_session, principal, area_id, year=year)
