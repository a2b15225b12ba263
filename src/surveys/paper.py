"""Bulk entry of paper questionnaires from a CSV file (``lifecircle surveys import-paper``).

One row per sheet: ``sheet_no`` (optional; a sheet entered before is refused), ``community``
(optional: code or name, for a street survey), then one column per question key. Cells:
an option's key or label; several options separated by ``|`` (or ``;`` ``、`` ``,``), in rank
order for a ranking; a whole number for a scale; free text; ``lat,lng`` for a point (in
``--coord-sys``, GCJ-02 by default).

Every row is checked by the same rules as the HTTP endpoint (src/surveys/rules.py) before
anything is written; the good rows then go in with COPY and one tally update, in one
transaction (``--strict``: one bad row and nothing is saved).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import asyncpg

from src.core.csv_import import ImportFileError, ImportSummary, Outcome, Row, RowError, read_rows
from src.core.geo import CoordSys
from src.models.survey import Channel, QuestionKind, SurveyStatus
from src.surveys import repository
from src.surveys.repository import SurveyRow
from src.surveys.rules import Question, answer_items, check_answers, merge, tally_items

SHEET, COMMUNITY = "sheet_no", "community"
SEPARATORS = re.compile(r"\s*[|;；、,，>]\s*")
COPY_BATCH = 5000
LABEL = "paper questionnaires"


@dataclass(frozen=True)
class Sheet:
    line: int
    sheet_no: str | None
    community_id: uuid.UUID | None
    answers: dict[str, Any]


def _option_key(q: Question, cell: str) -> str:
    """Staff type the key or the label printed on the sheet."""
    for o in q.options:
        if cell in (o.key, o.label):
            return o.key
    return cell  # the rules then say "unknown option"


def parse_cell(q: Question, cell: str, coord_sys: CoordSys) -> Any:
    if q.kind is QuestionKind.single:
        return _option_key(q, cell)
    if q.kind in (QuestionKind.multiple, QuestionKind.ranking):
        return [_option_key(q, part) for part in SEPARATORS.split(cell) if part]
    if q.kind is QuestionKind.scale:
        try:
            return int(cell)
        except ValueError:
            return cell  # "a whole number is required"
    if q.kind is QuestionKind.location:
        parts = SEPARATORS.split(cell)
        try:
            lat, lng = (float(p) for p in parts)
        except ValueError:
            return cell
        return {"lat": lat, "lng": lng, "coord_sys": coord_sys.value}
    return cell


def _error(row: Row, errors: Sequence[dict[str, str]] | str) -> RowError:
    message = (
        errors
        if isinstance(errors, str)
        else "invalid: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    )
    return RowError(row.line, message, row.values)


def check_rows(
    survey: SurveyRow,
    rows: Sequence[Row],
    communities: dict[str, uuid.UUID],
    taken: set[str],
    coord_sys: CoordSys,
) -> tuple[list[Sheet], list[RowError]]:
    """Each row through the survey's rules; sheet numbers unique in the file and new."""
    good: list[Sheet] = []
    bad: list[RowError] = []
    seen: dict[str, int] = {}
    by_key = {q.key: q for q in survey.questions}
    for row in rows:
        if "__extra__" in row.values:
            bad.append(_error(row, "more cells than columns"))
            continue
        raw = {
            k: parse_cell(by_key[k], v, coord_sys)
            for k, v in row.values.items()
            if k in by_key and v != ""
        }
        stored, errors = check_answers(survey.questions, raw, prefix="column")
        sheet_no = row.values.get(SHEET) or None
        if sheet_no is not None:
            if len(sheet_no) > 64:
                errors.append({"field": SHEET, "message": "at most 64 characters"})
            elif sheet_no in taken:
                errors.append({"field": SHEET, "message": "this sheet is entered already"})
            elif sheet_no in seen:
                errors.append({"field": SHEET, "message": f"also on line {seen[sheet_no]}"})
        community_id = None
        place = row.values.get(COMMUNITY) or ""
        if survey.area_level == "community":
            community_id = survey.area_id
            if place and communities.get(place) != survey.area_id:
                errors.append({"field": COMMUNITY, "message": "not the survey's community"})
        elif place:
            community_id = communities.get(place)
            if community_id is None:
                errors.append({"field": COMMUNITY, "message": "not a community of the street"})
        if errors:
            bad.append(_error(row, errors))
            continue
        if sheet_no is not None:
            seen[sheet_no] = row.line
        good.append(Sheet(row.line, sheet_no, community_id, stored))
    return good, bad


