"""Areas: district → street → community, with codes, names and centroids (WGS-84)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Enum, Float, ForeignKey, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base, TimestampMixin
from src.core.ids import new_id


class AreaLevel(enum.StrEnum):
    district = "district"
    street = "street"
    community = "community"


class Area(TimestampMixin, Base):
    __tablename__ = "areas"
    __table_args__ = (
        CheckConstraint("(level = 'district') = (parent_id IS NULL)", name="district_is_root"),
        CheckConstraint(
            "reference_prefix IS NULL OR "
            "(level = 'street' AND reference_prefix ~ '^[A-Z0-9]{2,6}$')",
            name="reference_prefix_of_a_street",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # A street's head for its suggestions' reference numbers (CY-2026-000123), instead of
    # its code; src/proposals/references.py has the rule.
    reference_prefix: Mapped[str | None] = mapped_column(String(6), unique=True)
    level: Mapped[AreaLevel] = mapped_column(Enum(AreaLevel, name="area_level"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("areas.id"), index=True
    )
    # Ids from the district down to this area itself: the scope checks read one row.
    path: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    # Stored in WGS-84; converted at the API edge to the caller's coord_sys.
    centroid_lat: Mapped[float] = mapped_column(Float)
    centroid_lng: Mapped[float] = mapped_column(Float)
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    retired: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    retired_at: Mapped[dt.datetime | None]
