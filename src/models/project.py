"""Projects: the annual project list (项目清单) of a community."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base
from src.core.ids import new_id


class ProjectStatus(enum.StrEnum):
    planned = "planned"
    designing = "designing"
    building = "building"
    done = "done"
    cancelled = "cancelled"


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (
        Index("ix_projects_community_year", "community_id", text("year DESC"), "id"),
        Index("ix_projects_street_year", "street_id", text("year DESC"), "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    community_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("areas.id"))
    street_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("areas.id"))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    category: Mapped[str] = mapped_column(String(32), ForeignKey("proposal_categories.code"))
    year: Mapped[int] = mapped_column(Integer)
    status: Mapped[ProjectStatus] = mapped_column(
        Enum(ProjectStatus, name="project_status"), default=ProjectStatus.planned
    )
    budget_source: Mapped[str | None] = mapped_column(String(100))
    responsible_unit: Mapped[str | None] = mapped_column(String(100))
    planned_start: Mapped[dt.date | None]
    planned_end: Mapped[dt.date | None]
    actual_start: Mapped[dt.date | None]
    actual_end: Mapped[dt.date | None]
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
