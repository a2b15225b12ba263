"""Needs surveys (问需求计): questionnaires of a community or a street, their questions and
options, the responses (online and on paper) and the running tallies the results read.

Anonymity (``surveys.anonymous``): ``survey_respondents`` records *that* someone answered,
as an HMAC of (survey, user) under the server secret, never the user id; the response row
carries no user, no time and a random (v4) id. At close, the anonymous online responses are
rewritten in random order (new ids, one transaction), so neither physical order nor the
rows' transaction ids tell which respondent record goes with which answers. See
docs/surveys.md.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base
from src.core.ids import new_id


class SurveyStatus(enum.StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"


class QuestionKind(enum.StrEnum):
    single = "single"
    multiple = "multiple"
    scale = "scale"
    ranking = "ranking"
    text = "text"
    location = "location"


class Channel(enum.StrEnum):
    online = "online"
    paper = "paper"


class Survey(Base):
    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint("closes_at > opens_at", name="closes_after_open"),
        Index("ix_surveys_area_created", "area_id", text("created_at DESC"), "id"),
        Index("ix_surveys_street_created", "street_id", text("created_at DESC"), "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    # A community or a street: who may answer.
    area_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("areas.id"))
    street_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("areas.id"))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    year: Mapped[int] = mapped_column(Integer)
    opens_at: Mapped[dt.datetime]
    closes_at: Mapped[dt.datetime]
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    status: Mapped[SurveyStatus] = mapped_column(
        Enum(SurveyStatus, name="survey_status"), default=SurveyStatus.draft
    )
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    opened_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]


class SurveyQuestion(Base):
    __tablename__ = "survey_questions"

    survey_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[QuestionKind] = mapped_column(Enum(QuestionKind, name="survey_question_kind"))
    title: Mapped[str] = mapped_column(String(200))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    min_choices: Mapped[int | None] = mapped_column(Integer)
    max_choices: Mapped[int | None] = mapped_column(Integer)
    scale_min: Mapped[int | None] = mapped_column(Integer)
    scale_max: Mapped[int | None] = mapped_column(Integer)
    scale_labels: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class SurveyOption(Base):
    """An option of a single/multiple/ranking question. Its id is stable once the survey has
    opened (needs cite it as evidence)."""

    __tablename__ = "survey_options"
    __table_args__ = (
        UniqueConstraint("survey_id", "question_key", "key", name="uq_survey_options_key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    survey_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("surveys.id", ondelete="CASCADE")
    )
    question_key: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)


class SurveyResponse(Base):
    """One questionnaire. Named online responses carry their resident (one per survey);
    anonymous ones carry nobody and no time; paper ones carry the staff who entered them."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        Index(
            "uq_survey_responses_user",
            "survey_id",
            "user_id",
            unique=True,
            postgresql_where=text("user_id IS NOT NULL"),
        ),
        Index(
            "uq_survey_responses_sheet",
            "survey_id",
            "sheet_no",
            unique=True,
            postgresql_where=text("sheet_no IS NOT NULL"),
        ),
        Index("ix_survey_responses_survey_id", "survey_id", "id"),
        CheckConstraint("channel = 'online' OR user_id IS NULL", name="paper_has_no_user"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    survey_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("surveys.id", ondelete="CASCADE")
    )
    channel: Mapped[Channel] = mapped_column(Enum(Channel, name="survey_channel"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    community_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("areas.id")
    )
    sheet_no: Mapped[str | None] = mapped_column(String(64))
    entered_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime | None]


class SurveyRespondent(Base):
    """That someone answered an anonymous survey: an HMAC of (survey, user), not the user."""

    __tablename__ = "survey_respondents"

    survey_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)


class SurveyAnswerItem(Base):
    """A text or map answer, apart from its questionnaire's row so that results page through
    them by index (the answers stay in ``survey_responses.answers``, which the export reads).
    ``response_id`` lets a named response's change replace its items; anonymous items have
    none."""

    __tablename__ = "survey_answer_items"
    __table_args__ = (
        Index(
            "ix_survey_answer_items_response_id",
            "response_id",
            postgresql_where=text("response_id IS NOT NULL"),
        ),
    )

    survey_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True
    )
    question_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    response_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    channel: Mapped[Channel] = mapped_column(Enum(Channel, name="survey_channel"))
    body: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None]
    lng: Mapped[float | None]


class SurveyTally(Base):
    """Running counts the results read, kept in the same transaction as each response.
    ``question_key`` '' is the survey itself; ``item`` '' is "answered"; else an option key
    or a scale value. ``total`` sums ranking positions (mean rank, Borda)."""

    __tablename__ = "survey_tallies"

    survey_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[Channel] = mapped_column(Enum(Channel, name="survey_channel"), primary_key=True)
    question_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    item: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
