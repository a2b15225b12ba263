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
    # Who may vote: ``voting.electorate`` or the eligible app users, whichever is larger
    # (frozen results from before electorates existed: None).
    electorate: int | None = None
    turnout: float  # participants ÷ electorate, at most 1.0
    quorum: int | None
    quorum_met: bool
    total_votes: int | None
    options: list[OptionResult]
    check_in_count: int = 0
    # After close: SHA-256 (hex) of the published receipts list in its canonical order
    # (src/votes/digest.py says exactly what is hashed); None while the meeting is open.
    digest: str | None = Field(
        default=None,
        description=(
            "After close: SHA-256 (64 hex digits) of the published receipts list "
            "(GET …/receipts, every page) serialised as one line per ballot in receipt order, "
            "'RECEIPT id,id' with the option ids ascending and lowercase, each line ending in "
            "LF, UTF-8. None while the meeting is open."
        ),
    )
    computed_at: dt.datetime


class PaperCountsIn(RequestModel):
    # Option id → paper ballots or raised hands; checked by the service (``invalid_count``).
    # The values are read as Any so a bad one is ``invalid_count``, not a generic type error;
    # the document still says what a client must send.
    counts: dict[str, Any] = Field(
        min_length=1,
        max_length=MAX_CHOICES,
        json_schema_extra={"additionalProperties": {"type": "integer", "minimum": 0}},
    )
    # People who voted on paper or by hand; defaults to the sum for single-choice votes.
    voters: int | None = Field(default=None, ge=0, le=1_000_000)
    note: str | None = Field(default=None, max_length=NOTE_MAX)


# --- the projector: display links, its view, stream tickets ---------------------------------


class DisplayLinkCreated(ResponseModel):
    id: uuid.UUID
    # Shown once (only its hash is kept): open it on the projector. The secret is in the
    # fragment (``#display=…``), which browsers never send to a server.
    url: str
    expires_at: dt.datetime


class DisplayLinkOut(ResponseModel):
    id: uuid.UUID
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    active: bool


class CheckInQrOut(ResponseModel):
    code: str
    expires_at: dt.datetime
    image: str  # the QR as a data: URI (PNG)


class DisplayOut(ResponseModel):
    """A meeting's public view, as the venue's big screen shows it."""

    event_id: uuid.UUID
    title: str
    venue: str | None
    status: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    time_zone: str  # the zone the screen shows times in (Asia/Shanghai)
    link_expires_at: dt.datetime
    results: ResultsOut  # option figures withheld (``hidden``) as the visibility rule says
    check_in: CheckInQrOut | None  # None once the meeting has closed


class StreamTicketOut(ResponseModel):
    ticket: str
    expires_in: int  # seconds within which the stream must be opened
