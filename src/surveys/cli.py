"""``lifecircle surveys import-paper FILE.csv --survey ID [--strict] [--report BAD.csv]``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

from src.cli import command, ensure_database, migrate
from src.config import Settings
from src.core.csv_import import ImportFileError, print_outcome
from src.core.geo import CoordSys


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    imp = actions.add_parser(
        "import-paper", help="enter paper questionnaires from a CSV file (src/surveys/paper.py)"
    )
    imp.add_argument(
        "file", type=Path, help="UTF-8 CSV: sheet_no, community, one column per question"
    )
    imp.add_argument("--survey", required=True, type=uuid.UUID, help="the survey's id")
    imp.add_argument(
        "--strict", action="store_true", help="all or nothing: one bad row and nothing is saved"
    )
    imp.add_argument("--report", type=Path, help="write the rejected rows to this CSV file")
    imp.add_argument(
        "--coord-sys",
        type=CoordSys,
        default=CoordSys.gcj02,
        choices=list(CoordSys),
        help="system of the lat,lng cells (default gcj02)",
    )


async def _import(settings: Settings, args: argparse.Namespace) -> int:
    from src.core.db import plain_dsn
    from src.surveys.paper import COMMUNITY, SHEET, import_paper

    assert settings.database_url
    started = time.perf_counter()
    try:
        summary = await import_paper(
            plain_dsn(settings.database_url),
            args.file,
            args.survey,
            strict=args.strict,
            coord_sys=args.coord_sys,
            out=sys.stdout,
        )
    except ImportFileError as exc:
        print(f"✗ paper questionnaires: {exc}; nothing done", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    columns = [
        SHEET,
        COMMUNITY,
        *sorted({k for e in summary.rejected for k in e.values} - {SHEET, COMMUNITY, "__extra__"}),
    ]
    code = print_outcome(summary, sys.stdout, sys.stderr, args.report, columns)
    print(f"  {summary.applied} sheets in {elapsed:.2f} s", flush=True)
    return code


@command("surveys", "needs surveys: `surveys import-paper FILE.csv --survey ID`", _configure)
def _surveys(args: argparse.Namespace, settings: Settings) -> int:
    settings, server = ensure_database(settings)
    if server is not None:
        migrate(settings)
    code = asyncio.run(_import(settings, args))
    del server
    return code
