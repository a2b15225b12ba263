"""Meetings (一图三会: consultation, coordination, review), their design options, check-ins,
and the secret ballot of coordination meetings.

Secrecy: ``ballot_voters`` records *who* voted, ``ballots`` *what* was chosen. Nothing links
the two: ballots carry a random (v4) id, no user, no timestamp; at close the ballots of the
meeting are rewritten in random order, so the physical order no longer tells the sequence.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base
from src.core.ids import new_id


class EventKind(enum.StrEnum):
    consultation = "consultation"  # 征询会
    coordination = "coordination"  # 协调会
    review = "review"  # 评议会


class EventStatus(enum.StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"
    cancelled = "cancelled"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_events_community_starts", "community_id", text("starts_at DESC"), "id"),
        Index("ix_events_street_starts", "street_id", text("starts_at DESC"), "id"),
        Index("ix_events_project", "project_id", postgresql_where=text("project_id IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    kind: Mapped[EventKind] = mapped_column(Enum(EventKind, name="event_kind"))
    status: Mapped[EventStatus] = mapped_column(
        Enum(EventStatus, name="event_status"), default=EventStatus.draft
    )
    community_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("areas.id"))
    street_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("areas.id"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id")
    )
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    venue: Mapped[str | None] = mapped_column(String(200))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    # The rules of the vote or rating (method, max_choices, eligibility, results_visibility,
    # quorum, …); NULL for meetings without one (most consultations).
    voting: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The results frozen at close.
    final_results: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # How many people voted on paper or by hand at the venue (the committee's entry).
    paper_voters: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    opened_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]


class EventOption(Base):
    """A design option of a coordination meeting."""

    __tablename__ = "event_options"
    __table_args__ = (Index("ix_event_options_event", "event_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    image_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), default=list, server_default="{}"
    )


class EventCheckIn(Base):
    """A resident checked in at the venue; the primary key makes it once per meeting."""

    __tablename__ = "event_check_ins"

    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    checked_in_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class BallotVoter(Base):
    """Who voted (never what). The primary key is the "one resident, one ballot" rule. The
    first reply of an idempotent ballot is kept sealed in ``idempotency_keys``
    (src/core/idempotency.py), never here."""

    __tablename__ = "ballot_voters"

    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class Ballot(Base):
    """What was chosen: a random id, the receipt and the options. No voter, no time."""

    __tablename__ = "ballots"
    __table_args__ = (
        CheckConstraint("cardinality(option_ids) >= 1", name="not_empty"),
        Index("ix_ballots_event", "event_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE")
    )
    receipt: Mapped[str] = mapped_column(String(32), unique=True)
    option_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))


class PaperCount(Base):
    """Paper ballots or raised hands counted at the venue, per option (latest entry wins)."""

    __tablename__ = "paper_counts"
    __table_args__ = (CheckConstraint("votes >= 0", name="votes_non_negative"),)

    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    option_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("event_options.id", ondelete="CASCADE"), primary_key=True
    )
    votes: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(500))
    entered_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    entered_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class EventDisplayLink(Base):
    """A link for the venue's projector: reads one meeting's public view, nothing else. Only
    the SHA-256 of its secret is kept (src/votes/display.py); revoked links stay for the record."""

    __tablename__ = "event_display_links"
    __table_args__ = (
        CheckConstraint("octet_length(token_hash) = 32", name="token_hash_sha256"),
        Index("ux_event_display_links_token_hash", "token_hash", unique=True),
        Index("ix_event_display_links_event", "event_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE")
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
