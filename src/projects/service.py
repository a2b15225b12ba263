"""The annual project list of a community; suggestions are adopted into projects."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from src.core import audit
from src.core.auth import Principal
from src.core.errors import AppError, Message, not_found, validation_failed
from src.core.pagination import decode_cursor, paginate
from src.models.area import AreaLevel
from src.models.project import Project, ProjectStatus
from src.projects import repository
from src.projects.schemas import ProjectDetailOut, ProjectIn, ProjectOut
from src.proposals import repository as proposals_repository
from src.proposals import service as proposals
from src.proposals.access import MODERATE_ROLES, acting_role, area_required, load_area, view_scope
from src.proposals.repository import ListFilter

SHANGHAI = ZoneInfo("Asia/Shanghai")


def today() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


def to_out(project: Project, on: dt.date) -> ProjectOut:
    overdue = (
        project.planned_end is not None
        and project.planned_end < on
        and project.status in repository.OPEN
    )
    return ProjectOut(
        id=project.id,
        community_id=project.community_id,
        street_id=project.street_id,
        title=project.title,
        description=project.description,
        category=project.category,
        year=project.year,
        status=project.status,
        budget_source=project.budget_source,
        responsible_unit=project.responsible_unit,
        planned_start=project.planned_start,
        planned_end=project.planned_end,
        actual_start=project.actual_start,
        actual_end=project.actual_end,
        overdue=overdue,
        created_at=project.created_at,
        updated_at=project.updated_at,
    )


async def create(session: AsyncSession, principal: Principal, data: ProjectIn) -> ProjectOut:
    scope = await view_scope(
        session, principal, data.community_id, AreaLevel.community, field="community_id"
    )
    acting_role(principal, scope.area.path, MODERATE_ROLES)
    if not await proposals_repository.active_category(session, data.category):
        raise validation_failed([{"field": "category", "message": "unknown category"}])
    project = Project(
        community_id=scope.area.id,
        street_id=scope.street_id,
        title=data.title,
        description=data.description,
        category=data.category,
        year=data.year or today().year,
        status=ProjectStatus.planned,
        budget_source=data.budget_source,
        responsible_unit=data.responsible_unit,
        planned_start=data.planned_start,
        planned_end=data.planned_end,
        created_by=principal.user_id,
    )
    session.add(project)
    await session.flush()
    await session.refresh(project)
    await audit.record(
        session,
        principal,
        "project.create",
        "project",
        project.id,
        area_id=project.community_id,
        details={"title": project.title},
    )
    return to_out(project, today())


async def list_projects(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: uuid.UUID | None,
    street_id: uuid.UUID | None,
    status: ProjectStatus | None,
    year: int | None,
    overdue: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[ProjectOut], str | None]:
    if street_id is not None:
        await view_scope(session, principal, street_id, AreaLevel.street, field="street_id")
    if community_id is None and street_id is None:
        community_id = principal.community_id
        if community_id is None:
            raise area_required()
    if community_id is not None:
        await view_scope(
            session, principal, community_id, AreaLevel.community, field="community_id"
        )
    values = decode_cursor(cursor, 2)
    after = None
    if values is not None:
        try:
            after = (int(values[0]), uuid.UUID(str(values[1])))
        except (TypeError, ValueError) as exc:
            raise AppError(
                400, "invalid_cursor", Message("分页游标无效", "The cursor is not valid")
            ) from exc
    on = today()
    rows = await repository.list_page(
        session,
        community_id=community_id,
        street_id=street_id,
        status=status,
        year=year,
        overdue_on=on if overdue else None,
        after=after,
        limit=limit,
    )
    items, next_cursor = paginate(rows, limit, lambda p: (p.year, str(p.id)))
    return [to_out(p, on) for p in items], next_cursor


async def get_detail(
    session: AsyncSession, viewer: proposals.Viewer, project_id: uuid.UUID
) -> ProjectDetailOut:
    principal = viewer.principal
    project = await session.get(Project, project_id)
    if project is None:
        raise not_found("项目", "Project")
    area = await load_area(session, project.community_id)
    assert area is not None
    try:
        scope = await view_scope(
            session, principal, area.id, AreaLevel.community, field="community_id"
        )
    except AppError as exc:
        raise not_found("项目", "Project") from exc
    rows = await proposals_repository.list_page(
        session,
        ListFilter(
            project_id=project.id,
            include_hidden=scope.staff,
            hidden_visible_to=principal.user_id,
        ),
        sort="most_supported",
        after=None,
        limit=100,
    )
    suggestions = await proposals.build_outs(session, viewer, rows[:100])
    return ProjectDetailOut(**to_out(project, today()).model_dump(), suggestions=suggestions)
