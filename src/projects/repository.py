"""All SQL of the projects domain."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import uuid
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.db import driver_connection
from src.models.project import (
    Project,
    ProjectKind,
    ProjectProgress,
    ProjectStatus,
)

OPEN = (ProjectStatus.planned, ProjectStatus.designing, ProjectStatus.building)


# --- the list (hot path: hand-written SQL on the request's asyncpg connection) -------------
#
# Building SQLAlchemy statements and loading ORM objects cost ten times the SQL of a page, so
# the list of a street or community has its own statements: one string per filter shape
# (``_list_sql``, built once), with the values of a request as $n parameters. The statuses of
# an open project are written out, so the planner matches ix_projects_street_open_year.

_LIST_COLUMNS = (
    "id, community_id, street_id, title, description, category, year, status, kind, content, "
    "implementation_path, budget_source, responsible_unit, design_team, planned_start, "
    "planned_end, actual_start, actual_end, progress_percent, created_at, updated_at, "
    # The needs it answers: a primary-key probe of project_needs per listed row.
    "ARRAY(SELECT pn.need_id FROM project_needs pn WHERE pn.project_id = projects.id"
    " ORDER BY pn.need_id) AS need_ids"
)
_FILTER_COLUMNS = ("community_id", "street_id", "status", "year", "kind")
_OPEN_SQL = ", ".join(f"'{status.value}'" for status in OPEN)


class ListRow(NamedTuple):
    """A project as a list shows it: the columns of ``_LIST_COLUMNS`` (a tuple: a page of rows
    is made in microseconds)."""

    id: uuid.UUID
    community_id: uuid.UUID
    street_id: uuid.UUID
    title: str
    description: str
    category: str
    year: int
    status: ProjectStatus
    kind: ProjectKind
    content: str
    implementation_path: str | None
    budget_source: str | None
    responsible_unit: str | None
    design_team: str | None
    planned_start: dt.date | None
    planned_end: dt.date | None
    actual_start: dt.date | None
    actual_end: dt.date | None
    progress_percent: int
    created_at: dt.datetime
    updated_at: dt.datetime
    need_ids: list[uuid.UUID]


@dataclass(frozen=True)
class _ListShape:
    """What a list statement's text depends on (never the values)."""

    filters: tuple[str, ...]  # the _FILTER_COLUMNS compared with a value
    late: bool | None  # only the overdue projects (True), only the others (False), or all
    after: bool


@functools.lru_cache(maxsize=64)
def _list_sql(shape: _ListShape) -> str:
    numbers = itertools.count(1)
    where = [f"{column} = ${next(numbers)}" for column in shape.filters]
    if shape.late is not None:
        is_late = f"planned_end < ${next(numbers)}::date AND status IN ({_OPEN_SQL})"
        where.append(f"({is_late})" if shape.late else f"NOT coalesce({is_late}, false)")
    if shape.after:
        first, second = next(numbers), next(numbers)
        where.append(f"(year, id) < (${first}::int4, ${second}::uuid)")
    return (
        f"SELECT {_LIST_COLUMNS} FROM projects WHERE {' AND '.join(where) or 'TRUE'} "
        f"ORDER BY year DESC, id DESC LIMIT ${next(numbers)}"
    )


_STATUSES = {status.value: status for status in ProjectStatus}
_KINDS = {kind.value: kind for kind in ProjectKind}


def _list_row(record: Any) -> ListRow:
    values = tuple(record)
    return ListRow._make(
        (*values[:7], _STATUSES[values[7]], _KINDS[values[8]], *values[9:-1], list(values[-1]))
    )


async def list_page(
    session: AsyncSession,
    *,
    community_id: uuid.UUID | None,
    street_id: uuid.UUID | None,
    status: ProjectStatus | None,
    year: int | None,
    kind: ProjectKind | None = None,
    overdue: bool | None,
    on: dt.date,
    overdue_first: bool,
    after: tuple[int, int, uuid.UUID] | None,
    limit: int,
) -> list[ListRow]:
    """Newest year first; with ``overdue_first`` the overdue ones come before the rest.

    The cursor is (overdue flag, year, id), the flag 0 when overdue ones are not put first.
    Overdue-first is read as two index-ordered parts (the overdue projects, then the others)
    rather than one sort on a computed flag, which would sort a whole street per page."""
    conn = await driver_connection(session)
    filters: list[str] = []
    values: list[Any] = []
    given = (
        community_id,
        street_id,
        status.value if status is not None else None,
        year,
        kind.value if kind is not None else None,
    )
    for column, value in zip(_FILTER_COLUMNS, given, strict=True):
        if value is not None:
            filters.append(column)
            values.append(value)
    key = (after[1], after[2]) if after is not None else None

    async def part(late: bool | None, key: tuple[int, uuid.UUID] | None, n: int) -> list[ListRow]:
        args = [*values]
        if late is not None:
            args.append(on)
        if key is not None:
            args += key
        args.append(n)
        sql = _list_sql(_ListShape(tuple(filters), late, key is not None))
        return [_list_row(record) for record in await conn.fetch(sql, *args)]

    if not overdue_first or overdue is not None:
        return await part(overdue, key, limit + 1)
    if after is not None and after[0] == 0:
        return await part(False, key, limit + 1)
    rows = await part(True, key, limit + 1)
    if len(rows) <= limit:
        rows += await part(False, None, limit + 1 - len(rows))
    return rows


