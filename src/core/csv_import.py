"""Bulk set-up from CSV files: validated row by row, all-or-nothing or row by row.

- ``strict``: every row is tried in one transaction; one bad row and nothing is kept.
- otherwise a bad row is rolled back to its savepoint and reported, the good ones are kept.
Rows run in batches of one savepoint each (clean files go fast); a batch with a bad row is
rolled back and redone row by row, each row in its own savepoint.
Handlers are idempotent (a re-run of the same file changes nothing and says so). Progress
goes to ``out`` while rows are applied; the summary ends the run.

Exit codes: 0 every row applied (or already there), 1 some rows rejected, 2 nothing done.
"""

from __future__ import annotations

import csv
import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.errors import AppError

MAX_ROWS = 200_000


class Outcome(enum.StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"


class ImportFileError(Exception):
    """The file cannot be imported at all (missing, unreadable, wrong columns)."""


@dataclass(frozen=True)
class Row:
    line: int  # line number in the file (the header is line 1)
    values: dict[str, str]


@dataclass(frozen=True)
class RowError:
    line: int
    message: str
    values: dict[str, str]


@dataclass
class ImportSummary:
    label: str
    total: int = 0
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    rejected: list[RowError] = field(default_factory=list)
    rolled_back: bool = False

    @property
    def applied(self) -> int:
        return 0 if self.rolled_back else sum(self.counts.values())

    @property
    def exit_code(self) -> int:
        if not self.rejected:
            return 0
        return 1 if self.applied else 2

    def line(self) -> str:
        c = self.counts
        head = "✗" if self.exit_code == 2 else "!" if self.rejected else "✓"
        text = (
            f"{head} {self.label}: {self.total} rows — {c[Outcome.created]} created, "
            f"{c[Outcome.updated]} updated, {c[Outcome.unchanged]} unchanged, "
            f"{len(self.rejected)} rejected"
        )
        if self.rolled_back:
            text += " (--strict: nothing was saved)"
        return text


ROW_ERRORS = (AppError, ValidationError, IntegrityError, ValueError)

RowHandler = Callable[[AsyncSession, dict[str, str]], Awaitable[Outcome]]


def read_rows(path: Path, required: Sequence[str], optional: Sequence[str] = ()) -> list[Row]:
    """The rows of a UTF-8 CSV (a BOM from Excel/WPS is fine) with a header naming
    ``required`` columns; cells are stripped, empty lines skipped."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in required if c not in header]
            if missing:
                raise ImportFileError(f"missing columns: {', '.join(missing)}")
            unknown = [c for c in header if c not in required and c not in optional]
            if unknown:
                raise ImportFileError(f"unknown columns: {', '.join(unknown)}")
            reader.fieldnames = header
            rows = []
            for record in reader:
                if reader.line_num - 1 > MAX_ROWS:
                    raise ImportFileError(f"more than {MAX_ROWS} rows")
                values = {k: (v or "").strip() for k, v in record.items() if k is not None}
                if None in record:
                    values["__extra__"] = "yes"
                if any(values.values()):
                    rows.append(Row(reader.line_num, values))
    except FileNotFoundError as exc:
        raise ImportFileError(f"no such file: {path}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ImportFileError(f"not a UTF-8 CSV file: {exc}") from exc
    except IsADirectoryError as exc:
        raise ImportFileError(f"not a file: {path}") from exc
    if not rows:
        raise ImportFileError("the file has no rows")
    return rows


def _describe(exc: Exception) -> str:
    if isinstance(exc, AppError):
        details = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors)
        return f"{exc.code}: {exc.message.en}" + (f" ({details})" if details else "")
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "row"
            parts.append(f"{where}: {error['msg']}")
        return "invalid: " + "; ".join(parts)
    if isinstance(exc, IntegrityError):
        return "conflict: the row clashes with existing data (changed concurrently?)"
    return str(exc)


async def _apply_one(
    session: AsyncSession, handler: RowHandler, row: Row, summary: ImportSummary
) -> None:
    try:
        if "__extra__" in row.values:
            raise ValueError("more cells than columns")
        async with session.begin_nested():
            outcome = await handler(session, row.values)
            await session.flush()
        summary.counts[outcome] += 1
    except ROW_ERRORS as exc:
        session.expire_all()  # as in _apply_batch: nothing of the rejected row stays loaded
        summary.rejected.append(RowError(row.line, _describe(exc), row.values))


async def _apply_batch(
    session: AsyncSession, handler: RowHandler, batch: list[Row], summary: ImportSummary
) -> None:
    """The batch in one savepoint (the fast path for clean files); when any row fails, the
    savepoint is rolled back and the batch is redone row by row, each in its own."""
    outcomes: list[Outcome] = []
    try:
        async with session.begin_nested():
            for row in batch:
                if "__extra__" in row.values:
                    raise ValueError("more cells than columns")
                outcomes.append(await handler(session, row.values))
                # Each row's writes reach the database before the next row reads (a later
                # row's locking read must not overwrite an earlier row's pending change).
                await session.flush()
    except ROW_ERRORS:
        # The rolled-back rows' changes are still on the loaded objects: read them afresh, or
        # a redone row would see its own change as already there and skip writing it.
        session.expire_all()
        for row in batch:
            await _apply_one(session, handler, row, summary)
        return
    for outcome in outcomes:
        summary.counts[outcome] += 1


async def run_import(
    sessionmaker: async_sessionmaker[AsyncSession],
    rows: list[Row],
    handler: RowHandler,
    *,
    strict: bool,
    label: str,
    out: TextIO,
    batch_size: int = 100,
) -> ImportSummary:
    summary = ImportSummary(label=label, total=len(rows))
    step = max(1, len(rows) // 20)
    shown = 0
    async with sessionmaker() as session:
        await session.begin()
        try:
            for start in range(0, len(rows), batch_size):
                await _apply_batch(session, handler, rows[start : start + batch_size], summary)
                done = min(start + batch_size, len(rows))
                if done // step > shown or done == len(rows):
                    shown = done // step
                    print(
                        f"  {label}: {done}/{len(rows)} rows ({done * 100 // len(rows)}%)",
                        file=out,
                        flush=True,
                    )
        except BaseException:
            await session.rollback()
            raise
        if strict and summary.rejected:
            summary.rolled_back = True
            await session.rollback()
        else:
            await session.commit()
    return summary


def write_report(path: Path, summary: ImportSummary, columns: Sequence[str]) -> None:
    """The rejected rows as a CSV (with BOM, for Excel): line, error, then the row."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "error", *columns])
        for error in summary.rejected:
            writer.writerow(
                [error.line, error.message, *(error.values.get(c, "") for c in columns)]
            )


def print_outcome(
    summary: ImportSummary, out: TextIO, err: TextIO, report: Path | None, columns: Sequence[str]
) -> int:
    for error in summary.rejected[:50]:
        print(f"  line {error.line}: {error.message}", file=err)
    if len(summary.rejected) > 50:
        print(f"  … and {len(summary.rejected) - 50} more rejected rows", file=err)
    if report is not None and summary.rejected:
        write_report(report, summary, columns)
        print(f"  rejected rows written to {report}", file=out)
    print(summary.line(), file=out, flush=True)
    return summary.exit_code
