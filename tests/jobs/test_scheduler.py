"""Periodic jobs: two workers (each its own engine and APScheduler), one run per period."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.core.db import create_engine, make_sessionmaker
from src.jobs.registry import by_name
from src.jobs.scheduler import SHANGHAI, Context, Job, Scheduler, run_once
from src.models.user import Role
from tests.builders import make_tree, make_user, unique_code


@pytest.fixture
async def two_workers(settings: Settings) -> AsyncIterator[list[Context]]:
    assert settings.database_url
    engines = [create_engine(settings.database_url, 3, 0) for _ in range(2)]
    yield [Context(make_sessionmaker(e), settings) for e in engines]
    for e in engines:
        await e.dispose()


def per_second(at: dt.datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M:%S")


async def test_two_schedulers_run_each_period_once(
    client: httpx.AsyncClient, two_workers: list[Context], db: async_sessionmaker[AsyncSession]
) -> None:
    name = unique_code("job-")
    ran: list[tuple[str, int]] = []

    def job_of(worker: int) -> Job:
        async def run(session: AsyncSession, ctx: Context, at: dt.datetime) -> dict[str, Any]:
            await asyncio.sleep(0.2)  # long enough for the other worker to fire meanwhile
            # Counted once done: a run cut short by stop() rolls its period back.
            ran.append((per_second(at), worker))
            return {"worker": worker}

        return Job(name=name, cron={"second": "*"}, period=per_second, run=run, why="test")

    schedulers = [Scheduler([job_of(i)], ctx) for i, ctx in enumerate(two_workers)]
    for s in schedulers:
        s.start()
    await asyncio.sleep(4.2)
    for s in schedulers:
        s.stop()
    await asyncio.sleep(0.3)
    periods = Counter(p for p, _ in ran)
    assert len(periods) >= 3, ran
    assert all(n == 1 for n in periods.values()), ran
    async with db() as session:
        rows = (
            await session.execute(
                text("SELECT period, result FROM job_runs WHERE job = :job"), {"job": name}
            )
        ).all()
    assert sorted(r.period for r in rows) == sorted(periods)
    assert all(r.result is not None for r in rows)


async def test_reminders_job_twice_at_once_reminds_once(
    client: httpx.AsyncClient, two_workers: list[Context], db: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(db, communities=1)
    staff = await make_user(db, role=Role.street, area=tree.street)
    job = by_name("report_reminders")
    # A period no other test uses: the 25th of a month long past.
    at = dt.datetime(2026, 3, 25, 9, tzinfo=SHANGHAI)
    results = await asyncio.gather(*(run_once(job, ctx, at) for ctx in two_workers))
    ran = [r for r in results if r is not None]
    assert len(ran) == 1 and ran[0]["reminded"] >= 1
    assert await run_once(job, two_workers[0], at) is None  # same period, later: skipped
    async with db() as session:
        n = await session.scalar(
            text("SELECT count(*) FROM report_reminders WHERE user_id = :u AND period = :p"),
            {"u": staff.id, "p": dt.date(2026, 3, 1)},
        )
    assert n == 1


async def test_a_failed_run_leaves_the_period_to_the_next_try(
    client: httpx.AsyncClient, two_workers: list[Context]
) -> None:
    calls: list[int] = []

    async def flaky(session: AsyncSession, ctx: Context, at: dt.datetime) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return {"ok": True}

    job = Job(name=unique_code("flaky-"), cron={"hour": 1}, period=per_second, run=flaky, why="")
    at = dt.datetime.now(SHANGHAI)
    with pytest.raises(RuntimeError):
        await run_once(job, two_workers[0], at)
    assert await run_once(job, two_workers[1], at) == {"ok": True}
    assert await run_once(job, two_workers[0], at) is None


async def test_the_purge_runs_as_a_job(
    client: httpx.AsyncClient, two_workers: list[Context]
) -> None:
    job = by_name("retention_purge")
    at = dt.datetime(2026, 1, 2, 3, 30, tzinfo=SHANGHAI)  # a period no other test uses
    results = await asyncio.gather(*(run_once(job, ctx, at) for ctx in two_workers))
    ran = [r for r in results if r is not None]
    assert len(ran) == 1 and all(isinstance(v, int) for v in ran[0].values())
