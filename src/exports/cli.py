"""``lifecircle export proposals --street CODE --format csv|xlsx -o FILE`` (also
``export ratings --event ID|--project ID`` and ``export results --event ID``): exports for
scheduled jobs, recorded like the API's (without a signed-in user), with progress and a
summary."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from src.cli import command, ensure_database
from src.config import Settings
from src.core.db import create_engine, make_sessionmaker, plain_dsn
from src.core.errors import AppError
from src.exports import service
from src.exports.service import ExportFormat, ExportStream, ProposalExportQuery
from src.models.area import Area
from src.models.proposal import ProposalStatus


def _configure(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="kind", required=True)
    p = kinds.add_parser("proposals", help="suggestions with replies and status history")
    p.add_argument("--street", required=True, help="street code (areas.code)")
    p.add_argument("--community", help="community code: only this community of the street")
    p.add_argument("--format", choices=[f.value for f in ExportFormat], default="csv")
    p.add_argument("--status", choices=[s.value for s in ProposalStatus])
    p.add_argument("--category", help="category code")
    p.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, help="YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", type=dt.date.fromisoformat, help="YYYY-MM-DD")
    p.add_argument("--lang", choices=["zh", "en"], default="zh", help="column headers, labels")
    p.add_argument("-o", "--output", required=True, help="file to write ('-' for stdout)")
    r = kinds.add_parser("ratings", help="ratings with comments of a review meeting or project")
    which = r.add_mutually_exclusive_group(required=True)
    which.add_argument("--event", type=uuid.UUID, help="review meeting id")
    which.add_argument("--project", type=uuid.UUID, help="project id (all its review meetings)")
    v = kinds.add_parser("results", help="a coordination meeting's results and receipts")
    v.add_argument("--event", type=uuid.UUID, required=True, help="coordination meeting id")
    for sub in (r, v):
        sub.add_argument("--format", choices=[f.value for f in ExportFormat], default="csv")
        sub.add_argument("--lang", choices=["zh", "en"], default="zh", help="headers, labels")
        sub.add_argument("-o", "--output", required=True, help="file to write ('-' for stdout)")


class _Progress:
    def __init__(self, total: int | None) -> None:
        self.total = total
        self.started = time.monotonic()
        self._last = 0.0

    def __call__(self, rows: int) -> None:
        now = time.monotonic()
        if now - self._last < 0.5:
            return
        self._last = now
        rate = rows / max(now - self.started, 1e-6)
        share = f" ({rows * 100 // self.total}%)" if self.total else ""
        of = f" / {self.total:,}" if self.total is not None else ""
        print(f"\r  {rows:,}{of} rows{share}, {rate:,.0f} rows/s", end="", file=sys.stderr)


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    assert settings.database_url
    engine = create_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            english = args.lang == "en"
            fmt = ExportFormat(args.format)
            if args.kind == "ratings":
                plan = await service.plan_ratings(
                    session,
                    None,
                    fmt=fmt,
                    event_id=args.event,
                    project_id=args.project,
                    english=english,
                    via="cli",
                )
            elif args.kind == "results":
                plan = await service.plan_event_results(
                    session, None, args.event, fmt=fmt, english=english, via="cli"
                )
            else:
                plan_or_code = await _plan_proposals(session, args)
                if isinstance(plan_or_code, int):
                    return plan_or_code
                plan = plan_or_code
    except AppError as exc:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors)
        print(f"✗ {exc.message.en}{' — ' + detail if detail else ''}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    return await _write(args, settings, plan)


async def _plan_proposals(
    session: AsyncSession, args: argparse.Namespace
) -> service.ExportPlan | int:
    areas = {
        a.code: a
        for a in await session.scalars(
            select(Area).where(Area.code.in_([c for c in (args.street, args.community) if c]))
        )
    }
    street = areas.get(args.street)
    if street is None:
        print(f"✗ no street with code {args.street}", file=sys.stderr)
        return 2
    community = areas.get(args.community) if args.community else None
    if args.community and community is None:
        print(f"✗ no community with code {args.community}", file=sys.stderr)
        return 2
    plan = await service.plan_proposals(
        session,
        None,
        ProposalExportQuery(
            format=ExportFormat(args.format),
            street_id=street.id,
            community_id=community.id if community else None,
            status=ProposalStatus(args.status) if args.status else None,
            category=args.category,
            date_from=args.date_from,
            date_to=args.date_to,
        ),
        english=args.lang == "en",
        via="cli",
    )
    return plan


async def _write(args: argparse.Namespace, settings: Settings, plan: service.ExportPlan) -> int:
    assert settings.database_url
    stream = ExportStream(plan, plain_dsn(settings.database_url), count=True)
    try:
        await stream.open()
    except AppError as exc:
        print(f"✗ {exc.message.en}", file=sys.stderr)
        return 2
    print(f"• exporting {plan.total:,} rows of {plan.title} as {args.format}", file=sys.stderr)
    progress = _Progress(plan.total)
    to_stdout = args.output == "-"
    target = Path(args.output)
    partial = target.with_name(target.name + ".part")
    size = 0
    out = sys.stdout.buffer if to_stdout else partial.open("wb")
    try:
        async for chunk in stream.chunks(progress):
            out.write(chunk)
            size += len(chunk)
    finally:
        if not to_stdout:
            out.close()
    if not to_stdout:
        os.replace(partial, target)
    elapsed = time.monotonic() - progress.started
    print(
        f"\r✓ {stream.rows:,} rows → {args.output} ({size / 1e6:,.1f} MB) in {elapsed:,.1f} s"
        f" ({stream.rows / max(elapsed, 1e-6):,.0f} rows/s); export {plan.record_id}",
        file=sys.stderr,
    )
    return 0


@command("export", "export feedback to a CSV or XLSX file (for scheduled jobs)", _configure)
def _export(args: argparse.Namespace, settings: Settings) -> int:
    settings, _server = ensure_database(settings)
    return asyncio.run(_run(args, settings))