async def _communities(conn: Any, survey: SurveyRow) -> dict[str, uuid.UUID]:
    rows = await conn.fetch(
        "SELECT id, code, name FROM areas WHERE id = $1 OR parent_id = $1",
        survey.street_id if survey.area_level == "street" else survey.area_id,
    )
    out: dict[str, uuid.UUID] = {}
    for r in rows:
        out[r["code"]] = r["id"]
        out.setdefault(r["name"], r["id"])
    return out


def _progress(out: TextIO, done: int, total: int, what: str) -> None:
    print(
        f"  {LABEL}: {what} {done}/{total} rows ({done * 100 // max(total, 1)}%)",
        file=out,
        flush=True,
    )


async def import_paper(
    dsn: str,
    path: Path,
    survey_id: uuid.UUID,
    *,
    strict: bool,
    coord_sys: CoordSys,
    out: TextIO,
) -> ImportSummary:
    """Raises ImportFileError when nothing can be done (file, columns, survey)."""
    conn = await asyncpg.connect(dsn, server_settings={"application_name": "lifecircle-import"})
    try:
        survey = await repository.load(conn, survey_id)
        if survey is None:
            raise ImportFileError(f"no survey {survey_id}")
        if survey.status is not SurveyStatus.open:
            raise ImportFileError(
                f"the survey is {survey.status.value}: paper is entered while open"
            )
        keys = [q.key for q in survey.questions]
        required = [q.key for q in survey.questions if q.required]
        rows = read_rows(path, required, [SHEET, COMMUNITY, *keys])
        summary = ImportSummary(label=LABEL, total=len(rows))
        sheets = [r.values[SHEET] for r in rows if r.values.get(SHEET)]
        taken = await repository.existing_sheets(conn, survey.id, sheets) if sheets else set()
        good, bad = check_rows(survey, rows, await _communities(conn, survey), taken, coord_sys)
        summary.rejected = bad
        _progress(out, len(rows), len(rows), "checked")
        if strict and bad:
            summary.rolled_back = True
            return summary
        if not good:
            return summary
        async with conn.transaction():
            locked = await repository.load(conn, survey_id, lock="KEY SHARE")
            if locked is None or locked.status is not SurveyStatus.open:
                raise ImportFileError("the survey was closed meanwhile; nothing saved")
            tallies: list[tuple[int, list[tuple[str, str, int, int]]]] = []
            for start in range(0, len(good), COPY_BATCH):
                batch = good[start : start + COPY_BATCH]
                ids = [uuid.uuid4() for _ in batch]
                await repository.insert_paper(
                    conn,
                    [
                        (
                            rid,
                            survey.id,
                            s.community_id,
                            s.sheet_no,
                            None,
                            json.dumps(s.answers, ensure_ascii=False),
                        )
                        for rid, s in zip(ids, batch, strict=True)
                    ],
                )
                await repository.add_items(
                    conn,
                    survey.id,
                    Channel.paper,
                    [
                        (rid, *item)
                        for rid, s in zip(ids, batch, strict=True)
                        for item in answer_items(survey.questions, s.answers)
                    ],
                )
                tallies += [(1, tally_items(survey.questions, s.answers)) for s in batch]
                _progress(out, start + len(batch), len(good), "saved")
            await repository.add_tallies(conn, survey.id, Channel.paper, merge(*tallies))
            await conn.execute(
                "INSERT INTO audit_log (action, object_type, object_id, area_id, details)"
                " VALUES ('survey.paper_import', 'survey', $1, $2, $3::jsonb)",
                str(survey.id),
                survey.area_id,
                json.dumps({"file": path.name, "rows": len(good), "rejected": len(bad)}),
            )
        summary.counts[Outcome.created] = len(good)
        return summary
    except asyncpg.exceptions.UniqueViolationError as exc:
        raise ImportFileError("a sheet number was entered meanwhile; nothing saved") from exc
    finally:
        await conn.close()
