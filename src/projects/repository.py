from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import and_, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from src.models.project import Project, ProjectStatus

OPEN = (ProjectStatus.planned, ProjectStatus.designing, ProjectStatus.building)


async def list_page(
    session: AsyncSession,
    *,
    community_id: uuid.UUID | None,
    street_id: uuid.UUID | None,
    status: ProjectStatus | None,
    year: int | None,
    overdue_on: dt.date | None,
    after: tuple[int, uuid.UUID] | None,
    limit: int,
) -> list[Project]:
    conditions: list[Any] = []
    if community_id is not None:
        conditions.append(Project.community_id == community_id)
    if street_id is not None:
        conditions.append(Project.street_id == street_id)
    if status is not None:
        conditions.append(Project.status == status)
    if year is not None:
        conditions.append(Project.year == year)
    if overdue_on is not None:
        conditions.append(Project.planned_end < overdue_on)
        conditions.append(Project.status.in_(OPEN))
    if after is not None:
        # Newest year first, then by id (descending too, so one index serves both).
        conditions.append(
            tuple_(Project.year, Project.id)
            < tuple_(literal(after[0], Project.year.type), literal(after[1], Project.id.type))
        )
    query = (
        select(Project)
        .where(and_(*conditions))
        .order_by(Project.year.desc(), Project.id.desc())
        .limit(limit + 1)
    )
    return list((await session.scalars(query)).all())
