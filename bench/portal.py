"""City-portal delivery: outbox workers (1 and 2) vs posting the events directly.

Events per second the outbox worker gets to a (fake, fault-free) portal over loopback, with
1 and 2 worker processes, as a ratio of direct delivery (the same HTTP client posting the
same events with the same concurrency, no database, no claims).

Harness plugin (``python -m bench portal``); also runs alone:
``python bench/portal.py [postgresql://…/lc_bench_portal]`` (the database is recreated).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from src.config import Settings  # noqa: E402
from src.core.servers import free_port  # noqa: E402
from src.integrations.city_portal.client import PortalClient  # noqa: E402

EVENTS = int(os.environ.get("LIFECIRCLE_BENCH_PORTAL_EVENTS", "2000"))
SUGGESTIONS = max(1, EVENTS // 10)
BATCH = 32


@dataclasses.dataclass
class Figure:
    label: str
    events: int
    seconds: float

    @property
    def rps(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def _settings(portal_url: str) -> Settings:
    return Settings(env="test", portal_api_base=portal_url, portal_batch_size=BATCH)


class FakeProcess:
    """The fake portal in its own process (as the real one is), counted over HTTP."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "src.cli", "fake-portal", "--port", str(self.port)],
            cwd=ROOT,
            env={**os.environ, "LIFECIRCLE_ENV": "test"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def __aenter__(self) -> FakeProcess:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    await http.get(f"{self.url}/_fake/stats")
                    return self
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        raise RuntimeError("the fake portal did not start")

    async def __aexit__(self, *exc: object) -> None:
        self.process.terminate()
        await asyncio.to_thread(self.process.wait, 30)

    async def received(self) -> int:
        async with httpx.AsyncClient() as http:
            return int((await http.get(f"{self.url}/_fake/stats")).json()["events"])


async def direct() -> Figure:
    async with FakeProcess() as fake:
        client = PortalClient.from_settings(_settings(fake.url))
        gate = asyncio.Semaphore(BATCH)
        now = dt.datetime.now(dt.UTC)

        async def one(i: int) -> None:
            async with gate:
                result = await client.deliver(
                    i, "bench.changed", f"bench:{i % SUGGESTIONS}", {"seq": i // SUGGESTIONS}, now
                )
                assert result.outcome == "delivered", result

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(1, EVENTS + 1)))
        elapsed = time.perf_counter() - started
        await client.aclose()
        assert await fake.received() == EVENTS
    return Figure("direct (no outbox)", EVENTS, elapsed)


def _start_worker(database_url: str, portal_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LIFECIRCLE_ENV": "test",
        "LIFECIRCLE_DATABASE_URL": database_url,
        "LIFECIRCLE_PORTAL_API_BASE": portal_url,
        "LIFECIRCLE_PORTAL_BATCH_SIZE": str(BATCH),
        "LIFECIRCLE_PORTAL_POLL_INTERVAL_S": "0.05",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "src.cli", "worker", "--quiet"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


async def through_workers(database_url: str, count: int) -> Figure:
    async with FakeProcess() as fake:
        workers = [_start_worker(database_url, fake.url) for _ in range(count)]
        try:
            for worker in workers:  # ready: connected and polling
                assert worker.stdout is not None
                line = await asyncio.to_thread(worker.stdout.readline)
                assert b"delivering" in line, line
            await asyncio.sleep(0.5)
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute("DELETE FROM outbox WHERE ordering_key LIKE 'bench:%'")
                started = time.perf_counter()
                await conn.execute(
                    "INSERT INTO outbox (topic, ordering_key, payload) "
                    "SELECT 'bench.changed', 'bench:' || (g % $2), "
                    "jsonb_build_object('seq', g / $2) FROM generate_series(0, $1 - 1) g",
                    EVENTS,
                    SUGGESTIONS,
                )
                while True:
                    left = await conn.fetchval(
                        "SELECT count(*) FROM outbox WHERE ordering_key LIKE 'bench:%' "
                        "AND status <> 'delivered'"
                    )
                    if left == 0:
                        break
                    await asyncio.sleep(0.02)
                elapsed = time.perf_counter() - started
            finally:
                await conn.close()
            assert await fake.received() == EVENTS
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                await asyncio.to_thread(worker.wait, 30)
    return Figure(f"outbox, {count} worker{'s' if count > 1 else ''}", EVENTS, elapsed)


async def measure(database_url: str) -> list[Figure]:
    baseline = await direct()
    one = await through_workers(database_url, 1)
    two = await through_workers(database_url, 2)
    return [baseline, one, two]


def _harness_result(figure: Figure) -> Any:
    from bench.loadgen import Result

    return Result(
        label=figure.label,
        rps=figure.rps,
        p50_ms=0.0,
        p99_ms=0.0,
        count=figure.events,
        errors=0,
        duration_s=figure.seconds,
        concurrency=BATCH,
    )


async def run(ctx: Any) -> None:
    global EVENTS, SUGGESTIONS
    if ctx.scaled(10.0) < 10.0:  # --quick: a smoke run
        EVENTS, SUGGESTIONS = 300, 30
    figures = await measure(ctx.database_url)
    baseline = _harness_result(figures[0])
    ctx.record(figures[0].label, baseline, events=figures[0].events)
    for figure in figures[1:]:
        ctx.record(figure.label, _harness_result(figure), baseline, events=figure.events)


def _print(figures: list[Figure]) -> None:
    base = figures[0].rps
    print(f"{'delivery':<24}{'events':>8}{'seconds':>10}{'events/s':>10}{'× direct':>10}")
    for f in figures:
        print(f"{f.label:<24}{f.events:>8}{f.seconds:>10.2f}{f.rps:>10.0f}{f.rps / base:>10.2f}")


async def _standalone(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = await asyncpg.connect(
        parsed.set(database="postgres").render_as_string(hide_password=False)
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parsed.database}"')
        await admin.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await admin.close()
    env = {**os.environ, "LIFECIRCLE_DATABASE_URL": url}
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    _print(await measure(url))


if __name__ == "__main__":
    default = "postgresql://postgres@127.0.0.1:5432/lc_bench_portal"
    target = sys.argv[1] if len(sys.argv) > 1 else default
    asyncio.run(_standalone(target))
