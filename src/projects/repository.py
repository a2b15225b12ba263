from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, func, literal, not_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from src.models.project import Project, ProjectProgress, ProjectProgressPhoto, ProjectStatus

OPEN = (ProjectStatus.planned, ProjectStatus.designing, ProjectStatus.building)


def overdue_condition(on: dt.date) -> ColumnElement[bool]:
    return and_(Project.planned_end < on, Project.status.in_(OPEN))


async def list_page(
    session: AsyncSession,
    *,
    community_id: uuid.UUID | None,
    street_id: uuid.UUID | None,
    status: ProjectStatus | None,
    year: int | None,
    overdue: bool | None,
    on: dt.date,
    overdue_first: bool,
    after: tuple[int, int, uuid.UUID] | None,
    limit: int,
) -> list[Project]:
    """Newest year first; with ``overdue_first`` the overdue ones come before the rest.

    The cursor is (overdue flag, year, id), the flag 0 when overdue ones are not put first.
    Overdue-first is read as two index-ordered parts (the overdue projects, then the others)
    rather than one sort on a computed flag, which would sort a whole street per page."""
    base: list[Any] = []
    if community_id is not None:
        base.append(Project.community_id == community_id)
    if street_id is not None:
        base.append(Project.street_id == street_id)
    if status is not None:
        base.append(Project.status == status)
    if year is not None:
        base.append(Project.year == year)
    is_late = overdue_condition(on)
    not_late = not_(func.coalesce(is_late, False))
    if overdue is True:
        base.append(is_late)
    elif overdue is False:
        base.append(not_late)
    key = (after[1], after[2]) if after is not None else None

    if not overdue_first or overdue is not None:
        return await _part(session, base, key, limit + 1)
    if after is not None and after[0] == 0:
        return await _part(session, [*base, not_late], key, limit + 1)
    rows = await _part(session, [*base, is_late], key, limit + 1)
    if len(rows) <= limit:
        rows += await _part(session, [*base, not_late], None, limit + 1 - len(rows))
    return rows


async def _part(
    session: AsyncSession,
    conditions: list[Any],
    after: tuple[int, uuid.UUID] | None,
    n: int,
) -> list[Project]:
    if after is not None:
        conditions = [
            *conditions,
            tuple_(Project.year, Project.id)
            < tuple_(literal(after[0], Project.year.type), literal(after[1], Project.id.type)),
        ]
    query = (
        select(Project)
        .where(and_(*conditions))
        .order_by(Project.year.desc(), Project.id.desc())
        .limit(n)
    )
    return list((await session.scalars(query)).all())


async def get(
    session: AsyncSession, project_id: uuid.UUID, *, lock: bool = False
) -> Project | None:
    query = (
        select(Project).where(Project.id == project_id).execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def next_seq(session: AsyncSession, project_id: uuid.UUID) -> int:
    """The next progress number; callers hold the project's row lock."""
    current = await session.scalar(
        select(func.coalesce(func.max(ProjectProgress.seq), 0)).where(
            ProjectProgress.project_id == project_id
        )
    )
    return int(current or 0) + 1


async def progress_page(
    session: AsyncSession, project_id: uuid.UUID, *, before_seq: int | None, limit: int
) -> list[ProjectProgress]:
    """Newest first."""
    query = select(ProjectProgress).where(ProjectProgress.project_id == project_id)
    if before_seq is not None:
        query = query.where(ProjectProgress.seq < before_seq)
    query = query.order_by(ProjectProgress.seq.desc()).limit(limit + 1)
    return list((await session.scalars(query)).all())


async def photos_of(
    session: AsyncSession, progress_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    if not progress_ids:
        return {}
    rows = await session.execute(
        select(ProjectProgressPhoto.progress_id, ProjectProgressPhoto.upload_id)
        .where(ProjectProgressPhoto.progress_id.in_(progress_ids))
        .order_by(ProjectProgressPhoto.progress_id, ProjectProgressPhoto.position)
    )
    out: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for progress_id, upload_id in rows:
        out[progress_id].append(upload_id)
    return out
