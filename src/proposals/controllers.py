from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from src.core.auth import Principal
from src.core.deps import CurrentUser, DbSession
from src.core.errors import validation_failed, wants_english
from src.core.geo import CoordSys, Location
from src.core.pagination import DEFAULT_LIMIT, Limit, Page
from src.models.proposal import ProposalStatus
from src.moderation import screening
from src.proposals import repository, service
from src.proposals.schemas import (
    SORT_DESCRIPTION,
    CategoryOut,
    NotificationOut,
    NotificationsReadIn,
    ProposalDetailOut,
    ProposalIn,
    ProposalOut,
    ProposalSort,
    ReactionIn,
    ReactionOut,
    ReadOut,
    ReplyIn,
    ReplyOut,
    SimilarOut,
    StatsOut,
    SupportOut,
    TransitionIn,
)


def _viewer(
    request: Request[Any, Any, Any], principal: Principal, coord_sys: CoordSys
) -> service.Viewer:
    return service.Viewer(principal, wants_english(request), coord_sys)


class ProposalController(Controller):
    path = "/api/v1/proposals"
    tags = ["proposals"]

    @get("/categories", summary="Suggestion categories")
    async def categories(
        self, request: Request[Any, Any, Any], db_session: DbSession
    ) -> list[CategoryOut]:
        english = wants_english(request)
        return [
            CategoryOut(
                code=c.code,
                name=c.name_en if english else c.name_zh,
                group=c.group,
                name_zh=c.name_zh,
                name_en=c.name_en,
            )
            for c in await repository.categories(db_session)
        ]

    @get("/stats", summary="Counts per status, category and community (street lists)")
    async def stats(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        community_id: FromQuery[uuid.UUID | None] = None,
        street_id: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[ProposalStatus | None] = None,
        category: FromQuery[str | None] = None,
        event_id: FromQuery[uuid.UUID | None] = None,
    ) -> StatsOut:
        return await service.stats(
            db_session,
            principal,
            community_id=community_id,
            street_id=street_id,
            status=status,
            category=category,
            event_id=event_id,
        )

    @get(
        "/similar",
        summary="Suggestions like the one being written (text, place and status)",
        description=(
            "Up to 5 suggestions of the community whose title says the same thing as `title` "
            "(character bigrams and a synonym list, pg_trgm similarity ≥ 0.35), ranked by "
            "similarity × 1.25 when still open × (1 + 0.5 · 2^(−distance/300 m)) when `lat`/"
            "`lng` are given (in `coord_sys`, default gcj02). Hidden and merged suggestions are "
            "left out. Meant to be called while the resident types."
        ),
    )
    async def similar(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        # Optional here so that a missing token answers 401 first; the service requires it.
        title: Annotated[str | None, QueryParameter(max_length=200)] = None,
        community_id: FromQuery[uuid.UUID | None] = None,
        lat: Annotated[float | None, QueryParameter(ge=-90, le=90)] = None,
        lng: Annotated[float | None, QueryParameter(ge=-180, le=180)] = None,
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
    ) -> Page[SimilarOut]:
        if (lat is None) != (lng is None):
            raise validation_failed([{"field": "lat", "message": "give lat and lng together"}])
        location = (
            Location(lat=lat, lng=lng, coord_sys=coord_sys)
            if lat is not None and lng is not None
            else None
        )
        items = await service.similar(
            db_session, principal, title=title, community_id=community_id, location=location
        )
        return Page(items=items, next_cursor=None)

    @post("/", summary="Submit a suggestion")
    async def submit(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        data: JSONBody[ProposalIn],
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
    ) -> ProposalDetailOut:
        settings = state.settings
        await state.limiter.check(
            f"proposal:{principal.user_id}",
            settings.proposal_submit_limit,
            settings.proposal_submit_window_s,
        )
        return await service.submit(
            db_session, _viewer(request, principal, coord_sys), data, screening.screen(settings)
        )

    @get("/", summary="List suggestions of a community or street")
    async def list_proposals(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        principal: CurrentUser,
        community_id: FromQuery[uuid.UUID | None] = None,
        street_id: FromQuery[uuid.UUID | None] = None,
        status: FromQuery[ProposalStatus | None] = None,
        category: FromQuery[str | None] = None,
        event_id: FromQuery[uuid.UUID | None] = None,
        q: FromQuery[str | None] = None,
        sort: Annotated[ProposalSort, QueryParameter(description=SORT_DESCRIPTION)] = (
            ProposalSort.newest
        ),
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
    ) -> Page[ProposalOut]:
        items, next_cursor = await service.list_proposals(
            db_session,
            _viewer(request, principal, coord_sys),
            community_id=community_id,
            street_id=street_id,
            status=status,
            category=category,
            event_id=event_id,
            q=q,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )
        return Page(items=items, next_cursor=next_cursor)

    @get("/{proposal_id:uuid}", summary="One suggestion, with replies and history")
    async def get_proposal(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        principal: CurrentUser,
        proposal_id: FromPath[uuid.UUID],
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
    ) -> ProposalDetailOut:
        return await service.get_detail(
            db_session, _viewer(request, principal, coord_sys), proposal_id
        )

    @put("/{proposal_id:uuid}/support", summary="Support a suggestion (once)")
    async def support(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        proposal_id: FromPath[uuid.UUID],
    ) -> SupportOut:
        await _limit_support(state, principal)
        return await service.set_support(db_session, principal, proposal_id, support=True)

    @delete("/{proposal_id:uuid}/support", status_code=HTTP_200_OK, summary="Withdraw support")
    async def unsupport(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        proposal_id: FromPath[uuid.UUID],
    ) -> SupportOut:
        await _limit_support(state, principal)
        return await service.set_support(db_session, principal, proposal_id, support=False)

    @put(
        "/{proposal_id:uuid}/reaction",
        summary="Agree, disagree or pass on a suggestion (one reaction, changeable)",
    )
    async def react(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        proposal_id: FromPath[uuid.UUID],
        data: JSONBody[ReactionIn],
    ) -> ReactionOut:
        await _limit_support(state, principal)
        return await service.set_reaction(db_session, principal, proposal_id, data)

    @delete("/{proposal_id:uuid}/reaction", status_code=HTTP_200_OK, summary="Withdraw my reaction")
    async def unreact(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        proposal_id: FromPath[uuid.UUID],
    ) -> ReactionOut:
        await _limit_support(state, principal)
        return await service.set_reaction(db_session, principal, proposal_id, None)

    @post("/{proposal_id:uuid}/replies", summary="Official reply (committee, street, planner)")
    async def reply(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        proposal_id: FromPath[uuid.UUID],
        data: JSONBody[ReplyIn],
    ) -> ReplyOut:
        return await service.reply(
            db_session, principal, proposal_id, data, screening.screen(state.settings)
        )

    @post(
        "/{proposal_id:uuid}/transitions",
        status_code=HTTP_200_OK,
        summary="Move a suggestion to another status (committee, street)",
    )
    async def transition(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        principal: CurrentUser,
        proposal_id: FromPath[uuid.UUID],
        data: JSONBody[TransitionIn],
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
    ) -> ProposalDetailOut:
        return await service.transition(
            db_session, _viewer(request, principal, coord_sys), proposal_id, data
        )


