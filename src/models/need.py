"""Needs (需求清单): what residents said, gathered into ranked needs of a community or street,
and the link from a need to the project of next year's list that answers it."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base
from src.core.ids import new_id


class NeedStatus(enum.StrEnum):
    open = "open"
    planned = "planned"
    declined = "declined"


class EvidenceKind(enum.StrEnum):
    proposal = "proposal"  # a suggestion: its author and its supporters
    survey_option = "survey_option"  # an option of a needs survey question: its votes


class Need(Base):
    __tablename__ = "needs"
    __table_args__ = (
        Index("ix_needs_street_year", "street_id", "year"),
        Index("ix_needs_community_year", "community_id", "year"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
        CheckConstraint("(status = 'open') = (status_reason IS NULL)", name="decided_has_reason"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    year: Mapped[int] = mapped_column(Integer)
    # NULL: a need of the whole street (then street staff own it).
    community_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("areas.id")
    )
    street_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("areas.id"))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    category: Mapped[str] = mapped_column(String(32), ForeignKey("proposal_categories.code"))
    status: Mapped[NeedStatus] = mapped_column(
        Enum(NeedStatus, name="need_status"), default=NeedStatus.open
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class NeedEvidence(Base):
    """One source behind a need: a suggestion, or a survey option (src/needs/evidence.py)."""

    __tablename__ = "need_evidence"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'proposal' AND proposal_id IS NOT NULL AND survey_id IS NULL"
            " AND question_key IS NULL AND option_key IS NULL)"
            " OR (kind = 'survey_option' AND proposal_id IS NULL AND survey_id IS NOT NULL"
            " AND question_key IS NOT NULL AND option_key IS NOT NULL)",
            name="kind_fields",
        ),
        Index(
            "uq_need_evidence_proposal",
            "need_id",
            "proposal_id",
            unique=True,
            postgresql_where=text("kind = 'proposal'"),
        ),
        Index(
            "uq_need_evidence_survey_option",
            "need_id",
            "survey_id",
            "question_key",
            "option_key",
            unique=True,
            postgresql_where=text("kind = 'survey_option'"),
        ),
        Index(
            "ix_need_evidence_proposal",
            "proposal_id",
            postgresql_where=text("proposal_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    need_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("needs.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[EvidenceKind] = mapped_column(Enum(EvidenceKind, name="need_evidence_kind"))
    proposal_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("proposals.id", ondelete="CASCADE")
    )
    survey_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("surveys.id", ondelete="CASCADE", name="fk_need_evidence_survey"),
    )
    question_key: Mapped[str | None] = mapped_column(String(64))
    option_key: Mapped[str | None] = mapped_column(String(64))
    added_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    added_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class ProjectNeed(Base):
    """A project answers needs; a need is answered by one project (the unique key makes two
    concurrent "create project" taps one project)."""

    __tablename__ = "project_needs"

    project_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    need_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("needs.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    __table_args__ = (Index("uq_project_needs_need", "need_id", unique=True),)