async def get(
    session: AsyncSession, project_id: uuid.UUID, *, lock: bool = False
) -> Project | None:
    query = (
        select(Project).where(Project.id == project_id).execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def need_ids_of(session: AsyncSession, project_id: uuid.UUID) -> list[uuid.UUID]:
    conn = await driver_connection(session)
    rows = await conn.fetch(
        "SELECT need_id FROM project_needs WHERE project_id = $1 ORDER BY need_id", project_id
    )
    return [r["need_id"] for r in rows]


async def next_seq(session: AsyncSession, project_id: uuid.UUID) -> int:
    """The next progress number; callers hold the project's row lock."""
    current = await session.scalar(
        select(func.coalesce(func.max(ProjectProgress.seq), 0)).where(
            ProjectProgress.project_id == project_id
        )
    )
    return int(current or 0) + 1


class ProgressRow(NamedTuple):
    id: uuid.UUID
    project_id: uuid.UUID
    seq: int
    text: str
    percent: int
    author_role: str
    created_at: dt.datetime
    photos: list[uuid.UUID]  # upload ids, in their order


_PROGRESS = """
SELECT p.id, p.project_id, p.seq, p.text, p.percent, p.author_role, p.created_at,
       ARRAY(SELECT ph.upload_id FROM project_progress_photos ph
             WHERE ph.progress_id = p.id ORDER BY ph.position) AS photos
FROM project_progress p
WHERE p.project_id = $1 AND ($2::int IS NULL OR p.seq < $2)
ORDER BY p.seq DESC LIMIT $3
"""


async def progress_page(
    session: AsyncSession, project_id: uuid.UUID, *, before_seq: int | None, limit: int
) -> list[ProgressRow]:
    """Newest first, each with its photos (one statement); ``limit + 1`` rows at most."""
    conn = await driver_connection(session)
    rows = await conn.fetch(_PROGRESS, project_id, before_seq, limit + 1)
    return [ProgressRow(*r.values()) for r in rows]


# --- the city plan's annex table ----------------------------------------------------------

STATS_COLUMNS = (
    "total",
    "done_in_year",
    "due_in_year",
    "renmin_fang",
    "renmin_fang_done",
    "liuyi_ting",
    "liuyi_ting_done",
    "embedded_service",
    "embedded_service_done",
    "cancelled",
)


def _stats_select(year_param: str) -> str:
    done = (
        f"p.status = 'done' AND p.actual_end >= make_date({year_param}, 1, 1)"
        f" AND p.actual_end < make_date({year_param} + 1, 1, 1)"
    )
    live = "p.status <> 'cancelled'"
    parts = [
        f"count(*) FILTER (WHERE {live})",
        f"count(*) FILTER (WHERE {done})",
        f"count(*) FILTER (WHERE {live} AND p.planned_end < make_date({year_param} + 1, 1, 1))",
    ]
    for kind in ("renmin_fang", "liuyi_ting", "embedded_service"):
        parts.append(f"count(*) FILTER (WHERE {live} AND p.kind = '{kind}')")
        parts.append(f"count(*) FILTER (WHERE {done} AND p.kind = '{kind}')")
    parts.append("count(*) FILTER (WHERE p.status = 'cancelled')")
    return ", ".join(f"{expr} AS {name}" for expr, name in zip(parts, STATS_COLUMNS, strict=True))


class StatsRow(NamedTuple):
    area_id: uuid.UUID
    code: str
    name: str
    level: str
    counts: dict[str, int]


async def area_stats(
    session: AsyncSession, area_id: uuid.UUID, level: str, year: int
) -> tuple[dict[str, int], list[StatsRow]]:
    """The counts of the area's list of ``year`` and of each child area's (one statement
    each; the children are grouped on the projects' own street or community column)."""
    conn = await driver_connection(session)
    own = {"district": None, "street": "street_id", "community": "community_id"}[level]
    child = {"district": "street_id", "street": "community_id", "community": None}[level]
    children: list[StatsRow] = []
    if child is not None:
        # Counted per child on the projects' narrow rows first, then named.
        counted = ", ".join(f"coalesce(x.{k}, 0) AS {k}" for k in STATS_COLUMNS)
        records = await conn.fetch(
            f"SELECT c.id, c.code, c.name, c.level::text AS level, {counted}"
            f" FROM areas c LEFT JOIN (SELECT p.{child} AS area_id, {_stats_select('$2')}"
            f"  FROM projects p WHERE p.year = $2"
            f"  AND p.{child} IN (SELECT id FROM areas WHERE parent_id = $1) GROUP BY 1) x"
            " ON x.area_id = c.id WHERE c.parent_id = $1 ORDER BY c.code",
            area_id,
            year,
        )
        children = [
            StatsRow(r["id"], r["code"], r["name"], r["level"], {k: r[k] for k in STATS_COLUMNS})
            for r in records
        ]
    if own is None:  # a district: its projects are its streets'
        totals = {k: sum(c.counts[k] for c in children) for k in STATS_COLUMNS}
    else:
        record = await conn.fetchrow(
            f"SELECT {_stats_select('$2')} FROM projects p WHERE p.{own} = $1 AND p.year = $2",
            area_id,
            year,
        )
        assert record is not None
        totals = {k: record[k] for k in STATS_COLUMNS}
    return totals, children
