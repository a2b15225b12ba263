"""Suggestions (问需求计): categories, suggestions, supports, replies, status history,
photos and the residents' notification feed."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Enum,
    FetchedValue,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base, TimestampMixin
from src.core.ids import new_id
from src.proposals.similarity import similar_text


class ProposalStatus(enum.StrEnum):
    submitted = "submitted"
    under_review = "under_review"
    accepted = "accepted"
    rejected = "rejected"
    merged = "merged"
    adopted = "adopted"
    done = "done"
    hidden = "hidden"
    # Held on submission for its words (moderation): seen by its author and staff only.
    pending_review = "pending_review"


class ReactionValue(enum.StrEnum):
    """A resident's opinion of a suggestion (agree / disagree / pass, as in Polis)."""

    agree = "agree"
    disagree = "disagree"
    pass_ = "pass"


class NotificationKind(enum.StrEnum):
    reply = "reply"
    status_changed = "status_changed"


def _similar_text_default(context: Any) -> str:
    return similar_text(str(context.get_current_parameters()["title"]))


class ProposalCategory(Base):
    """A suggestion category, grouped by the five goals of the life circle
    (宜居/宜业/宜游/宜学/宜养)."""

    __tablename__ = "proposal_categories"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str] = mapped_column(String(80))
    group: Mapped[str] = mapped_column(String(16))
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retired_at: Mapped[dt.datetime | None]


class Proposal(Base):
    __tablename__ = "proposals"
    __table_args__ = (
        CheckConstraint("support_count >= 0", name="support_count_non_negative"),
        CheckConstraint("(lat IS NULL) = (lng IS NULL)", name="location_pair"),
        CheckConstraint("status <> 'merged' OR merged_into IS NOT NULL", name="merged_has_target"),
        Index(
            "ix_proposals_community_newest",
            "community_id",
            text("created_at DESC"),
            text("id DESC"),
        ),
        Index(
            "ix_proposals_community_supported",
            "community_id",
            text("support_count DESC"),
            text("id DESC"),
        ),
        Index("ix_proposals_street_newest", "street_id", text("created_at DESC"), text("id DESC")),
        Index(
            "ix_proposals_street_supported",
            "street_id",
            text("support_count DESC"),
            text("id DESC"),
        ),
        # sort=consensus / sort=controversial (migration 1600).
        Index(
            "ix_proposals_community_consensus",
            "community_id",
            text("consensus_score DESC"),
            text("id DESC"),
        ),
        Index(
            "ix_proposals_community_controversy",
            "community_id",
            text("controversy_score DESC"),
            text("id DESC"),
        ),
        Index(
            "ix_proposals_street_consensus",
            "street_id",
            text("consensus_score DESC"),
            text("id DESC"),
        ),
        Index(
            "ix_proposals_street_controversy",
            "street_id",
            text("controversy_score DESC"),
            text("id DESC"),
        ),
        CheckConstraint(
            "agree_count >= 0 AND disagree_count >= 0 AND pass_count >= 0",
            name="reaction_counts_non_negative",
        ),
        # Similar suggestions: a form's visible suggestions, most supported first (migration
        # 1700; the forms themselves are in ProposalSimilarForm).
        Index(
            "ix_proposals_similar_form",
            "community_id",
            "similar_text",
            text("support_count DESC"),
            text("id DESC"),
            postgresql_where=text("status NOT IN ('hidden', 'pending_review', 'merged')"),
        ),
        Index("ix_proposals_author", "author_id", text("created_at DESC"), text("id DESC")),
        Index(
            "ix_proposals_project", "project_id", postgresql_where=text("project_id IS NOT NULL")
        ),
        Index("ix_proposals_event", "event_id", postgresql_where=text("event_id IS NOT NULL")),
        # Chinese search: character bigrams (see migrations 0100 and 0050, and
        # repository._conditions).
        Index("ix_proposals_search", "search_bigrams", postgresql_using="gin"),
        # ?q= by reference, in any case (migration 1400).
        Index("ix_proposals_reference_upper", text("upper(reference)")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    community_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("areas.id"))
    # The community's street, copied at creation: street-wide lists use their own index.
    street_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("areas.id"))
    author_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32), ForeignKey("proposal_categories.code"))
    # WGS-84; converted at the API edge.
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    # A consultation meeting (events domain); a plain id, no foreign key across domains.
    event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id")
    )
    merged_into: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("proposals.id")
    )
    status: Mapped[ProposalStatus] = mapped_column(
        Enum(ProposalStatus, name="proposal_status"), default=ProposalStatus.submitted
    )
    support_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Reactions (ProposalReaction), kept exact under the row lock like support_count.
    agree_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disagree_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pass_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The ranking scores: SQL function lc_wilson_lower (migration 1600,
    # docs/proposals-deliberation.md).
    consensus_score: Mapped[float] = mapped_column(
        Float,
        Computed(
            "lc_wilson_lower(agree_count, agree_count + disagree_count + pass_count)",
            persisted=True,
        ),
    )
    controversy_score: Mapped[float] = mapped_column(
        Float,
        Computed(
            "lc_wilson_lower(least(agree_count, disagree_count), agree_count + disagree_count)"
            " * ln(1 + agree_count + disagree_count)",
            persisted=True,
        ),
    )
    # The title as similar suggestions compare it (src/proposals/similarity.py), written on
    # every insert from the title (a trigger adds it to ProposalSimilarForm).
    similar_text: Mapped[str] = mapped_column(
        Text, default=_similar_text_default, server_default=""
    )
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    # The number residents read out (CY-2026-000123): written by PostgreSQL on insert
    # (migration 1400, src/proposals/references.py), returned by the INSERT.
    reference: Mapped[str] = mapped_column(String(64), unique=True, server_default=FetchedValue())
    # Kept by PostgreSQL; never loaded (only searched).
    search_bigrams: Mapped[list[str]] = mapped_column(
        ARRAY(Text),
        Computed("lc_bigrams(title || ' ' || body)", persisted=True),
        deferred=True,
        deferred_raiseload=True,
    )


class ProposalSimilarForm(Base):
    """One row per community and distinct ``Proposal.similar_text``: what the similar-suggestion
    search walks by its GiST index (src/proposals/repository.py). Written only by the trigger
    of migration 1700 (on every insert or change of a suggestion's form or community); a form
    left without suggestions is deleted by ``lifecircle proposals-reindex-similar``."""

    __tablename__ = "proposal_similar_forms"
    __table_args__ = (
        Index(
            "ix_proposal_similar_forms_near",
            "community_id",
            "similar_text",
            postgresql_using="gist",
            postgresql_ops={"similar_text": "gist_trgm_ops(siglen=256)"},
        ),
    )

    community_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("areas.id"), primary_key=True
    )
    similar_text: Mapped[str] = mapped_column(Text, primary_key=True)


