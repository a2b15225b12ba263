"""``lifecircle purge [--batch-size N]``: delete personal data past its retention time."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys

from src.cli import command, ensure_database, migrate
from src.config import Settings
from src.core.db import create_engine, make_sessionmaker


async def _purge(settings: Settings, batch_size: int) -> int:
    from src.retention.service import RULES, cutoffs, purge

    assert settings.database_url
    now = dt.datetime.now(dt.UTC)
    limits = cutoffs(settings, now)
    for rule in RULES:
        print(f"• {rule.name}: {rule.why} (before {limits[rule.name]:%Y-%m-%d %H:%M} UTC)")
    engine = create_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        summary = await purge(
            make_sessionmaker(engine),
            settings,
            now,
            batch_size=batch_size,
            progress=lambda name, done: print(f"  … {name}: {done} deleted", flush=True),
        )
    finally:
        await engine.dispose()
    total = sum(summary.values())
    details = ", ".join(f"{name} {count}" for name, count in summary.items())
    print(f"✓ purge done: {total} rows deleted ({details})", flush=True)
    return 0


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-size", type=int, default=5000, help="rows per transaction (default 5000)"
    )


@command("purge", "delete personal data past its retention time (retention_* settings)", _configure)
def _purge_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.batch_size < 1:
        print("✗ --batch-size must be at least 1", file=sys.stderr)
        return 2
    settings, server = ensure_database(settings)
    if server is not None:
        migrate(settings)
    code = asyncio.run(_purge(settings, args.batch_size))
    del server
    return code
