"""Moderation: residents' reports of suggestions and the queue committees and streets work."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base
from src.core.ids import new_id


class ReportReason(enum.StrEnum):
    abusive = "abusive"
    spam = "spam"
    personal_data = "personal_data"
    duplicate = "duplicate"
    other = "other"


class ItemSource(enum.StrEnum):
    sensitive_words = "sensitive_words"  # held on submission
    report = "report"  # reported by residents


class ItemStatus(enum.StrEnum):
    open = "open"
    hidden = "hidden"
    kept = "kept"


class ProposalReport(Base):
    """One report per resident per suggestion (the unique constraint decides)."""

    __tablename__ = "proposal_reports"
    __table_args__ = (
        Index("uq_proposal_reports_reporter", "proposal_id", "reporter_id", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    proposal_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("proposals.id", ondelete="CASCADE")
    )
    reporter_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class ModerationItem(Base):
    """A suggestion waiting for a decision: held on submission or reported. At most one open
    item per suggestion (partial unique index); reports of it add to ``reports``."""

    __tablename__ = "moderation_items"
    __table_args__ = (
        Index(
            "uq_moderation_items_open",
            "proposal_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_moderation_items_community", "community_id", "status", "created_at", "id"),
        Index("ix_moderation_items_street", "street_id", "status", "created_at", "id"),
        CheckConstraint("status IN ('open', 'hidden', 'kept')", name="status_known"),
        CheckConstraint("source IN ('sensitive_words', 'report')", name="source_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    proposal_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("proposals.id", ondelete="CASCADE")
    )
    community_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("areas.id"))
    street_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("areas.id"))
    source: Mapped[str] = mapped_column(String(16))
    words: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    reports: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(8), default="open", server_default="open")
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(String(500))
