"""The quarterly brief (简报, seed 004 task 17): the area figures of a quarter
(src/area_stats, the same numbers as ``GET /areas/{id}/stats``) with charts, as XLSX."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from src.area_stats.schemas import Figures
from src.area_stats.service import stats_reply
from src.briefs import workbook
from src.core import audit
from src.core.auth import Principal
from src.core.errors import not_found, validation_failed
from src.core.policy import decision_scope, load_area
from src.exports import repository as exports_repository
from src.models.export import ExportRecord, ExportStatus

QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Brief:
    body: bytes
    filename: str
    ascii_filename: str

    def content_disposition(self) -> str:
        return (
            f'attachment; filename="{self.ascii_filename}"; '
            f"filename*=UTF-8''{quote(self.filename, safe='')}"
        )


def _plain(figures: dict[str, Any]) -> dict[str, Any]:
    """One area's figures (of a stats reply: without its period, ``computed_at``, children)."""
    return Figures(**{name: figures[name] for name in Figures.model_fields}).model_dump(mode="json")


def quarter_dates(quarter: str) -> tuple[dt.date, dt.date]:
    match = QUARTER.match(quarter)
    if match is None:
        raise validation_failed([{"field": "quarter", "message": 'a quarter such as "2026Q4"'}])
    year, q = int(match[1]), int(match[2])
    first = dt.date(year, 3 * q - 2, 1)
    after = dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1)
    return first, after - dt.timedelta(days=1)


async def quarterly_brief(
    session: AsyncSession,
    principal: Principal,
    area_id: uuid.UUID,
    quarter: str,
    fmt: str,
    *,
    max_age_s: int = 0,
) -> Brief:
    """The brief prints the quarter's stats of the area and of each child area as
    ``GET /areas/{id}/stats`` gives them (the same decision-cache entries, which the
    precompute job keeps fresh for the current quarter)."""
    if fmt != "xlsx":
        raise validation_failed([{"field": "format", "message": "xlsx"}])
    first, last = quarter_dates(quarter)
    area = await decision_scope(session, principal, area_id)
    own = json.loads(await stats_reply(session, area, first, last, max_age_s))
    children = []
    for kid in own["children"]:
        ref = await load_area(session, uuid.UUID(kid["area_id"]))
        if ref is None:  # removed meanwhile
            raise not_found("区域", "Area")
        grandchildren = json.loads(await stats_reply(session, ref, first, last, max_age_s))
        children.append((_plain(kid), [_plain(g) for g in grandchildren["children"]]))
    result = await session.execute(text("SELECT code, name_zh FROM proposal_categories"))
    names = {str(code): str(name) for code, name in result.all()}
    heading = f"{area.name} {first.year}年第{quarter[-1]}季度简报"
    # openpyxl is CPU work: off the event loop.
    body = await asyncio.to_thread(workbook.build, heading, _plain(own), children, names)
    filename = f"{heading}.xlsx"
    record = await exports_repository.add_record(
        session,
        ExportRecord(
            actor_id=principal.user_id,
            kind="brief",
            format="xlsx",
            area_id=area.id,
            filters={"quarter": quarter},
            filename=filename[:200],
            status=ExportStatus.completed,
            row_count=1 + len(children),  # sheets
            finished_at=dt.datetime.now(dt.UTC),
        ),
    )
    await audit.record(
        session,
        principal,
        "export.brief",
        "export",
        record.id,
        area_id=area.id,
        details={"quarter": quarter},
    )
    return Brief(body, filename, f"brief_{area.code}_{quarter}.xlsx")
