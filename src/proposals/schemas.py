from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from pydantic import Field, model_validator

from src.core.geo import Location
from src.core.schemas import RequestModel, ResponseModel
from src.models.proposal import NotificationKind, ProposalStatus, ReactionValue

TITLE_MAX = 80
BODY_MAX = 2000
REPLY_MAX = 2000
REASON_MAX = 500
PHOTOS_MAX = 9
QUERY_MAX = 50
ANONYMOUS_ZH = "匿名居民"
ANONYMOUS_EN = "Anonymous resident"


SORT_DESCRIPTION = (
    "`newest` (default); `most_supported`; `consensus`: most widely agreed first, ranked by "
    "the Wilson lower bound (95 %, z = 1.96) of the agree share among all reactions "
    "(agree / (agree + disagree + pass)); `controversial`: most divided first, ranked by the "
    "Wilson lower bound of the minority share min(agree, disagree) / (agree + disagree) times "
    "ln(1 + agree + disagree). Lower bounds keep a handful of reactions from outranking "
    "hundreds; ties by id."
)


class ProposalSort(StrEnum):
    """How a list is ordered (SORT_DESCRIPTION; docs/proposals-deliberation.md)."""

    newest = "newest"
    most_supported = "most_supported"
    consensus = "consensus"
    controversial = "controversial"


class ProposalIn(RequestModel):
    title: str = Field(min_length=2, max_length=TITLE_MAX)
    body: str = Field(min_length=1, max_length=BODY_MAX)
    category: str = Field(min_length=1, max_length=32)
    community_id: uuid.UUID | None = None
    location: Location | None = None
    event_id: uuid.UUID | None = None
    anonymous: bool = False
    photo_ids: list[uuid.UUID] = Field(default_factory=list, max_length=PHOTOS_MAX)


class ReactionIn(RequestModel):
    value: ReactionValue


class ReplyIn(RequestModel):
    body: str = Field(min_length=1, max_length=REPLY_MAX)


class TransitionIn(RequestModel):
    to: ProposalStatus
    reason: str | None = Field(default=None, min_length=1, max_length=REASON_MAX)
    merged_into: uuid.UUID | None = None
    project_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _fields_match_target(self) -> TransitionIn:
        if self.merged_into is not None and self.to != ProposalStatus.merged:
            raise ValueError("merged_into is only allowed with to=merged")
        if self.project_id is not None and self.to != ProposalStatus.adopted:
            raise ValueError("project_id is only allowed with to=adopted")
        return self


class NotificationsReadIn(RequestModel):
    ids: list[uuid.UUID] | None = Field(default=None, max_length=100)
    all: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> NotificationsReadIn:
        if not self.all and not self.ids:
            raise ValueError("give ids or all=true")
        return self


class CategoryOut(ResponseModel):
    code: str
    name: str
    group: str
    name_zh: str
    name_en: str


class AuthorOut(ResponseModel):
    id: uuid.UUID | None
    display_name: str


class PhotoOut(ResponseModel):
    id: uuid.UUID
    url: str


class ProposalOut(ResponseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    street_id: uuid.UUID
    # Street code, year, number (src/proposals/references.py): read out on the phone.
    reference: str
    title: str
    body: str
    category: str
    status: ProposalStatus
    support_count: int
    supported_by_me: bool
    agree_count: int
    disagree_count: int
    pass_count: int
    my_reaction: ReactionValue | None
    anonymous: bool
    is_mine: bool
    author: AuthorOut
    location: Location | None
    event_id: uuid.UUID | None
    project_id: uuid.UUID | None
    merged_into: uuid.UUID | None
    photos: list[PhotoOut]
    created_at: dt.datetime
    updated_at: dt.datetime


class ReplyOut(ResponseModel):
    id: uuid.UUID
    body: str
    author_name: str
    author_role: str
    created_at: dt.datetime


class TransitionOut(ResponseModel):
    from_status: ProposalStatus
    to_status: ProposalStatus
    reason: str | None
    actor_role: str
    at: dt.datetime


class ProposalDetailOut(ProposalOut):
    replies: list[ReplyOut]
    history: list[TransitionOut]


class SupportOut(ResponseModel):
    support_count: int
    supported_by_me: bool


class ReactionOut(ResponseModel):
    agree_count: int
    disagree_count: int
    pass_count: int
    my_reaction: ReactionValue | None


class SimilarOut(ResponseModel):
    id: uuid.UUID
    title: str
    status: ProposalStatus
    support_count: int
    similarity: float  # the text score, 0–1 (pg_trgm over similar_text)
    distance_m: float | None  # from the given point, when both have one
    created_at: dt.datetime


class NotificationOut(ResponseModel):
    id: uuid.UUID
    kind: NotificationKind
    proposal_id: uuid.UUID
    proposal_title: str
    proposal_reference: str
    status: str | None
    created_at: dt.datetime
    read: bool
    read_at: dt.datetime | None


class ReadOut(ResponseModel):
    marked: int


class StatsOut(ResponseModel):
    total: int
    supports: int
    by_status: dict[str, int]
    by_category: dict[str, int]
    by_community: dict[str, int]
