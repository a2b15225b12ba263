"""The periodic jobs of the project: what runs, when (Shanghai time), and why."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from src.jobs.scheduler import Context, Job, daily, every_minutes


async def _report_reminders(session: AsyncSession, ctx: Context, at: dt.datetime) -> dict[str, Any]:
    from src.monthly_reports.service import send_reminders

    return {"reminded": await send_reminders(session, at)}


async def _retention_purge(session: AsyncSession, ctx: Context, at: dt.datetime) -> dict[str, Any]:
    from src.retention.service import purge

    # Batches in their own transactions (the claim's stays open meanwhile).
    return await purge(ctx.sessionmaker, ctx.settings, at.astimezone(dt.UTC))


async def _decision_precompute(
    session: AsyncSession, ctx: Context, at: dt.datetime
) -> dict[str, Any]:
    from src.area_stats.service import precompute

    return {"bodies": await precompute(session, at)}


async def _resident_counts_fold(
    session: AsyncSession, ctx: Context, at: dt.datetime
) -> dict[str, Any]:
    from src.areas.residents import fold

    return {"communities": await fold(session)}


JOBS: list[Job] = [
    Job(
        name="decision_precompute",
        cron={"minute": "*/5"},
        period=every_minutes(5),
        run=_decision_precompute,
        why="refresh the cached area figures and hot spots of every district and street",
    ),
    Job(
        name="resident_counts_fold",
        cron={"minute": "*/5"},
        period=every_minutes(5),
        run=_resident_counts_fold,
        why="fold each community's appended resident counts into one row (keeps sums short)",
    ),
    Job(
        name="report_reminders",
        cron={"day": "25-31", "hour": 9, "minute": 0},
        period=daily,
        run=_report_reminders,
        why="remind street staff who have not filed the month's report (from the 25th)",
    ),
    Job(
        name="retention_purge",
        cron={"hour": 3, "minute": 30},
        period=daily,
        run=_retention_purge,
        why="delete personal data past its retention time (retention_* settings)",
    ),
]


def by_name(name: str) -> Job:
    for job in JOBS:
        if job.name == name:
            return job
    raise KeyError(name)
