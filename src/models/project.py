"""Projects: the annual project list (项目清单) of a community, and their dated progress."""

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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
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


class ProjectKind(enum.StrEnum):
    """The city plan's kinds (seed 004): its annex counts 人民坊 and 六艺亭 apart."""

    general = "general"
    renmin_fang = "renmin_fang"  # 人民坊
    liuyi_ting = "liuyi_ting"  # 六艺亭
    embedded_service = "embedded_service"  # 嵌入式服务设施


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (
        # Lists read (year DESC, id DESC): both keys descending, so no sort per page.
        Index("ix_projects_community_year", "community_id", text("year DESC"), text("id DESC")),
        Index("ix_projects_street_year", "street_id", text("year DESC"), text("id DESC")),
        # The city office's file and the annex table read a street's list of one year.
        Index("ix_projects_year_street", "year", "street_id"),
        # Overdue-first street lists: the open projects of a street in list order.
        Index(
            "ix_projects_street_open_year",
            "street_id",
            text("year DESC"),
            text("id DESC"),
            postgresql_where=text("status IN ('planned', 'designing', 'building')"),
        ),
        CheckConstraint("progress_percent BETWEEN 0 AND 100", name="progress_percent_range"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
        CheckConstraint(
            "planned_end IS NULL OR planned_start IS NULL OR planned_end >= planned_start",
            name="planned_dates_order",
        ),
        CheckConstraint(
            "actual_end IS NULL OR actual_start IS NULL OR actual_end >= actual_start",
            name="actual_dates_order",
        ),
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
    kind: Mapped[ProjectKind] = mapped_column(
        Enum(ProjectKind, name="project_kind"),
        default=ProjectKind.general,
        server_default=ProjectKind.general.value,
    )
    # 建设内容 and 实施路径 of the yearly project list (项目实施清单).
    content: Mapped[str] = mapped_column(Text, default="", server_default="")
    implementation_path: Mapped[str | None] = mapped_column(String(500))
    # 资金来源: the API calls it both budget_source and funding_source (one column).
    budget_source: Mapped[str | None] = mapped_column(String(100))
    responsible_unit: Mapped[str | None] = mapped_column(String(100))
    design_team: Mapped[str | None] = mapped_column(String(200))
    planned_start: Mapped[dt.date | None]
    planned_end: Mapped[dt.date | None]
    actual_start: Mapped[dt.date | None]
    actual_end: Mapped[dt.date | None]
    # The latest progress update's percentage; it never goes backwards (service rule, under
    # the project's row lock).
    progress_percent: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    created_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class ProjectProgress(Base):
    """A dated progress update (text, percentage, photos), numbered per project."""

    __tablename__ = "project_progress"
    __table_args__ = (
        UniqueConstraint("project_id", "seq", name="uq_project_progress_project_seq"),
        CheckConstraint("percent BETWEEN 0 AND 100", name="percent_range"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    project_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    percent: Mapped[int] = mapped_column(SmallInteger)
    author_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))
    author_role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class ProjectProgressPhoto(Base):
    """An upload attached to one progress update; an upload is attached once."""

    __tablename__ = "project_progress_photos"

    progress_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("project_progress.id", ondelete="CASCADE"),
        primary_key=True,
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    upload_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("uploads.id"), unique=True
    )
