"""``lifecircle staff import FILE.csv [--strict] [--report BAD.csv]``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from src.areas.cli import configure_import
from src.cli import command, ensure_database, migrate
from src.config import Settings
from src.core.csv_import import ImportFileError, print_outcome, read_rows, run_import
from src.core.db import create_engine, make_sessionmaker


async def _import(settings: Settings, args: argparse.Namespace) -> int:
    from src.staff.importer import OPTIONAL, REQUIRED, import_staff_row

    try:
        rows = read_rows(args.file, REQUIRED, OPTIONAL)
    except ImportFileError as exc:
        print(f"✗ staff: {exc}; nothing done", file=sys.stderr)
        return 2
    assert settings.database_url
    engine = create_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        summary = await run_import(
            make_sessionmaker(engine),
            rows,
            import_staff_row,
            strict=args.strict,
            label="staff",
            out=sys.stdout,
        )
    finally:
        await engine.dispose()
    return print_outcome(summary, sys.stdout, sys.stderr, args.report, [*REQUIRED, *OPTIONAL])


@command(
    "staff", "manage staff roles: `staff import FILE.csv`", lambda p: configure_import(p, "roles")
)
def _staff(args: argparse.Namespace, settings: Settings) -> int:
    settings, server = ensure_database(settings)
    if server is not None:
        migrate(settings)
    code = asyncio.run(_import(settings, args))
    del server
    return code
