"""``lifecircle worker`` (deliver the outbox) and ``lifecircle fake-portal`` (serve the fake)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import time

from src.cli import command, ensure_database
from src.config import Settings


def _configure_worker(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--until-empty",
        action="store_true",
        help="stop once nothing is due (rows waiting for a later retry stay for the next run)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--no-jobs", action="store_true", help="do not run the periodic jobs (src/jobs)"
    )


@command("worker", "deliver the outbox to the city portal (several may run)", _configure_worker)
def _worker(args: argparse.Namespace, settings: Settings) -> int:
    settings, _server = ensure_database(settings)
    return asyncio.run(
        _run_worker(
            settings,
            until_empty=args.until_empty,
            quiet=args.quiet,
            jobs=not (args.no_jobs or args.until_empty),
        )
    )


async def _run_worker(
    settings: Settings, *, until_empty: bool, quiet: bool, jobs: bool = False
) -> int:
    from src.core.db import create_engine, make_sessionmaker
    from src.integrations.city_portal.client import PortalClient
    from src.integrations.city_portal.worker import OutboxWorker, WorkerConfig
    from src.jobs.cli import start_jobs

    assert settings.database_url
    engine = create_engine(settings.database_url, pool_size=2, max_overflow=2)
    client = PortalClient.from_settings(settings)
    worker = OutboxWorker(make_sessionmaker(engine), client, WorkerConfig.from_settings(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"• delivering the outbox to {settings.portal_api_base}", flush=True)
    # The periodic jobs (src/jobs) run in the same process, once per period across workers.
    scheduler = start_jobs(make_sessionmaker(engine), settings) if jobs else None
    started = time.monotonic()
    try:
        stats = await worker.run(
            stop,
            until_empty=until_empty,
            progress=None if quiet else (lambda line: print(f"  {line}", flush=True)),
        )
    finally:
        if scheduler is not None:
            scheduler.stop()
        await client.aclose()
        await engine.dispose()
    elapsed = time.monotonic() - started
    print(f"✓ worker stopped after {elapsed:.1f} s: {worker.describe()}", flush=True)
    del stats
    return 0


def _configure_fake(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of 500s")
    parser.add_argument("--timeout-rate", type=float, default=0.0, help="share of hung calls")
    parser.add_argument(
        "--drop-rate", type=float, default=0.0, help="share applied then cut mid-reply"
    )
    parser.add_argument("--rate-limit-rate", type=float, default=0.0, help="share of 429s")
    parser.add_argument("--slow-rate", type=float, default=0.0, help="share of slow replies")


@command("fake-portal", "serve a fake city portal on loopback (demo and tests)", _configure_fake)
def _fake_portal(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from src.integrations.city_portal.fake import (
        DEMO_IDENTITIES,
        FakePortal,
        Faults,
        quiet_dropped_replies,
    )

    fake = FakePortal(settings.portal_app_id, settings.portal_app_secret)
    fake.set_faults(
        Faults(
            error_rate=args.error_rate,
            timeout_rate=args.timeout_rate,
            drop_rate=args.drop_rate,
            rate_limit_rate=args.rate_limit_rate,
            slow_rate=args.slow_rate,
        )
    )
    quiet_dropped_replies()
    print(f"✓ fake city portal on http://127.0.0.1:{args.port}", flush=True)
    print("  sign-on tickets (single use; more from POST /_fake/tickets):", flush=True)
    for identity in DEMO_IDENTITIES:
        ticket = fake.issue_ticket(identity)
        print(f"  {identity.name} ({identity.community_code or '无社区'}): {ticket}", flush=True)
    print("  received events: GET /_fake/events · faults: PUT /_fake/faults", flush=True)
    uvicorn.run(fake.app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")
    return 0