async def _limit_support(state: State, principal: Principal) -> None:
    settings = state.settings
    await state.limiter.check(
        f"support:{principal.user_id}",
        settings.proposal_support_limit,
        settings.proposal_support_window_s,
    )


class MyProposalsController(Controller):
    path = "/api/v1/me"
    tags = ["proposals"]

    @get("/proposals", summary="My suggestions, newest first")
    async def my_proposals(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        principal: CurrentUser,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
    ) -> Page[ProposalOut]:
        items, next_cursor = await service.list_mine(
            db_session, _viewer(request, principal, coord_sys), cursor=cursor, limit=limit
        )
        return Page(items=items, next_cursor=next_cursor)

    @get("/notifications", summary="Replies and status changes of my suggestions and supports")
    async def notifications(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        unread: FromQuery[bool] = False,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Page[NotificationOut]:
        items, next_cursor = await service.list_notifications(
            db_session, principal, unread_only=unread, cursor=cursor, limit=limit
        )
        return Page(items=items, next_cursor=next_cursor)

    @post("/notifications/read", status_code=HTTP_200_OK, summary="Mark notifications read")
    async def mark_read(
        self, db_session: DbSession, principal: CurrentUser, data: JSONBody[NotificationsReadIn]
    ) -> ReadOut:
        return await service.mark_read(db_session, principal, data)
