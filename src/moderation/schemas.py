from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from pydantic import Field

from src.core.schemas import RequestModel, ResponseModel
from src.models.moderation import ItemSource, ItemStatus, ReportReason
from src.models.proposal import ProposalStatus


class ReportIn(RequestModel):
    reason: ReportReason
    note: str | None = Field(default=None, min_length=1, max_length=500)


class ReportOut(ResponseModel):
    id: uuid.UUID
    proposal_id: uuid.UUID
    reason: ReportReason
    note: str | None
    created_at: dt.datetime


class DecisionAction(StrEnum):
    hide = "hide"
    keep = "keep"


class DecisionIn(RequestModel):
    action: DecisionAction
    reason: str = Field(min_length=1, max_length=500)


class QueueProposalOut(ResponseModel):
    id: uuid.UUID
    title: str
    body: str
    status: ProposalStatus
    author_id: uuid.UUID


class QueueItemOut(ResponseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    source: ItemSource  # how it came to the queue (first): held for its words, or reported
    words: list[str]  # the sensitive words found (staff only)
    reports: int
    report_reasons: dict[str, int]
    status: ItemStatus
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decision_reason: str | None
    proposal: QueueProposalOut
