from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from src.core.deps import CurrentUser, DbSession
from src.core.errors import wants_english
from src.core.geo import CoordSys
from src.core.pagination import DEFAULT_LIMIT, Limit, Page
from src.moderation import screening
from src.proposals.schemas import ProposalDetailOut
from src.proposals.service import Viewer
from src.ratings import service
from src.ratings.schemas import (
    AreaSatisfactionOut,
    CommentOut,
    CriteriaIn,
    CriteriaOut,
    EventSummaryOut,
    HideIn,
    MyRatingOut,
    PaperCountsIn,
    ProjectSatisfactionOut,
    RatingIn,
    RatingOut,
    ToProposalIn,
)

MinRatings = Annotated[int, QueryParameter(ge=1, le=1_000_000)]
DEFAULT_MIN_RATINGS = 5


class EventRatingController(Controller):
    path = "/api/v1/events/{event_id:uuid}/ratings"
    tags = ["ratings"]

    @post("/", summary="Rate the project of an open review meeting (once per resident)")
    async def rate(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[RatingIn],
    ) -> RatingOut:
        screen = screening.screen(state.settings)
        return await service.submit(db_session, principal, event_id, data, screen)

    @get("/mine", summary="My rating of this meeting, with its earlier versions")
    async def mine(
        self, db_session: DbSession, principal: CurrentUser, event_id: FromPath[uuid.UUID]
    ) -> MyRatingOut:
        return await service.get_mine(db_session, principal, event_id)

    @put("/mine", summary="Change my rating while the meeting is open (history kept)")
    async def change_mine(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[RatingIn],
    ) -> MyRatingOut:
        screen = screening.screen(state.settings)
        return await service.change_mine(db_session, principal, event_id, data, screen)

    @get("/summary", summary="Count, means, distribution and satisfaction rate of the meeting")
    async def summary(
        self, db_session: DbSession, principal: CurrentUser, event_id: FromPath[uuid.UUID]
    ) -> EventSummaryOut:
        return await service.event_summary(db_session, principal, event_id)

    @get("/criteria", summary="The criteria residents rate at this meeting")
    async def criteria(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
    ) -> CriteriaOut:
        return await service.get_criteria(db_session, principal, event_id, wants_english(request))

    @put("/criteria", summary="Set the meeting's own criteria while it is a draft (committee)")
    async def set_criteria(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[CriteriaIn],
    ) -> CriteriaOut:
        return await service.set_criteria(
            db_session, principal, event_id, data, wants_english(request)
        )

    @get("/comments", summary="Comments of the ratings (moderated), newest first")
    async def comments(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Page[CommentOut]:
        items, next_cursor = await service.list_comments(
            db_session, principal, event_id, cursor=cursor, limit=limit
        )
        return Page(items=items, next_cursor=next_cursor)

    @post(
        "/{rating_id:uuid}/hide",
        status_code=HTTP_200_OK,
        summary="Hide a rating's comment, with a reason (committee, street)",
    )
    async def hide(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        rating_id: FromPath[uuid.UUID],
        data: JSONBody[HideIn],
    ) -> RatingOut:
        return await service.hide_comment(db_session, principal, event_id, rating_id, data)

    @post(
        "/{rating_id:uuid}/restore",
        status_code=HTTP_200_OK,
        summary="Show a hidden comment again (committee, street)",
    )
    async def restore(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        rating_id: FromPath[uuid.UUID],
    ) -> RatingOut:
        return await service.restore_comment(db_session, principal, event_id, rating_id)

    @post(
        "/{rating_id:uuid}/proposal",
        summary="Turn a rating's comment into a new suggestion (committee, street)",
    )
    async def to_proposal(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        rating_id: FromPath[uuid.UUID],
        data: JSONBody[ToProposalIn],
    ) -> ProposalDetailOut:
        viewer = Viewer(principal, wants_english(request), CoordSys.gcj02)
        return await service.to_proposal(db_session, viewer, event_id, rating_id, data)

    @post("/paper-counts", summary="Enter the paper ratings counted at the venue (committee)")
    async def paper_counts(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[PaperCountsIn],
    ) -> EventSummaryOut:
        return await service.enter_paper_counts(db_session, principal, event_id, data)


class SatisfactionController(Controller):
    path = "/api/v1"
    tags = ["ratings"]

    @get(
        "/projects/{project_id:uuid}/satisfaction",
        summary="Satisfaction over all review meetings of a project",
    )
    async def project(
        self, db_session: DbSession, principal: CurrentUser, project_id: FromPath[uuid.UUID]
    ) -> ProjectSatisfactionOut:
        return await service.project_satisfaction(db_session, principal, project_id)

    @get(
        "/areas/{area_id:uuid}/satisfaction",
        summary="Satisfaction of a community or street, with the ranking of its projects",
    )
    async def area(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        min_ratings: MinRatings = DEFAULT_MIN_RATINGS,
        limit: Limit = DEFAULT_LIMIT,
    ) -> AreaSatisfactionOut:
        return await service.area_satisfaction(
            db_session, principal, area_id, min_ratings=min_ratings, limit=limit
        )
