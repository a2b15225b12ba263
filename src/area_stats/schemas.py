"""The area figures (``GET /api/v1/areas/{id}/stats``)."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field

from src.core.schemas import ResponseModel


class ProposalFigures(ResponseModel):
    total: int
    by_status: dict[str, int]
    by_category: dict[str, int]
    supports: int  # the support counts of these suggestions, summed


class ReplyFigures(ResponseModel):
    proposals: int  # suggestions of the period, hidden ones left out
    answered: int  # with at least one official reply
    median_hours_to_first_reply: float | None
    within_7_days: int
    within_7_days_share: float | None  # within_7_days / proposals


class MeetingKindFigures(ResponseModel):
    count: int  # meetings not cancelled
    closed: int
    check_ins: int
    participants: int  # voters + paper voters of closed meetings (their frozen results)
    eligible: int  # eligible count of the same meetings
    turnout: float | None  # participants / eligible over those meetings


class MeetingFigures(ResponseModel):
    total: int
    by_kind: dict[str, MeetingKindFigures]


class SatisfactionFigures(ResponseModel):
    count: int  # ``overall`` ratings (app and paper) of open and closed review meetings
    mean_overall: float | None
    satisfaction_rate: float | None


class ProjectFigures(ResponseModel):
    total: int
    by_status: dict[str, int]
    overdue: int


class SurveyFigures(ResponseModel):
    # Needs surveys opened in the period (drafts left out); a street-wide survey counts for its
    # street, not for one of its communities. Responses online and on paper.
    count: int
    closed: int
    responses: int
    online: int
    paper: int
    residents: int = Field(
        description="The registered residents of each survey's area (its results' "
        "`residents`), summed over these surveys: a resident asked by two surveys counts twice."
    )
    response_rate: float | None = Field(
        description="online ÷ residents, by the rule of a survey's results (`response_rate`; "
        "for one survey the same figure), to 4 places; null without residents."
    )
    response_rate_with_paper: float | None = Field(
        description="(online + paper) ÷ residents, as a survey's results' "
        "`response_rate_with_paper` (may pass 1: paper sheets come also from residents not "
        "on the app); null without residents."
    )


class Figures(ResponseModel):
    area_id: uuid.UUID
    code: str
    name: str
    level: str
    proposals: ProposalFigures
    replies: ReplyFigures
    meetings: MeetingFigures
    satisfaction: SatisfactionFigures
    projects: ProjectFigures
    surveys: SurveyFigures


class AreaStatsOut(Figures):
    date_from: dt.date | None
    date_to: dt.date | None
    computed_at: dt.datetime
    children: list[Figures]


class HotspotProperties(ResponseModel):
    cell: str  # "i:j" on the grid of ``cell_m`` (stable across requests and areas)
    count: int
    by_category: dict[str, int]


class HotspotGeometry(ResponseModel):
    type: str = "Polygon"
    coordinates: list[list[list[float]]]  # [[[lng, lat], …]] in the caller's coord_sys


class HotspotFeature(ResponseModel):
    type: str = "Feature"
    geometry: HotspotGeometry
    properties: HotspotProperties


class HotspotsOut(ResponseModel):
    type: str = "FeatureCollection"
    area_id: uuid.UUID
    coord_sys: str
    cell_m: int
    category: str | None
    date_from: dt.date | None
    date_to: dt.date | None
    features: list[HotspotFeature]
