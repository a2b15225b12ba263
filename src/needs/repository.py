"""All SQL of the needs domain.

The score of a need is computed where it is read, from the live counts of its sources:

    score = suggestions + supports + survey_votes

``suggestions`` are the need's suggestions that are not hidden (each one is its author's
voice), ``supports`` the sum of their support counts, ``survey_votes`` the answers that chose
the need's survey options, online and paper (``need_survey_option_votes``). It counts
voices, not distinct people: a resident who supports two suggestions of one need counts
twice, as the suggestion list's own counts do. A list ranks its needs by score (``rank``:
equal scores share a rank), then newest id first.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.db import driver_connection
from src.models.need import EvidenceKind, Need, NeedEvidence, NeedStatus
from src.needs.evidence import Source
from src.needs.schemas import ProposalSourceIn

_SCORED = """
SELECT n.id, n.year, n.title, n.description, n.category, n.community_id, n.street_id,
       n.status::text AS status, n.status_reason, n.created_at, n.updated_at,
       ev.suggestions, ev.supports, ev.survey_votes,
       ev.suggestions + ev.supports + ev.survey_votes AS score,
       ARRAY(SELECT pn.project_id FROM project_needs pn WHERE pn.need_id = n.id
             ORDER BY pn.project_id) AS project_ids
FROM needs n
CROSS JOIN LATERAL (
  SELECT count(p.id)::bigint AS suggestions,
         coalesce(sum(p.support_count), 0)::bigint AS supports,
         coalesce(sum(need_survey_option_votes(e.survey_id, e.question_key, e.option_key))
                  FILTER (WHERE e.kind = 'survey_option'), 0)::bigint AS survey_votes
  FROM need_evidence e
  LEFT JOIN proposals p ON p.id = e.proposal_id AND p.status <> 'hidden'
  WHERE e.need_id = n.id
) ev
"""


class NeedRow(NamedTuple):
    id: uuid.UUID
    year: int
    title: str
    description: str
    category: str
    community_id: uuid.UUID | None
    street_id: uuid.UUID
    status: NeedStatus
    status_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    suggestions: int
    supports: int
    survey_votes: int
    score: int
    project_ids: list[uuid.UUID]
    rank: int | None


def _row(record: Any, rank: int | None = None) -> NeedRow:
    values = list(record)[:16]
    values[7] = NeedStatus(values[7])
    values[15] = list(values[15])
    return NeedRow._make([*values, rank])


@dataclass(frozen=True)
class ListShape:
    community: bool  # one community's needs, else the whole street's
    status: bool
    after: bool


_NEED_COLUMNS = (
    "id, year, title, description, category, community_id, street_id, status::text AS status, "
    "status_reason, created_at, updated_at"
)


@functools.lru_cache(maxsize=16)
def _list_sql(shape: ListShape) -> str:
    """Set-based: the list's needs, their evidence aggregated in one pass (hash joins, not a
    subquery per need), ranked; the project ids only for the page's rows."""
    where = ["n.street_id = $1", "n.year = $2"]
    n = 2
    if shape.community:
        n += 1
        where.append(f"n.community_id = ${n}")
    if shape.status:
        n += 1
        where.append(f"n.status = ${n}::need_status")
    page = ""
    if shape.after:
        page = f"WHERE (score, id) < (${n + 1}::bigint, ${n + 2}::uuid)"
        n += 2
    return f"""
WITH listed AS (
  SELECT {_NEED_COLUMNS} FROM needs n WHERE {" AND ".join(where)}
), ev AS (
  SELECT e.need_id,
         count(p.id)::bigint AS suggestions,
         coalesce(sum(p.support_count), 0)::bigint AS supports,
         coalesce(sum(need_survey_option_votes(e.survey_id, e.question_key, e.option_key))
                  FILTER (WHERE e.kind = 'survey_option'), 0)::bigint AS survey_votes
  FROM need_evidence e
  LEFT JOIN proposals p ON p.id = e.proposal_id AND p.status <> 'hidden'
  WHERE e.need_id IN (SELECT id FROM listed)
  GROUP BY e.need_id
), scored AS (
  SELECT l.*, coalesce(ev.suggestions, 0) AS suggestions, coalesce(ev.supports, 0) AS supports,
         coalesce(ev.survey_votes, 0) AS survey_votes,
         coalesce(ev.suggestions + ev.supports + ev.survey_votes, 0) AS score
  FROM listed l LEFT JOIN ev ON ev.need_id = l.id
), ranked AS (
  SELECT *, rank() OVER (ORDER BY score DESC) AS rank FROM scored
), page AS (
  SELECT * FROM ranked {page} ORDER BY score DESC, id DESC LIMIT ${n + 1}
)
SELECT id, year, title, description, category, community_id, street_id, status,
       status_reason, created_at, updated_at, suggestions, supports, survey_votes, score,
       ARRAY(SELECT pn.project_id FROM project_needs pn WHERE pn.need_id = page.id
             ORDER BY pn.project_id) AS project_ids,
       rank
FROM page ORDER BY score DESC, id DESC"""


