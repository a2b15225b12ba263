"""``lifecircle areas import FILE.csv [--strict] [--report BAD.csv]``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from src.cli import command, ensure_database, migrate
from src.config import Settings
from src.core.csv_import import ImportFileError, print_outcome, read_rows, run_import
from src.core.db import create_engine, make_sessionmaker


def configure_import(parser: argparse.ArgumentParser, what: str) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    imp = actions.add_parser("import", help=f"create or update {what} from a CSV file")
    imp.add_argument("file", type=Path, help="UTF-8 CSV with a header row (see docs/ADMIN.md)")
    imp.add_argument(
        "--strict", action="store_true", help="all or nothing: one bad row and nothing is saved"
    )
    imp.add_argument("--report", type=Path, help="write the rejected rows to this CSV file")


async def _import(settings: Settings, args: argparse.Namespace) -> int:
    from src.areas.importer import OPTIONAL, REQUIRED, import_area_row

    try:
        rows = read_rows(args.file, REQUIRED, OPTIONAL)
    except ImportFileError as exc:
        print(f"✗ areas: {exc}; nothing done", file=sys.stderr)
        return 2
    assert settings.database_url
    engine = create_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        summary = await run_import(
            make_sessionmaker(engine),
            rows,
            import_area_row,
            strict=args.strict,
            label="areas",
            out=sys.stdout,
        )
    finally:
        await engine.dispose()
    return print_outcome(summary, sys.stdout, sys.stderr, args.report, [*REQUIRED, *OPTIONAL])


@command("areas", "manage areas: `areas import FILE.csv`", lambda p: configure_import(p, "areas"))
def _areas(args: argparse.Namespace, settings: Settings) -> int:
    settings, server = ensure_database(settings)
    if server is not None:
        migrate(settings)
    code = asyncio.run(_import(settings, args))
    del server
    return code