class ProposalReferenceCounter(Base):
    """The last reference number given in a street and year (src/proposals/references.py);
    written only by the trigger of migration 1400."""

    __tablename__ = "proposal_reference_counters"
    __table_args__ = (CheckConstraint("n >= 1", name="n_positive"),)

    street_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("areas.id"), primary_key=True
    )
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class ProposalSupport(Base):
    """One row per supporter: the primary key makes "support once" a database rule."""

    __tablename__ = "proposal_supports"

    proposal_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    __table_args__ = (Index("ix_proposal_supports_user", "user_id"),)


class ProposalReaction(Base):
    """One row per resident per suggestion: the primary key makes "one reaction" a database
    rule; ``value`` changes in place. Rows (not only counters) keep who said what, for a later
    group-aware (Polis-style) consensus."""

    __tablename__ = "proposal_reactions"

    proposal_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[ReactionValue] = mapped_column(
        Enum(
            ReactionValue, name="proposal_reaction", values_callable=lambda e: [m.value for m in e]
        )
    )
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    __table_args__ = (Index("ix_proposal_reactions_user", "user_id"),)


class ProposalReply(TimestampMixin, Base):
    __tablename__ = "proposal_replies"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    proposal_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("proposals.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    author_role: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)


class ProposalTransition(Base):
    """The status history: who moved a suggestion, when, from what, to what, and why."""

    __tablename__ = "proposal_transitions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    proposal_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("proposals.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[ProposalStatus] = mapped_column(
        Enum(ProposalStatus, name="proposal_status", create_type=False)
    )
    to_status: Mapped[ProposalStatus] = mapped_column(
        Enum(ProposalStatus, name="proposal_status", create_type=False)
    )
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class ProposalPhoto(Base):
    __tablename__ = "proposal_photos"

    proposal_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True
    )
    # An upload belongs to at most one suggestion.
    upload_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("uploads.id"), primary_key=True, unique=True
    )
    position: Mapped[int] = mapped_column(Integer)


class Notification(Base):
    """What changed on a suggestion a resident submitted or supported."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_newest", "user_id", text("created_at DESC"), text("id DESC")),
        Index(
            "ix_notifications_user_unread",
            "user_id",
            postgresql_where=text("read_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    kind: Mapped[NotificationKind] = mapped_column(Enum(NotificationKind, name="notification_kind"))
    proposal_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("proposals.id", ondelete="CASCADE")
    )
    status: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    read_at: Mapped[dt.datetime | None]
