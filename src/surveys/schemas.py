from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from src.core.geo import Location
from src.core.schemas import RequestModel, ResponseModel
from src.models.survey import Channel, QuestionKind, SurveyStatus

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
QUESTIONS_MAX = 50
OPTIONS_MAX = 30
TEXT_MAX = 1000


class OptionIn(RequestModel):
    key: Key
    label: str = Field(min_length=1, max_length=200)


class ScaleIn(RequestModel):
    min: int = Field(ge=-100, le=100)
    max: int = Field(ge=-100, le=100)
    labels: dict[str, Annotated[str, StringConstraints(max_length=50)]] | None = Field(
        default=None, max_length=21
    )


class QuestionIn(RequestModel):
    key: Key
    kind: QuestionKind
    title: str = Field(min_length=1, max_length=200)
    required: bool = False
    options: list[OptionIn] | None = Field(default=None, max_length=OPTIONS_MAX)
    min_choices: int | None = Field(default=None, ge=0, le=OPTIONS_MAX)
    max_choices: int | None = Field(default=None, ge=1, le=OPTIONS_MAX)
    scale: ScaleIn | None = None


class SurveyIn(RequestModel):
    title: str = Field(min_length=2, max_length=100)
    description: str = Field(default="", max_length=5000)
    area_id: uuid.UUID
    year: int = Field(ge=2000, le=2100)
    opens_at: dt.datetime
    closes_at: dt.datetime
    anonymous: bool = False
    questions: list[QuestionIn] = Field(min_length=1, max_length=QUESTIONS_MAX)


class SurveyPatch(RequestModel):
    title: str | None = Field(default=None, min_length=2, max_length=100)
    description: str | None = Field(default=None, max_length=5000)
    opens_at: dt.datetime | None = None
    closes_at: dt.datetime | None = None
    anonymous: bool | None = None
    questions: list[QuestionIn] | None = Field(default=None, min_length=1, max_length=QUESTIONS_MAX)


class ResponseIn(RequestModel):
    # Each value is checked against its question (kind, options, bounds) by the service,
    # with one field-level error per answer (``answers.<key>``).
    answers: dict[Annotated[str, StringConstraints(max_length=32)], Any] = Field(
        max_length=QUESTIONS_MAX
    )
    channel: Channel = Channel.online
    # Paper only: the sheet's number (a re-entered sheet is refused) and the respondent's
    # community (within the survey's area).
    sheet_no: str | None = Field(default=None, min_length=1, max_length=64)
    community_id: uuid.UUID | None = None


class OptionOut(ResponseModel):
    id: uuid.UUID
    key: str
    label: str


class ScaleOut(ResponseModel):
    min: int
    max: int
    labels: dict[str, str] | None = None


class QuestionOut(ResponseModel):
    key: str
    kind: QuestionKind
    title: str
    required: bool
    options: list[OptionOut] | None = None
    min_choices: int | None = None
    max_choices: int | None = None
    scale: ScaleOut | None = None


class SurveyOut(ResponseModel):
    id: uuid.UUID
    title: str
    description: str
    area_id: uuid.UUID
    street_id: uuid.UUID
    year: int
    opens_at: dt.datetime
    closes_at: dt.datetime
    anonymous: bool
    status: SurveyStatus
    # open and within its window: residents may answer now
    accepting: bool
    # anonymous responses are final; named ones change while the survey accepts answers
    responses_changeable: bool
    questions: list[QuestionOut]
    created_at: dt.datetime
    opened_at: dt.datetime | None
    closed_at: dt.datetime | None
    responded: bool | None = None  # the caller's own, for residents


class ResponseOut(ResponseModel):
    survey_id: uuid.UUID
    channel: Channel
    # Named surveys echo what was recorded; anonymous ones show nothing of it again.
    id: uuid.UUID | None = None
    answers: dict[str, Any] | None = None
    revision: int | None = None
    sheet_no: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    final: bool


class RankItemOut(ResponseModel):
    option: str
    label: str
    rank: int
    ranked_by: int
    mean_rank: float
    borda: int


class TextOut(ResponseModel):
    id: uuid.UUID
    text: str
    channel: Channel


class PointOut(ResponseModel):
    lat: float
    lng: float
    coord_sys: str
    channel: Channel


class QuestionResultOut(ResponseModel):
    key: str
    kind: QuestionKind
    title: str
    answered: int
    answered_online: int
    answered_paper: int
    counts: dict[str, int]
    counts_online: dict[str, int]
    counts_paper: dict[str, int]
    shares: dict[str, float]
    labels: dict[str, str]
    mean: float | None = None
    distribution: dict[str, int] | None = None
    ranking: list[RankItemOut] | None = None
    texts: list[TextOut] | None = None
    texts_cursor: str | None = None
    points: list[PointOut] | None = None
    points_cursor: str | None = None


class ResultsOut(ResponseModel):
    survey_id: uuid.UUID
    status: SurveyStatus
    responses: int
    online: int
    paper: int
    residents: int
    response_rate: float | None
    response_rate_with_paper: float | None
    questions: list[QuestionResultOut]


class OptionVotes(ResponseModel):
    """What the needs list cites: an option's votes (multiple/single: chosen; ranking:
    ranked at all)."""

    option_id: uuid.UUID
    survey_id: uuid.UUID
    question_key: str
    option_key: str
    label: str
    online: int
    paper: int
    total: int


__all__ = ["Location"]
