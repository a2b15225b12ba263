from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from src.core.deps import CurrentUser, DbSession
from src.core.pagination import DEFAULT_LIMIT, Limit, Page
from src.models.moderation import ItemStatus
from src.moderation import service
from src.moderation.schemas import DecisionIn, QueueItemOut, ReportIn, ReportOut


class ReportController(Controller):
    path = "/api/v1/proposals"
    tags = ["moderation"]

    @post(
        "/{proposal_id:uuid}/reports",
        summary="Report a suggestion (abusive, spam, personal data, duplicate, other)",
    )
    async def report(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        proposal_id: FromPath[uuid.UUID],
        data: JSONBody[ReportIn],
    ) -> ReportOut:
        await state.limiter.check(
            f"report:{principal.user_id}", state.settings.moderation_report_limit, 3600
        )
        return await service.report(db_session, principal, proposal_id, data)


class ModerationController(Controller):
    path = "/api/v1/moderation"
    tags = ["moderation"]

    @get(
        "/queue",
        summary="The moderation queue of a community or street (committee, street), oldest first",
    )
    async def queue(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromQuery[uuid.UUID],
        status: FromQuery[ItemStatus] = ItemStatus.open,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Page[QueueItemOut]:
        items, next_cursor = await service.queue(
            db_session, principal, area_id=area_id, status=status, cursor=cursor, limit=limit
        )
        return Page(items=items, next_cursor=next_cursor)

    @post(
        "/queue/{item_id:uuid}/decision",
        status_code=HTTP_200_OK,
        summary="Hide or keep a suggestion of the queue, with a reason (audited)",
    )
    async def decide(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        item_id: FromPath[uuid.UUID],
        data: JSONBody[DecisionIn],
    ) -> QueueItemOut:
        return await service.decide(db_session, principal, item_id, data)
