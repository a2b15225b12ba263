"""Ratings at review meetings (评议会): residents score a finished project on a few criteria.

- ``ratings``: one row per resident per meeting (the unique constraint is the rule), with the
  current scores, the comment and its moderation.
- ``rating_revisions``: every earlier version of a rating changed while the meeting was open.
- ``rating_tallies``: counts per (meeting, source, criterion, score), kept in the same
  transaction as every rating change and paper entry, so the summaries of a meeting, a
  project, a community or a street read a few hundred rows instead of every rating.
- ``rating_rollups`` and ``rating_project_scores``: the tallies of closed meetings summed per
  project, community and street (and per project for the ranking), added by a trigger on
  ``events`` in the transaction that closes the meeting. A closed meeting's ratings never
  change again, so these stay exact; staff views add the few open meetings live.
- ``rating_paper_entries``: what the committee counted on paper at the venue (latest wins).
- ``rating_criteria``: a meeting's own criteria; none stored means the four defaults.
- ``rating_proposals``: a comment turned into a suggestion by staff (the link is kept).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base
from src.core.ids import new_id


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = (
        # One rating per resident per meeting: the database enforces it, whatever races.
        UniqueConstraint("event_id", "user_id", name="uq_ratings_event_user"),
        Index("ix_ratings_event_id", "event_id", "id"),
        Index("ix_ratings_user", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("events.id"))
    # Copied from the meeting at creation (the project and areas a rating counts for).
    project_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    community_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    street_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    # criterion code → score 1..5 (validated against the meeting's criteria).
    scores: Mapped[dict[str, int]] = mapped_column(JSONB)
    comment: Mapped[str | None] = mapped_column(Text)
    comment_hidden_at: Mapped[dt.datetime | None]
    comment_hidden_reason: Mapped[str | None] = mapped_column(String(500))
    comment_hidden_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class RatingRevision(Base):
    """An earlier version of a rating, written when the resident changes it."""

    __tablename__ = "rating_revisions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    rating_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ratings.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    scores: Mapped[dict[str, int]] = mapped_column(JSONB)
    comment: Mapped[str | None] = mapped_column(Text)
    photo_ids: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    valid_from: Mapped[dt.datetime]
    replaced_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class RatingPhoto(Base):
    __tablename__ = "rating_photos"

    rating_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ratings.id", ondelete="CASCADE"), primary_key=True
    )
    upload_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("uploads.id"), primary_key=True, unique=True
    )
    position: Mapped[int] = mapped_column(Integer)


class RatingTally(Base):
    """How many ratings gave ``score`` on ``criterion`` at one meeting, per source."""

    __tablename__ = "rating_tallies"
    __table_args__ = (
        CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
        CheckConstraint("source IN ('app', 'paper')", name="source_known"),
        Index("ix_rating_tallies_street", "street_id", "criterion"),
        Index("ix_rating_tallies_community", "community_id", "criterion"),
        Index("ix_rating_tallies_project", "project_id"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(8), primary_key=True)
    criterion: Mapped[str] = mapped_column(String(32), primary_key=True)
    score: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    project_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    community_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    street_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    n: Mapped[int] = mapped_column(Integer)


class RatingRollup(Base):
    """Counts over the closed meetings of one project, community or street (``scope_id``)."""

    __tablename__ = "rating_rollups"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),)

    scope_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    source: Mapped[str] = mapped_column(String(8), primary_key=True)
    criterion: Mapped[str] = mapped_column(String(32), primary_key=True)
    score: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)


class RatingProjectScore(Base):
    """``overall`` over a project's closed meetings: the rows the street ranking sorts."""

    __tablename__ = "rating_project_scores"
    __table_args__ = (
        Index("ix_rating_project_scores_street", "street_id"),
        Index("ix_rating_project_scores_community", "community_id"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id"), primary_key=True
    )
    community_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    street_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    count: Mapped[int] = mapped_column(BigInteger)
    weighted: Mapped[int] = mapped_column(BigInteger)  # sum of score × n
    satisfied: Mapped[int] = mapped_column(BigInteger)  # overall n where rating_satisfied(score)


class RatingPaperEntry(Base):
    """One entry of paper ratings by the committee: counts per criterion per score. The
    latest entry of a meeting is the one counted; earlier ones stay as history."""

    __tablename__ = "rating_paper_entries"
    __table_args__ = (Index("ix_rating_paper_entries_event", "event_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("events.id"))
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(String(500))
    entered_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    entered_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class RatingCriterion(Base):
    """A criterion a meeting asks residents to rate; set while the meeting is a draft."""

    __tablename__ = "rating_criteria"

    event_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name_zh: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str] = mapped_column(String(80))


class RatingProposal(Base):
    """A rating's comment turned into a suggestion by staff: at most one per rating."""

    __tablename__ = "rating_proposals"

    rating_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ratings.id"), primary_key=True
    )
    proposal_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("proposals.id"), unique=True
    )
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
