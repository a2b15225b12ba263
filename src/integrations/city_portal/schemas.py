from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any, Literal

from pydantic import Field

from src.core.schemas import RequestModel, ResponseModel


class PortalLoginIn(RequestModel):
    ticket: str = Field(
        min_length=8, max_length=256, pattern=r"^[A-Za-z0-9._~-]+$",
        description="The single-sign-on ticket the portal handed to the mini-program",
    )


class OutboxStatus(enum.StrEnum):
    pending = "pending"
    failed = "failed"  # dead-lettered: waits for an admin's retry
    delivered = "delivered"


class OutboxItemOut(ResponseModel):
    id: int
    topic: str
    ordering_key: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: dt.datetime
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    last_error: str | None
    payload: dict[str, Any]


class InboundCounts(ResponseModel):
    applied: int = 0
    unchanged: int = 0
    illegal_transition: int = 0
    unknown_proposal: int = 0
    unknown_status: int = 0
    unknown_user: int = 0
    unknown_community: int = 0


class PortalMetricsOut(ResponseModel):
    pending: int
    due: int
    retrying: int
    failed: int
    delivered: int
    blocked_keys: int = Field(description="Ordering keys held by a dead-lettered item")
    oldest_age_s: float | None = Field(
        description="Age of the oldest undelivered (pending or failed) item"
    )
    inbound: InboundCounts


class WebhookEventIn(RequestModel):
    event_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    type: Literal["proposal.status_changed", "identity.changed"]
    occurred_at: dt.datetime
    data: dict[str, Any]


class ProposalStatusData(RequestModel):
    proposal_id: uuid.UUID
    status: str = Field(min_length=1, max_length=32)
    reason: str | None = Field(default=None, max_length=500)
    merged_into: uuid.UUID | None = None


class IdentityData(RequestModel):
    portal_user_id: str = Field(min_length=1, max_length=64)
    verified: bool | None = None
    community_code: str | None = Field(default=None, max_length=32)
    disabled: bool | None = None


class WebhookOut(ResponseModel):
    event_id: str
    outcome: str
    duplicate: bool
    detail: str | None = None
