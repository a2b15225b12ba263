"""Exports: every download of feedback data by street staff is recorded (who, when, which
filter, which format, how many rows)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base
from src.core.ids import new_id


class ExportStatus(enum.StrEnum):
    started = "started"  # the response has begun streaming
    completed = "completed"  # every row was written
    failed = "failed"  # the stream broke off (client gone, database error)


class ExportRecord(Base):
    __tablename__ = "exports"
    __table_args__ = (
        CheckConstraint("row_count IS NULL OR row_count >= 0", name="row_count_non_negative"),
        Index("ix_exports_newest", text("created_at DESC"), text("id DESC")),
        Index("ix_exports_area_newest", "area_id", text("created_at DESC"), text("id DESC")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    # None: run from the command line by an operator (``lifecircle export``).
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))  # proposals (ratings, event results later)
    format: Mapped[str] = mapped_column(String(8))  # csv | xlsx
    # The street or community the export covers (scope of the listing).
    area_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("areas.id"))
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    filename: Mapped[str] = mapped_column(String(200))
    status: Mapped[ExportStatus] = mapped_column(
        Enum(ExportStatus, name="export_status"), default=ExportStatus.started
    )
    row_count: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[dt.datetime | None]
