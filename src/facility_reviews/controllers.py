from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from src.core.deps import CurrentUser, DbSession
from src.core.pagination import DEFAULT_LIMIT, Limit, Page
from src.facility_reviews import service
from src.facility_reviews.schemas import (
    FacilityRankingOut,
    ReviewCommentOut,
    ReviewIn,
    ReviewOut,
    ReviewSummaryOut,
)

MinReviews = Annotated[int, QueryParameter(ge=1, le=1_000_000)]
DEFAULT_MIN_REVIEWS = 5


class FacilityReviewController(Controller):
    path = "/api/v1/facilities/{facility_id:uuid}/reviews"
    tags = ["facility reviews"]

    @post(
        "/",
        summary="Review a facility good or bad (once a month; posting again changes it)",
        description="201 with the caller's review of this month as it now stands, whether "
        "new or changed (`created` says which).",
        status_code=HTTP_201_CREATED,
    )
    async def review(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        facility_id: FromPath[uuid.UUID],
        data: JSONBody[ReviewIn],
    ) -> ReviewOut:
        return await service.review(db_session, principal, facility_id, data)

    @get("/summary", summary="Good and bad reviews of a facility, with their reasons")
    async def summary(
        self, db_session: DbSession, principal: CurrentUser, facility_id: FromPath[uuid.UUID]
    ) -> ReviewSummaryOut:
        return await service.summary(db_session, facility_id)

    @get("/", summary="Review comments, authors masked (the facility's responsible unit)")
    async def comments(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        facility_id: FromPath[uuid.UUID],
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Page[ReviewCommentOut]:
        items, next_cursor = await service.comments(
            db_session, principal, facility_id, cursor=cursor, limit=limit
        )
        return Page(items=items, next_cursor=next_cursor)


class FacilityRankingController(Controller):
    path = "/api/v1/areas/{area_id:uuid}/facility-ranking"
    tags = ["facility reviews"]

    @get("/", summary="Facilities of an area by good-review share (with a minimum count)")
    async def ranking(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        category: Annotated[str | None, QueryParameter(max_length=40)] = None,
        min_reviews: MinReviews = DEFAULT_MIN_REVIEWS,
        limit: Limit = DEFAULT_LIMIT,
    ) -> FacilityRankingOut:
        return await service.ranking(
            db_session, area_id, category=category, min_reviews=min_reviews, limit=limit
        )
