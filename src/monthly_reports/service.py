"""Monthly street reports (工作进展和存在问题, seed 003).

- A street files ``progress`` and ``problems`` for a month once (a second filing: 409
  ``report_already_filed``); the month may be the current one or an earlier one, never later.
- The report is editable (``PUT …/reports/{period}``) until the month after the period ends
  (Shanghai time); after that 409 ``report_closed``, and a late first filing too.
- Who files and edits: street staff of that street (and admins above it). Who reads: staff
  covering the area (src/core/policy.py ``decision_scope``); a district sees every street,
  filed or not.
- Reminders: from the 25th, each street staff member of a street with no report for the
  current month gets one reminder (a ``report_reminders`` row, once per person, street and
  month, and an outbox message ``report.reminder`` for the portal's messages) — sent by the
  scheduled job (src/jobs), exactly once however many workers run.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from src.core import audit, outbox
from src.core.auth import Principal
from src.core.db import driver_connection
from src.core.errors import AppError, conflict, not_found, validation_failed
from src.core.ids import new_id
from src.core.policy import acting_role, decision_scope
from src.models.area import AreaLevel
from src.models.user import Role
from src.monthly_reports import repository
from src.monthly_reports.schemas import (
    FilingsOut,
    ReportEdit,
    ReportIn,
    ReportOut,
    StreetFilingOut,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
FILING_ROLES = (Role.street, Role.admin)
REMIND_FROM_DAY = 25


def now_local() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


def parse_period(text: str, field: str = "period") -> dt.date:
    try:
        year, month = (int(part) for part in text.split("-"))
        return dt.date(year, month, 1)
    except ValueError:
        raise validation_failed(
            [{"field": field, "message": 'a month such as "2026-11"'}]
        ) from None


def _add_months(day: dt.date, n: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def editable_until(period: dt.date) -> dt.datetime:
    """The end of the month after ``period``: the first moment of the month after that."""
    return dt.datetime.combine(_add_months(period, 2), dt.time(), tzinfo=SHANGHAI)


def _closed(period: dt.date) -> AppError:
    return conflict(
        "report_closed",
        f"{period:%Y年%m月}的月报已过修改期限（次月底）",
        f"The report of {period:%Y-%m} can no longer be filed or changed",
    )


def _check_window(period: dt.date, now: dt.datetime) -> None:
    if period > now.date().replace(day=1):
        raise validation_failed([{"field": "period", "message": "a month not yet begun"}])
    if now >= editable_until(period):
        raise _closed(period)


def _out(row: Any) -> ReportOut:
    return ReportOut(
        id=row["id"],
        street_id=row["street_id"],
        period=row["period"].strftime("%Y-%m"),
        progress=row["progress"],
        problems=row["problems"],
        filed_at=row["filed_at"],
        updated_at=row["updated_at"],
        editable_until=editable_until(row["period"]),
    )


async def _street_for_filing(
    session: AsyncSession, principal: Principal, area_id: uuid.UUID
) -> None:
    area = await decision_scope(session, principal, area_id)
    if area.level != AreaLevel.street:
        raise validation_failed([{"field": "id", "message": "monthly reports are a street's"}])
    acting_role(principal, area.path, FILING_ROLES)


async def file(
    session: AsyncSession, principal: Principal, area_id: uuid.UUID, data: ReportIn
) -> ReportOut:
    period = parse_period(data.period)
    await _street_for_filing(session, principal, area_id)
    _check_window(period, now_local())
    conn = await driver_connection(session)
    row = await repository.insert(
        conn, (new_id(), area_id, period, data.progress, data.problems, principal.user_id)
    )
    if row is None:
        raise conflict(
            "report_already_filed",
            "本街道本月的月报已提交，如需修改请编辑",
            "This street has filed its report for the month; edit it instead",
        )
    await audit.record(
        session,
        principal,
        "report.file",
        "monthly_report",
        row["id"],
        area_id=area_id,
        details={"period": data.period},
    )
    return _out(row)


async def edit(
    session: AsyncSession,
    principal: Principal,
    area_id: uuid.UUID,
    period_text: str,
    data: ReportEdit,
) -> ReportOut:
    period = parse_period(period_text)
    await _street_for_filing(session, principal, area_id)
    _check_window(period, now_local())
    conn = await driver_connection(session)
    row = await repository.update(
        conn, area_id, period, data.progress, data.problems, principal.user_id
    )
    if row is None:
        raise not_found("月报", "Report")
    await audit.record(
        session,
        principal,
        "report.edit",
        "monthly_report",
        row["id"],
        area_id=area_id,
        details={"period": period_text},
    )
    return _out(row)


async def filings(
    session: AsyncSession, principal: Principal, area_id: uuid.UUID, period_text: str | None
) -> FilingsOut:
    now = now_local()
    period = parse_period(period_text) if period_text else now.date().replace(day=1)
    area = await decision_scope(session, principal, area_id)
    conn = await driver_connection(session)
    if area.level == AreaLevel.district:
        streets = await repository.streets_under(conn, area.id)
    elif area.level == AreaLevel.street:
        streets = [area.id]
    else:
        raise validation_failed([{"field": "id", "message": "a district or a street"}])
    rows = await repository.filings(conn, streets, period)
    items = [
        StreetFilingOut(
            street_id=r["area_id"],
            code=r["code"],
            name=r["name"],
            filed=r["id"] is not None,
            report=_out(r) if r["id"] is not None else None,
        )
        for r in rows
    ]
    filed = sum(i.filed for i in items)
    return FilingsOut(
        area_id=area.id,
        period=period.strftime("%Y-%m"),
        filed=filed,
        missing=len(items) - filed,
        streets=items,
    )


async def send_reminders(session: AsyncSession, now: dt.datetime) -> int:
    """From the 25th: remind the street staff of every street that has not filed this month.
    Idempotent (the reminder rows); returns how many reminders were sent."""
    local = now.astimezone(SHANGHAI)
    if local.day < REMIND_FROM_DAY:
        return 0
    period = local.date().replace(day=1)
    conn = await driver_connection(session)
    claimed = await repository.claim_reminders(conn, period)
    label = period.strftime("%Y-%m")
    for row in claimed:
        await outbox.enqueue(
            session,
            "report.reminder",
            f"report:{row['street_id']}:{label}",
            {
                "user_id": str(row["user_id"]),
                "street_id": str(row["street_id"]),
                "period": label,
                "message": f"请在月底前提交{period:%Y年%m月}的街道月报（工作进展和存在问题）",
                "due": editable_until(period).isoformat(),
            },
        )
    return len(claimed)
