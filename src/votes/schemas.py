"""Request and response models of votes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import Field

from src.core.schemas import RequestModel, ResponseModel

MAX_CHOICES = 30
NOTE_MAX = 500


class BallotIn(RequestModel):
    option_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_CHOICES)


class BallotOut(ResponseModel):
    ballot_id: uuid.UUID
    # Shown once: keep it to find your ballot in the published receipts after close.
    receipt: str


class ReceiptOut(ResponseModel):
    receipt: str
    option_ids: list[uuid.UUID]


class MyBallotOut(ResponseModel):
    event_id: uuid.UUID
    voted: bool
    # With ``?receipt=`` after close: the ballot published under that receipt.
    ballot: ReceiptOut | None = None


class OptionResult(ResponseModel):
    id: uuid.UUID
    title: str
    votes: int | None  # online + paper; None while hidden
    share: float | None
    online_votes: int | None
    paper_votes: int | None


class ResultsOut(ResponseModel):
    event_id: uuid.UUID
    status: str
    final: bool
    hidden: bool  # per-option figures withheld by the results_visibility rule
    eligible_count: int
    voters: int  # online ballots (equal to the number of voters)
    paper_voters: int
    participants: int
    turnout: float
    quorum: int | None
    quorum_met: bool
    total_votes: int | None
    options: list[OptionResult]
    computed_at: dt.datetime


class PaperCountsIn(RequestModel):
    # Option id → paper ballots or raised hands; checked by the service (``invalid_count``).
    counts: dict[str, Any] = Field(min_length=1, max_length=MAX_CHOICES)
    # People who voted on paper or by hand; defaults to the sum for single-choice votes.
    voters: int | None = Field(default=None, ge=0, le=1_000_000)
    note: str | None = Field(default=None, max_length=NOTE_MAX)
