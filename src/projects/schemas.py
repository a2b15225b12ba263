from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from litestar.params import QueryParameter
from pydantic import Field, model_validator

from src.core.schemas import RequestModel, ResponseModel
from src.models.event import EventKind, EventStatus
from src.models.project import ProjectKind, ProjectStatus
from src.proposals.schemas import PHOTOS_MAX, PhotoOut, ProposalOut
from src.ratings.schemas import ProjectSatisfactionOut

YearQuery = Annotated[int | None, QueryParameter(ge=2000, le=2100)]
PROGRESS_TEXT_MAX = 2000
CONTENT_MAX = 5000


class YearlyListFields(RequestModel):
    """The yearly project list's fields (项目实施清单: content, implementation path, responsible
    unit, funding source, timeline, design team). ``funding_source`` and ``budget_source``
    name the same thing (one column): give either; both and different → 422."""

    kind: ProjectKind | None = None
    content: str | None = Field(default=None, max_length=CONTENT_MAX)
    implementation_path: str | None = Field(default=None, max_length=500)
    budget_source: str | None = Field(default=None, max_length=100)
    funding_source: str | None = Field(default=None, max_length=100)
    responsible_unit: str | None = Field(default=None, max_length=100)
    design_team: str | None = Field(default=None, max_length=200)
    planned_start: dt.date | None = None
    planned_end: dt.date | None = None

    @model_validator(mode="after")
    def _one_funding_source(self) -> YearlyListFields:
        given = self.model_fields_set
        if "funding_source" in given:
            if "budget_source" in given and self.budget_source != self.funding_source:
                raise ValueError("funding_source and budget_source differ")
            self.budget_source = self.funding_source
            given.discard("funding_source")
            given.add("budget_source")
        if self.planned_start and self.planned_end and self.planned_end < self.planned_start:
            raise ValueError("planned_end is before planned_start")
        return self


class ProjectIn(YearlyListFields):
    title: str = Field(min_length=2, max_length=100)
    description: str = Field(default="", max_length=5000)
    community_id: uuid.UUID
    category: str = Field(min_length=1, max_length=32)
    year: int | None = Field(default=None, ge=2000, le=2100)


# Fields a PATCH may set to null (clear); the others may be left out but not nulled.
CLEARABLE = frozenset(
    {
        "budget_source",
        "funding_source",
        "responsible_unit",
        "implementation_path",
        "design_team",
        "planned_start",
        "planned_end",
        "actual_start",
        "actual_end",
    }
)


class ProjectPatch(YearlyListFields):
    """Change the status (``planned → designing → building → done``, or ``cancelled`` from
    any open status) and/or the project's facts. Moving to ``building`` fills
    ``actual_start`` (today unless given); moving to ``done`` fills ``actual_end`` and sets
    the progress to 100 %. A done or cancelled project is closed: 409 ``project_closed``."""

    status: ProjectStatus | None = None
    title: str | None = Field(default=None, min_length=2, max_length=100)
    description: str | None = Field(default=None, max_length=5000)
    category: str | None = Field(default=None, min_length=1, max_length=32)
    year: int | None = Field(default=None, ge=2000, le=2100)
    budget_source: str | None = Field(default=None, min_length=1, max_length=100)
    funding_source: str | None = Field(default=None, min_length=1, max_length=100)
    responsible_unit: str | None = Field(default=None, min_length=1, max_length=100)
    actual_start: dt.date | None = None
    actual_end: dt.date | None = None

    @model_validator(mode="after")
    def _not_empty_nor_null(self) -> ProjectPatch:
        # The planned dates' order is checked on the merged project (service).
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for name in self.model_fields_set - CLEARABLE:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self


class ProgressIn(RequestModel):
    text: str = Field(min_length=1, max_length=PROGRESS_TEXT_MAX)
    percent: int = Field(ge=0, le=100, description="never lower than the project's last one")
    photo_ids: list[uuid.UUID] = Field(default_factory=list, max_length=PHOTOS_MAX)


class ProgressOut(ResponseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    seq: int = Field(description="1, 2, 3 … in the order the updates were accepted")
    text: str
    percent: int
    photos: list[PhotoOut]
    author_role: str
    created_at: dt.datetime


class ProjectOut(ResponseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    street_id: uuid.UUID
    title: str
    description: str
    category: str
    year: int
    status: ProjectStatus
    kind: ProjectKind
    content: str
    implementation_path: str | None
    budget_source: str | None
    funding_source: str | None = Field(description="the same value as budget_source")
    responsible_unit: str | None
    design_team: str | None
    planned_start: dt.date | None
    planned_end: dt.date | None
    actual_start: dt.date | None
    actual_end: dt.date | None
    progress_percent: int
    need_ids: list[uuid.UUID] = Field(description="the needs (需求清单) the project answers")
    overdue: bool = Field(
        description="planned end passed (Shanghai time) and not done or cancelled"
    )
    created_at: dt.datetime
    updated_at: dt.datetime


class ProjectMeetingOut(ResponseModel):
    id: uuid.UUID
    kind: EventKind
    title: str
    status: EventStatus
    starts_at: dt.datetime


class ProjectDetailOut(ProjectOut):
    suggestions: list[ProposalOut]
    progress: list[ProgressOut] = Field(
        default_factory=list,
        description="newest first, at most 50; the rest via GET /projects/{id}/progress",
    )
    meetings: list[ProjectMeetingOut] = Field(
        default_factory=list,
        description="the project's consultation, coordination and review meetings, "
        "newest start first, at most 100; the rest via GET /events?project_id=",
    )
    satisfaction: ProjectSatisfactionOut | None = Field(
        default=None,
        description="resident satisfaction over the project's review meetings, as "
        "GET /projects/{id}/satisfaction gives it to the caller (residents: closed meetings "
        "only); null while the caller sees no review meeting of the project",
    )


class KindCountsOut(ResponseModel):
    total: int = Field(description="projects of the year's list, cancelled ones excluded")
    done_in_year: int = Field(description="of them, finished (done) within the year")
    due_in_year: int = Field(description="of them, planned to finish within the year")
    renmin_fang: int
    renmin_fang_done: int
    liuyi_ting: int
    liuyi_ting_done: int
    embedded_service: int
    embedded_service_done: int
    cancelled: int = Field(description="projects of the year's list that were cancelled")


class AreaStatsRowOut(KindCountsOut):
    area_id: uuid.UUID
    code: str
    name: str
    level: str


class ProjectStatsOut(AreaStatsRowOut):
    """The city plan's annex table (附件: 项目计划清单) for an area: its own figures and one
    row per child area (a district's streets, a street's communities)."""

    year: int
    children: list[AreaStatsRowOut]
