"""What the city portal told us: each webhook event (applied once, by its event id) and the
nonces of signed webhook calls (against replays)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base


class PortalInboundEvent(Base):
    __tablename__ = "portal_inbound_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), index=True)
    # applied | illegal_transition | unknown_proposal | unknown_status | unknown_user | ignored
    outcome: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str | None] = mapped_column(String(300))
    proposal_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)


class PortalWebhookNonce(Base):
    __tablename__ = "portal_webhook_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), index=True)
