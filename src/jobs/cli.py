"""``lifecircle jobs`` (list the periodic jobs) and ``lifecircle run-job NAME`` (run one now,
unless it already ran this period); ``lifecircle worker`` schedules them (``start_jobs``)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.cli import command, ensure_database
from src.config import Settings
from src.jobs.scheduler import SHANGHAI, Context, Scheduler, run_once


def start_jobs(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> Scheduler:
    from src.jobs.registry import JOBS

    scheduler = Scheduler(JOBS, Context(sessionmaker, settings))
    scheduler.start()
    for line in scheduler.describe():
        print(f"• job {line}", flush=True)
    return scheduler


@command("jobs", "list the periodic jobs `lifecircle worker` runs")
def _jobs(args: argparse.Namespace, settings: Settings) -> int:
    from src.jobs.registry import JOBS

    for job in JOBS:
        print(f"{job.name:20} cron {job.cron} (Asia/Shanghai): {job.why}")
    return 0


def _configure_run_job(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the job (see `lifecircle jobs`)")


@command("run-job", "run one periodic job now (skipped if it ran this period)", _configure_run_job)
def _run_job(args: argparse.Namespace, settings: Settings) -> int:
    from src.jobs.registry import by_name

    try:
        job = by_name(args.name)
    except KeyError:
        print(f"✗ no job {args.name!r} (see `lifecircle jobs`)")
        return 2
    settings, _server = ensure_database(settings)

    async def run() -> int:
        from src.core.db import create_engine, make_sessionmaker

        assert settings.database_url
        engine = create_engine(settings.database_url, pool_size=2, max_overflow=0)
        try:
            context = Context(make_sessionmaker(engine), settings)
            result = await run_once(job, context, dt.datetime.now(SHANGHAI))
        finally:
            await engine.dispose()
        print(f"✓ {job.name}: {result}" if result is not None else f"• {job.name}: already ran")
        return 0

    return asyncio.run(run())
