"""Where a need's evidence comes from, and the checks each kind of source passes.

A source is a suggestion (``proposal``: its author and its supporters speak for the need) or
an option of a needs survey question (``survey_option``: the answers that chose it, online
and paper, counted by the SQL function ``need_survey_option_votes`` over the survey's running
tallies, migration 1340). Each kind has a check (does it exist, is it in the need's area); a
kind without a check, or whose table does not exist, is refused with a field error, so the
API accepts exactly the kinds the system can count.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from src.core.db import driver_connection
from src.models.need import EvidenceKind
from src.needs.schemas import ProposalSourceIn, SurveyOptionSourceIn

Source = ProposalSourceIn | SurveyOptionSourceIn
FieldErrors = list[dict[str, str]]


@dataclass(frozen=True)
class NeedArea:
    street_id: uuid.UUID
    community_id: uuid.UUID | None  # None: a need of the whole street


# A check gets the sources of its kind with their index in the request, returns field errors.
SourceCheck = Callable[
    [AsyncSession, NeedArea, Sequence[tuple[int, Source]]], Awaitable[FieldErrors]
]

_CHECKS: dict[EvidenceKind, SourceCheck] = {}
# The table a kind's sources live in: a registered check counts only once it exists.
_TABLES: dict[EvidenceKind, str] = {
    EvidenceKind.proposal: "public.proposals",
    EvidenceKind.survey_option: "public.surveys",
}


def register(kind: EvidenceKind, check: SourceCheck) -> None:
    _CHECKS[kind] = check


def unregister(kind: EvidenceKind) -> None:
    _CHECKS.pop(kind, None)


def source_key(source: Source) -> tuple[str, ...]:
    if isinstance(source, ProposalSourceIn):
        return (source.kind, str(source.id))
    return (source.kind, str(source.survey_id), source.question_key, source.option_key)


async def _available(session: AsyncSession, kind: EvidenceKind) -> bool:
    if kind not in _CHECKS:
        return False
    conn = await driver_connection(session)
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", _TABLES[kind]))


async def check_sources(
    session: AsyncSession, area: NeedArea, sources: Sequence[Source]
) -> FieldErrors:
    """Field errors (``sources[i]…``) for duplicates, kinds not available, and what each
    kind's check refuses; [] when every source may back a need of ``area``."""
    errors: FieldErrors = []
    seen: set[tuple[str, ...]] = set()
    by_kind: dict[EvidenceKind, list[tuple[int, Source]]] = {}
    for index, source in enumerate(sources):
        key = source_key(source)
        if key in seen:
            errors.append({"field": f"sources[{index}]", "message": "listed twice"})
            continue
        seen.add(key)
        by_kind.setdefault(EvidenceKind(source.kind), []).append((index, source))
    for kind, items in by_kind.items():
        if not await _available(session, kind):
            errors += [
                {"field": f"sources[{i}].kind", "message": f"{kind.value} is not available"}
                for i, _ in items
            ]
            continue
        errors += await _CHECKS[kind](session, area, items)
    return errors


async def _check_proposals(
    session: AsyncSession, area: NeedArea, items: Sequence[tuple[int, Source]]
) -> FieldErrors:
    conn = await driver_connection(session)
    ids = [s.id for _, s in items if isinstance(s, ProposalSourceIn)]
    rows = {
        r["id"]: r
        for r in await conn.fetch(
            "SELECT id, street_id, community_id, status::text AS status FROM proposals"
            " WHERE id = ANY($1::uuid[])",
            ids,
        )
    }
    errors: FieldErrors = []
    for index, source in items:
        assert isinstance(source, ProposalSourceIn)
        row = rows.get(source.id)
        field = f"sources[{index}].id"
        if row is None or row["status"] == "hidden":
            errors.append({"field": field, "message": "unknown suggestion"})
        elif row["street_id"] != area.street_id or (
            area.community_id is not None and row["community_id"] != area.community_id
        ):
            errors.append({"field": field, "message": "the suggestion is not in the need's area"})
    return errors


async def _check_survey_options(
    session: AsyncSession, area: NeedArea, items: Sequence[tuple[int, Source]]
) -> FieldErrors:
    """A survey of the need's street (a street survey, or one of the need's own community),
    opened at least once, and an option key of a question that has options."""
    conn = await driver_connection(session)
    ids = list({s.survey_id for _, s in items if isinstance(s, SurveyOptionSourceIn)})
    surveys = {
        r["id"]: r
        for r in await conn.fetch(
            "SELECT s.id, s.street_id, s.area_id, s.status::text AS status,"
            " array_agg(o.question_key || chr(31) || o.key) AS options"
            " FROM surveys s LEFT JOIN survey_options o ON o.survey_id = s.id"
            " WHERE s.id = ANY($1::uuid[]) GROUP BY s.id",
            ids,
        )
    }
    errors: FieldErrors = []
    for index, source in items:
        assert isinstance(source, SurveyOptionSourceIn)
        row = surveys.get(source.survey_id)
        if row is None or row["status"] == "draft":
            errors.append({"field": f"sources[{index}].survey_id", "message": "unknown survey"})
        elif row["street_id"] != area.street_id or (
            area.community_id is not None
            and row["area_id"] not in (area.community_id, area.street_id)
        ):
            errors.append(
                {
                    "field": f"sources[{index}].survey_id",
                    "message": "the survey is not in the need's area",
                }
            )
        elif f"{source.question_key}\x1f{source.option_key}" not in (row["options"] or []):
            errors.append(
                {"field": f"sources[{index}].option_key", "message": "no such option in the survey"}
            )
    return errors


register(EvidenceKind.proposal, _check_proposals)
register(EvidenceKind.survey_option, _check_survey_options)
