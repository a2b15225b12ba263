"""Monthly street reports (工作进展和存在问题): one per street per month, and the reminders
sent to the street staff who had not filed by the 25th (one per person, street and month)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base
from src.core.ids import new_id


class MonthlyReport(Base):
    __tablename__ = "monthly_reports"
    __table_args__ = (
        UniqueConstraint("street_id", "period", name="uq_monthly_reports_street_period"),
        CheckConstraint("extract(day FROM period) = 1", name="period_first_day"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    street_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("areas.id"))
    period: Mapped[dt.date]  # the first day of the month reported on
    progress: Mapped[str] = mapped_column(Text)
    problems: Mapped[str] = mapped_column(Text)
    filed_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    filed_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class ReportReminder(Base):
    """A reminder sent: the primary key makes it once per person, street and month."""

    __tablename__ = "report_reminders"

    street_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("areas.id"), primary_key=True
    )
    period: Mapped[dt.date] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sent_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
