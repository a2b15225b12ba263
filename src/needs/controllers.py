from __future__ import annotations

import uuid

from litestar import Controller, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from src.core.deps import CurrentUser, DbSession
from src.core.pagination import DEFAULT_LIMIT, Limit, Page
from src.models.need import NeedStatus
from src.needs import service
from src.needs.schemas import NeedDetailOut, NeedIn, NeedOut, NeedPatch, NeedProjectIn
from src.projects.schemas import ProjectOut, YearQuery


class NeedController(Controller):
    path = "/api/v1/needs"
    tags = ["needs"]

    @post(
        "/",
        summary="Add a need to a community's or street's needs list (committee, street)",
        description="sources: suggestions ({kind: proposal, id}) of the need's area; survey "
        "options ({kind: survey_option, …}) once needs surveys exist.",
    )
    async def create(
        self, db_session: DbSession, principal: CurrentUser, data: JSONBody[NeedIn]
    ) -> NeedDetailOut:
        return await service.create(db_session, principal, data)

    @get("/{need_id:uuid}", summary="One need, with its sources and suggestions")
    async def get_need(
        self, db_session: DbSession, principal: CurrentUser, need_id: FromPath[uuid.UUID]
    ) -> NeedDetailOut:
        return await service.get_detail(db_session, principal, need_id)

    @patch(
        "/{need_id:uuid}",
        summary="Plan or decline a need (with a reason), or change it (committee, street)",
    )
    async def update(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        need_id: FromPath[uuid.UUID],
        data: JSONBody[NeedPatch],
    ) -> NeedDetailOut:
        return await service.update(db_session, principal, need_id, data)

    @post(
        "/{need_id:uuid}/projects",
        summary="Create next year's project from a planned need (committee, street)",
        description="One project per need: a second call → 409 need_has_project.",
    )
    async def create_project(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        need_id: FromPath[uuid.UUID],
        data: JSONBody[NeedProjectIn],
    ) -> ProjectOut:
        return await service.create_project(db_session, principal, need_id, data)


class AreaNeedsController(Controller):
    path = "/api/v1/areas"
    tags = ["needs"]

    @get(
        "/{area_id:uuid}/needs",
        summary="The needs list of a community or street, ranked by evidence",
        description="score = suggestions + supports + survey_votes; rank 1 = most evidence "
        "(equal scores share a rank). year defaults to this year (Shanghai time).",
    )
    async def list_needs(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        year: YearQuery = None,
        status: FromQuery[NeedStatus | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Page[NeedOut]:
        items, next_cursor = await service.list_needs(
            db_session, principal, area_id, year=year, status=status, cursor=cursor, limit=limit
        )
        return Page(items=items, next_cursor=next_cursor)