async def list_page(
    session: AsyncSession,
    *,
    street_id: uuid.UUID,
    community_id: uuid.UUID | None,
    year: int,
    status: NeedStatus | None,
    after: tuple[int, uuid.UUID] | None,
    limit: int,
) -> list[NeedRow]:
    conn = await driver_connection(session)
    args: list[Any] = [street_id, year]
    if community_id is not None:
        args.append(community_id)
    if status is not None:
        args.append(status.value)
    if after is not None:
        args += after
    args.append(limit + 1)
    sql = _list_sql(ListShape(community_id is not None, status is not None, after is not None))
    return [_row(r, int(r["rank"])) for r in await conn.fetch(sql, *args)]


async def scored(session: AsyncSession, need_id: uuid.UUID) -> NeedRow | None:
    conn = await driver_connection(session)
    record = await conn.fetchrow(f"{_SCORED} WHERE n.id = $1", need_id)
    return _row(record) if record is not None else None


async def get(session: AsyncSession, need_id: uuid.UUID, *, lock: bool = False) -> Need | None:
    query = select(Need).where(Need.id == need_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def lock_many(session: AsyncSession, need_ids: list[uuid.UUID]) -> dict[uuid.UUID, Need]:
    """Row locks in id order (two requests locking overlapping needs never deadlock)."""
    query = (
        select(Need)
        .where(Need.id.in_(need_ids))
        .order_by(Need.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {n.id: n for n in await session.scalars(query)}


def evidence_rows(
    need_id: uuid.UUID, added_by: uuid.UUID, sources: list[Source]
) -> list[NeedEvidence]:
    rows = []
    for s in sources:
        if isinstance(s, ProposalSourceIn):
            rows.append(
                NeedEvidence(
                    need_id=need_id, kind=EvidenceKind.proposal, proposal_id=s.id, added_by=added_by
                )
            )
        else:
            rows.append(
                NeedEvidence(
                    need_id=need_id,
                    kind=EvidenceKind.survey_option,
                    survey_id=s.survey_id,
                    question_key=s.question_key,
                    option_key=s.option_key,
                    added_by=added_by,
                )
            )
    return rows


async def replace_evidence(
    session: AsyncSession, need_id: uuid.UUID, added_by: uuid.UUID, sources: list[Source]
) -> None:
    conn = await driver_connection(session)
    await session.flush()
    await conn.execute("DELETE FROM need_evidence WHERE need_id = $1", need_id)
    session.add_all(evidence_rows(need_id, added_by, sources))
    await session.flush()


async def sources_of(session: AsyncSession, need_id: uuid.UUID) -> list[NeedEvidence]:
    rows = await session.scalars(
        select(NeedEvidence)
        .where(NeedEvidence.need_id == need_id)
        .order_by(NeedEvidence.added_at, NeedEvidence.kind, NeedEvidence.id)
    )
    return list(rows)


async def suggestions_of(session: AsyncSession, need_id: uuid.UUID) -> list[Any]:
    """The need's visible suggestions, most supported first."""
    conn = await driver_connection(session)
    return list(
        await conn.fetch(
            "SELECT p.id, p.title, p.community_id, p.status::text AS status, p.support_count"
            " FROM need_evidence e JOIN proposals p ON p.id = e.proposal_id"
            " WHERE e.need_id = $1 AND p.status <> 'hidden'"
            " ORDER BY p.support_count DESC, p.id DESC",
            need_id,
        )
    )


async def has_project(session: AsyncSession, need_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    conn = await driver_connection(session)
    rows = await conn.fetch(
        "SELECT need_id FROM project_needs WHERE need_id = ANY($1::uuid[])", need_ids
    )
    return {r["need_id"] for r in rows}
