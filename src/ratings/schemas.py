from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from src.core.schemas import RequestModel, ResponseModel
from src.proposals.schemas import PhotoOut

COMMENT_MAX = 1000
REASON_MAX = 500
PHOTOS_MAX = 9
CRITERIA_MAX = 8
SCORES = (1, 2, 3, 4, 5)
# A criterion code as clients send it; the meeting's list decides which are known.
CriterionCode = Annotated[str, StringConstraints(min_length=1, max_length=32)]


def _strict_ints(value: dict[str, Any]) -> dict[str, int]:
    # Whole JSON numbers only: "5", 4.5, true and null are malformed, not scores. (The body
    # arrives already decoded, so this is checked here rather than with StrictInt.)
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, int):
            raise ValueError(f"{key}: a whole number is required")
    return value


class RatingIn(RequestModel):
    # Strict ints: "5", 4.5 and true are refused as malformed; the range (1–5) and the
    # criteria are checked against the meeting, each with its own code.
    scores: dict[CriterionCode, Any] = Field(
        min_length=1, max_length=16, json_schema_extra={"additionalProperties": {"type": "integer"}}
    )
    comment: str | None = Field(default=None, max_length=COMMENT_MAX)
    photo_ids: list[uuid.UUID] = Field(default_factory=list, max_length=PHOTOS_MAX)

    @field_validator("scores")
    @classmethod
    def _integers(cls, value: dict[str, Any]) -> dict[str, int]:
        return _strict_ints(value)


class CriterionIn(RequestModel):
    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    name_zh: str = Field(min_length=1, max_length=50)
    name_en: str = Field(min_length=1, max_length=80)


class CriteriaIn(RequestModel):
    criteria: list[CriterionIn] = Field(min_length=1, max_length=CRITERIA_MAX)


class CriterionOut(ResponseModel):
    code: str
    name: str
    name_zh: str
    name_en: str


class CriteriaOut(ResponseModel):
    event_id: uuid.UUID
    criteria: list[CriterionOut]


class HideIn(RequestModel):
    reason: str = Field(min_length=1, max_length=REASON_MAX)


class PaperCountsIn(RequestModel):
    # criterion → {"1": n, …, "5": n}: the paper sheets counted at the venue.
    counts: dict[CriterionCode, dict[str, Any]] = Field(min_length=1, max_length=16)
    note: str | None = Field(default=None, max_length=500)

    @field_validator("counts")
    @classmethod
    def _integers(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
        return {c: _strict_ints(by) for c, by in value.items()}


class ToProposalIn(RequestModel):
    title: str = Field(min_length=2, max_length=80)
    category: str = Field(min_length=1, max_length=32)
    # Defaults to the comment itself.
    body: str | None = Field(default=None, min_length=1, max_length=2000)


class RatingOut(ResponseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    project_id: uuid.UUID | None
    scores: dict[str, int]
    comment: str | None
    comment_hidden: bool
    # Shown to the author and to staff only.
    hidden_reason: str | None
    photos: list[PhotoOut]
    revision: int
    proposal_id: uuid.UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime


class RevisionOut(ResponseModel):
    revision: int
    scores: dict[str, int]
    comment: str | None
    valid_from: dt.datetime
    replaced_at: dt.datetime


class MyRatingOut(RatingOut):
    history: list[RevisionOut]


class CommentOut(ResponseModel):
    rating_id: uuid.UUID
    comment: str
    scores: dict[str, int]
    hidden: bool
    hidden_reason: str | None
    is_mine: bool
    # Staff only: who wrote it.
    author_name: str | None
    proposal_id: uuid.UUID | None
    created_at: dt.datetime


class PartOut(ResponseModel):
    """Count, means, distribution and satisfaction rate of one set of ratings."""

    count: int
    means: dict[str, float | None]
    distribution: dict[str, dict[str, int]]
    satisfaction_rate: float | None


class SummaryOut(PartOut):
    # The totals above include the paper ratings; ``app`` and ``paper`` show them apart.
    app: PartOut
    paper: PartOut
    criteria: list[str]


class EventSummaryOut(SummaryOut):
    event_id: uuid.UUID
    status: str
    final: bool


class ProjectSatisfactionOut(SummaryOut):
    project_id: uuid.UUID
    meetings: int


class RankedProjectOut(ResponseModel):
    rank: int
    project_id: uuid.UUID
    title: str
    community_id: uuid.UUID
    count: int
    mean_overall: float
    satisfaction_rate: float


class AreaSatisfactionOut(SummaryOut):
    area_id: uuid.UUID
    level: str
    min_ratings: int
    ranking: list[RankedProjectOut]
