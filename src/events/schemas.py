"""Request and response models of meetings (events)."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from src.core.schemas import RequestModel, ResponseModel
from src.models.event import EventKind, EventStatus

TITLE_MAX = 100
DESCRIPTION_MAX = 5000
VENUE_MAX = 200
OPTION_IMAGES_MAX = 9
OPTIONS_MAX = 30


class Eligibility(StrEnum):
    community_residents = "community_residents"  # verified residents of the community
    checked_in = "checked_in"  # verified residents of the community checked in at the venue


class ResultsVisibility(StrEnum):
    live = "live"
    after_vote = "after_vote"
    after_close = "after_close"


class VotingRules(RequestModel):
    """The rules of a meeting's vote (coordination) or rating (review), stored as JSON."""

    method: Literal["single", "multiple"] = "single"
    max_choices: int = Field(default=1, ge=1, le=OPTIONS_MAX)
    eligibility: Eligibility = Eligibility.community_residents
    results_visibility: ResultsVisibility = ResultsVisibility.after_close
    # The least number of participants (online ballots + paper voters) for a valid result.
    quorum: int | None = Field(default=None, ge=1, le=10_000_000)
    # How many residents may vote, on the app or not (paper, hands): turnout is participants
    # over this or the eligible app users, whichever is larger (src/votes/tally.py).
    electorate: int | None = Field(default=None, ge=1, le=10_000_000)

    @field_validator("electorate", mode="before")
    @classmethod
    def _whole_number(cls, value: object) -> object:
        # A count of people: a JSON integer, not "7", 7.0 or true.
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError("must be a whole number of residents")
        return value

    @model_validator(mode="after")
    def _single_means_one(self) -> VotingRules:
        if self.method == "single" and self.max_choices != 1:
            raise ValueError("max_choices must be 1 when method is single")
        return self


class EventIn(RequestModel):
    kind: EventKind
    title: str = Field(min_length=2, max_length=TITLE_MAX)
    community_id: uuid.UUID
    project_id: uuid.UUID | None = None
    starts_at: dt.datetime
    ends_at: dt.datetime
    venue: str | None = Field(default=None, min_length=1, max_length=VENUE_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    voting: VotingRules | None = None

    @model_validator(mode="after")
    def _times(self) -> EventIn:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a UTC offset (RFC 3339)")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class OptionIn(RequestModel):
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    image_ids: list[uuid.UUID] = Field(default_factory=list, max_length=OPTION_IMAGES_MAX)


class OptionOut(ResponseModel):
    id: uuid.UUID
    title: str
    description: str
    image_ids: list[uuid.UUID]
    position: int


class EventOut(ResponseModel):
    id: uuid.UUID
    kind: EventKind
    status: EventStatus
    title: str
    description: str
    venue: str | None
    community_id: uuid.UUID
    street_id: uuid.UUID
    project_id: uuid.UUID | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    voting: VotingRules | None
    options: list[OptionOut]
    check_in_count: int
    voter_count: int
    created_at: dt.datetime
    opened_at: dt.datetime | None
    closed_at: dt.datetime | None
    cancelled_at: dt.datetime | None


class EventWhen(StrEnum):
    upcoming = "upcoming"  # not ended yet
    past = "past"  # ended


class CheckInCodeOut(ResponseModel):
    code: str
    expires_at: dt.datetime
    # What the QR image encodes: the mini-program opens it and posts the code.
    qr_payload: str


class CheckInIn(RequestModel):
    code: str = Field(min_length=1, max_length=32)


class CheckInOut(ResponseModel):
    event_id: uuid.UUID
    checked_in_at: dt.datetime
    check_in_count: int
