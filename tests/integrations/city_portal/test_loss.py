"""Proof that nothing is lost: changes made while the fake portal fails a third of its calls,
drops replies after applying them, goes fully down for a while, and the workers (two
processes) are SIGKILLed and restarted twice. At the end the portal holds every change
exactly once, in order per suggestion, and none is left in the outbox.

``make test`` runs 200 changes; ``make chaos`` (``LIFECIRCLE_CHAOS=1``) runs 2,000.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.core import outbox
from src.integrations.city_portal.fake import FakePortal, Faults

ROOT = Path(__file__).resolve().parents[3]
CHAOS = os.environ.get("LIFECIRCLE_CHAOS") == "1"
CHANGES = 2000 if CHAOS else 200
PER_SUGGESTION = 10
FAULTS = Faults(
    error_rate=0.15,
    timeout_rate=0.05,
    drop_rate=0.1,
    rate_limit_rate=0.05,
    slow_rate=0.05,
    hang_s=1.0,
    slow_s=0.1,
    retry_after_s=1,
)


def start_worker(settings: Settings, portal_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LIFECIRCLE_ENV": "test",
        "LIFECIRCLE_DATABASE_URL": str(settings.database_url),
        "LIFECIRCLE_PORTAL_API_BASE": portal_url,
        "LIFECIRCLE_PORTAL_APP_ID": settings.portal_app_id,
        "LIFECIRCLE_PORTAL_APP_SECRET": settings.portal_app_secret,
        "LIFECIRCLE_PORTAL_TIMEOUT_S": "0.4",
        "LIFECIRCLE_PORTAL_LEASE_S": "2",
        "LIFECIRCLE_PORTAL_MAX_ATTEMPTS": "1000",
        "LIFECIRCLE_PORTAL_BACKOFF_BASE_S": "0.02",
        "LIFECIRCLE_PORTAL_BACKOFF_CAP_S": "0.5",
        "LIFECIRCLE_PORTAL_POLL_INTERVAL_S": "0.05",
        "LIFECIRCLE_PORTAL_BATCH_SIZE": "16",
        "LIFECIRCLE_PORTAL_BREAKER_THRESHOLD": "8",
        "LIFECIRCLE_PORTAL_BREAKER_COOLDOWN_S": "0.3",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "src.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_nothing_is_lost_or_repeated_or_reordered(
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    fake_portal: FakePortal,
    portal_url: str,
    tmp_path: Path,
) -> None:
    run = uuid.uuid4().hex[:8]
    keys = [f"chaos:{run}:{i}" for i in range(CHANGES // PER_SUGGESTION)]
    next_seq: dict[str, int] = defaultdict(int)
    rng = random.Random(8)
    made = 0

    async def produce(count: int) -> None:
        """Changes in transactions of 1–8, each to a random suggestion, in seq order."""
        nonlocal made
        while count > 0:
            size = min(count, rng.randint(1, 8))
            async with db() as session, session.begin():
                for _ in range(size):
                    key = rng.choice([k for k in keys if next_seq[k] < PER_SUGGESTION])
                    await outbox.enqueue(session, "chaos.changed", key, {"seq": next_seq[key]})
                    next_seq[key] += 1
            count -= size
            made += size

    def ours() -> int:
        return sum(1 for e in fake_portal.events() if e.ordering_key.startswith(f"chaos:{run}:"))

    async def delivered_at_least(n: int) -> bool:
        return ours() >= n

    async def outbox_empty() -> bool:
        async with db() as session:
            left = await session.scalar(
                text(
                    "SELECT count(*) FROM outbox WHERE ordering_key LIKE :prefix "
                    "AND status <> 'delivered'"
                ),
                {"prefix": f"chaos:{run}:%"},
            )
        return left == 0

    log = tmp_path / "workers.log"
    launched = 0

    async def launch() -> subprocess.Popen[bytes]:
        """A worker that has started delivering (so SIGTERM later finds its handler)."""
        nonlocal launched
        worker = start_worker(settings, portal_url, log)
        launched += 1

        async def ready() -> bool:
            return log.read_text().count("• delivering") >= launched

        await wait_for(ready, 120, "a worker to start")
        return worker

    fake_portal.set_faults(FAULTS)
    started = time.monotonic()
    workers = [await launch(), await launch()]
    kills = 0
    try:
        quarter = CHANGES // 4
        await produce(quarter)
        await wait_for(lambda: delivered_at_least(CHANGES // 8), 120, "first deliveries")
        workers[0].send_signal(signal.SIGKILL)
        kills += 1
        workers[0].wait()
        workers[0] = await launch()
        await produce(quarter)

        fake_portal.set_faults(Faults(down=True))  # a full outage while changes keep coming
        await produce(quarter)
        await asyncio.sleep(1.5)
        fake_portal.set_faults(FAULTS)

        await wait_for(lambda: delivered_at_least(CHANGES // 2), 300, "half delivered")
        workers[1].send_signal(signal.SIGKILL)
        kills += 1
        workers[1].wait()
        workers[1] = await launch()
        await produce(CHANGES - made)

        await wait_for(outbox_empty, 1800 if CHAOS else 300, "an empty outbox")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        fake_portal.set_faults(Faults())
    elapsed = time.monotonic() - started

    received = [e for e in fake_portal.events() if e.ordering_key.startswith(f"chaos:{run}:")]
    assert made == CHANGES
    assert len(received) == CHANGES, "every change exactly once"
    assert len({e.key for e in received}) == CHANGES
    by_key: dict[str, list[int]] = defaultdict(list)
    for event in received:
        by_key[event.ordering_key].append(event.payload["seq"])
    assert all(seqs == list(range(PER_SUGGESTION)) for seqs in by_key.values()), "in order"
    assert len(by_key) == len(keys)
    assert kills == 2
    assert [w.returncode for w in workers] == [0, 0], log.read_text()[-3000:]
    injected = fake_portal.stats.injected
    assert injected.get("error", 0) and injected.get("drop", 0) and injected.get("down", 0)
    assert fake_portal.stats.duplicates > 0  # dropped replies were resent and deduped
    print(
        f"\nloss test: {CHANGES} changes, {len(keys)} suggestions, 2 workers, {kills} SIGKILLs: "
        f"{elapsed:.1f} s; portal calls {fake_portal.stats.calls}, faults {injected}, "
        f"duplicates deduped {fake_portal.stats.duplicates}; all exactly once, in order"
    )
