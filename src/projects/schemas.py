from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import Field, model_validator

from src.core.schemas import RequestModel, ResponseModel
from src.models.project import ProjectStatus
from src.proposals.schemas import ProposalOut


class ProjectIn(RequestModel):
    title: str = Field(min_length=2, max_length=100)
    description: str = Field(default="", max_length=5000)
    community_id: uuid.UUID
    category: str = Field(min_length=1, max_length=32)
    year: int | None = Field(default=None, ge=2000, le=2100)
    budget_source: str | None = Field(default=None, max_length=100)
    responsible_unit: str | None = Field(default=None, max_length=100)
    planned_start: dt.date | None = None
    planned_end: dt.date | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> ProjectIn:
        if self.planned_start and self.planned_end and self.planned_end < self.planned_start:
            raise ValueError("planned_end is before planned_start")
        return self


class ProjectOut(ResponseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    street_id: uuid.UUID
    title: str
    description: str
    category: str
    year: int
    status: ProjectStatus
    budget_source: str | None
    responsible_unit: str | None
    planned_start: dt.date | None
    planned_end: dt.date | None
    actual_start: dt.date | None
    actual_end: dt.date | None
    overdue: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class ProjectDetailOut(ProjectOut):
    suggestions: list[ProposalOut]
    # Filled by the meetings, progress and ratings domains as they land.
    meetings: list[dict[str, Any]] = Field(default_factory=list)
    progress: list[dict[str, Any]] = Field(default_factory=list)
    satisfaction: dict[str, Any] | None = None
