from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import Field, field_validator

from src.core.schemas import RequestModel, ResponseModel
from src.models.facility_review import REASONS

Reason = Literal[
    "opening_hours", "staff_attitude", "cleanliness", "accessibility", "waiting_time", "other"
]
COMMENT_MAX = 500


class ReviewIn(RequestModel):
    verdict: Literal["good", "bad"]
    reasons: list[Reason] = Field(default_factory=list, max_length=len(REASONS))
    comment: str | None = Field(default=None, max_length=COMMENT_MAX)

    @field_validator("reasons")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        return sorted(set(value), key=REASONS.index)


class ReviewOut(ResponseModel):
    id: uuid.UUID
    facility_id: uuid.UUID
    month: str  # "2026-12"
    verdict: str
    reasons: list[str]
    comment: str | None
    created: bool  # false: this month's review was changed
    updated_at: dt.datetime


class ReviewSummaryOut(ResponseModel):
    facility_id: uuid.UUID
    count: int
    good: int
    bad: int
    good_share: float | None
    this_month: dict[str, int]  # {"good": n, "bad": n}
    reasons: dict[str, dict[str, int]]  # verdict → reason → n
    responsible_area_id: uuid.UUID | None


class ReviewCommentOut(ResponseModel):
    id: uuid.UUID
    month: str
    verdict: str
    reasons: list[str]
    comment: str
    author: str  # masked: 王**
    updated_at: dt.datetime


class RankedFacilityOut(ResponseModel):
    rank: int
    facility_id: uuid.UUID
    name: str
    category: str
    count: int
    good: int
    good_share: float


class FacilityRankingOut(ResponseModel):
    area_id: uuid.UUID
    category: str | None
    min_reviews: int
    items: list[RankedFacilityOut]
