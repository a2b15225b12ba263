from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field

from src.core.schemas import RequestModel, ResponseModel

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
TEXT_MAX = 5000


class ReportIn(RequestModel):
    period: str = Field(pattern=PERIOD_PATTERN, description='the month reported on, "2026-11"')
    progress: str = Field(min_length=1, max_length=TEXT_MAX)
    problems: str = Field(min_length=1, max_length=TEXT_MAX)


class ReportEdit(RequestModel):
    progress: str = Field(min_length=1, max_length=TEXT_MAX)
    problems: str = Field(min_length=1, max_length=TEXT_MAX)


class ReportOut(ResponseModel):
    id: uuid.UUID
    street_id: uuid.UUID
    period: str
    progress: str
    problems: str
    filed_at: dt.datetime
    updated_at: dt.datetime
    editable_until: dt.datetime  # the end of the month after the period (Shanghai)


class StreetFilingOut(ResponseModel):
    street_id: uuid.UUID
    code: str
    name: str
    filed: bool
    report: ReportOut | None


class FilingsOut(ResponseModel):
    area_id: uuid.UUID
    period: str
    filed: int
    missing: int
    streets: list[StreetFilingOut]
