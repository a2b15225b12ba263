"""好差评: residents judge a facility good or bad, once per facility per month (changeable).

``month`` is the first day of the Shanghai month the review belongs to; the unique constraint
(facility, user, month) is the "one per month" rule, whatever races. ``community_id`` and
``street_id`` are the facility's responsible area (src/facility_reviews/service.py:
``responsible_area``), copied when the review is written, for the area rankings.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base
from src.core.ids import new_id

REASONS = (
    "opening_hours",
    "staff_attitude",
    "cleanliness",
    "accessibility",
    "waiting_time",
    "other",
)
VERDICTS = ("good", "bad")


class FacilityReview(Base):
    __tablename__ = "facility_reviews"
    __table_args__ = (
        UniqueConstraint("facility_id", "user_id", "month", name="uq_facility_reviews_monthly"),
        CheckConstraint("verdict IN ('good', 'bad')", name="verdict_known"),
        CheckConstraint(
            "reasons <@ ARRAY['opening_hours', 'staff_attitude', 'cleanliness', "
            "'accessibility', 'waiting_time', 'other']::varchar[]",
            name="reasons_known",
        ),
        CheckConstraint("extract(day FROM month) = 1", name="month_first_day"),
        Index("ix_facility_reviews_facility", "facility_id", "updated_at", "id"),
        Index("ix_facility_reviews_street", "street_id", "facility_id"),
        Index("ix_facility_reviews_community", "community_id", "facility_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    facility_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("facilities.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    month: Mapped[dt.date]
    verdict: Mapped[str] = mapped_column(String(4))
    reasons: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    comment: Mapped[str | None] = mapped_column(Text)
    community_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    street_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
