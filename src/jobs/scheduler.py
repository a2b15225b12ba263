"""Periodic jobs inside ``lifecircle worker``: APScheduler fires them on their cron schedule in
every worker; PostgreSQL decides which worker runs each period.

Exactly once per period: a run first inserts its ``job_runs`` row (job, period) and keeps that
transaction open while the job works. A second worker firing for the same period waits on the
row and then finds it taken, so it skips. A run that fails (or whose worker dies) rolls its
row back, so another worker firing within the same period may take it; the job itself is
written so that running it again is harmless (reminders and purges are idempotent).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings

logger = logging.getLogger("lifecircle.jobs")
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Context:
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings


# (the claim's session: work done on it commits with the claim, the context, the fire time)
JobFunc = Callable[[AsyncSession, Context, dt.datetime], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Job:
    name: str
    cron: dict[str, Any]  # CronTrigger fields (Shanghai time): {"hour": 3, "minute": 30}
    period: Callable[[dt.datetime], str]  # the period a fire time belongs to
    run: JobFunc
    why: str


def daily(at: dt.datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d")


def every_minutes(n: int) -> Callable[[dt.datetime], str]:
    def period(at: dt.datetime) -> str:
        local = at.astimezone(SHANGHAI)
        return local.replace(minute=local.minute - local.minute % n).strftime("%Y-%m-%dT%H:%M")

    return period


_CLAIM = text(
    "INSERT INTO job_runs (job, period, worker) VALUES (:job, :period, :worker) "
    "ON CONFLICT DO NOTHING RETURNING job"
)
_FINISH = text(
    "UPDATE job_runs SET finished_at = now(), result = CAST(:result AS jsonb) "
    "WHERE job = :job AND period = :period"
)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_once(
    job: Job, context: Context, at: dt.datetime, worker: str | None = None
) -> dict[str, Any] | None:
    """Run ``job`` for the period of ``at`` unless some worker has run it (or is running it):
    the job's result, or None when skipped."""
    period = job.period(at)
    async with context.sessionmaker() as session, session.begin():
        claimed = (
            await session.execute(
                _CLAIM, {"job": job.name, "period": period, "worker": worker or worker_name()}
            )
        ).first()
        if claimed is None:
            return None
        result = await job.run(session, context, at)
        await session.execute(
            _FINISH, {"job": job.name, "period": period, "result": json.dumps(result)}
        )
    logger.info("job ran", extra={"job": job.name, "period": period, "result": result})
    return result


class Scheduler:
    """The jobs on an APScheduler ``AsyncIOScheduler`` in the worker's event loop."""

    def __init__(self, jobs: list[Job], context: Context) -> None:
        self.jobs = jobs
        self.context = context
        self.worker = worker_name()
        self.scheduler = AsyncIOScheduler(timezone=SHANGHAI)
        for job in jobs:
            self.scheduler.add_job(
                self._fire,
                CronTrigger(timezone=SHANGHAI, **job.cron),
                args=[job],
                id=job.name,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=300,
            )

    async def _fire(self, job: Job) -> None:
        try:
            await run_once(job, self.context, dt.datetime.now(SHANGHAI), self.worker)
        except Exception:  # one job's failure must not stop the worker or the other jobs
            logger.exception("job failed", extra={"job": job.name})

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)

    def describe(self) -> list[str]:
        return [f"{j.name}: {j.why} (cron {j.cron})" for j in self.jobs]
