from __future__ import annotations

import datetime as dt
from typing import Any

from src.core.schemas import ResponseModel


class ExportAreaOut(ResponseModel):
    id: str
    name: str
    level: str


class ExportActorOut(ResponseModel):
    id: str
    display_name: str


class ExportOut(ResponseModel):
    """One past export: who, when, which filter, which format, how many rows."""

    id: str
    kind: str
    format: str
    status: str  # started | completed | failed
    row_count: int | None
    filename: str
    filters: dict[str, Any]
    area: ExportAreaOut
    actor: ExportActorOut | None  # None: run from the command line
    created_at: dt.datetime
    finished_at: dt.datetime | None
