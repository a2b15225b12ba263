"""The annual project list of a community; suggestions are adopted into projects.

Projects move ``planned → designing → building → done`` (or ``cancelled`` from any open
status); done and cancelled projects are closed. Dated progress updates carry a percentage
that never goes backwards: every update and status change takes the project's row lock, so
concurrent updates are applied one after the other and each sees the last one's percentage.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from src.categories import service as categories
from src.core import audit, outbox
from src.core.auth import Principal
from src.core.errors import AppError, Message, conflict, not_found, validation_failed
from src.core.pagination import decode_cursor_as, encode_cursor, int32, uuid_value
from src.core.policy import (
    MODERATE_ROLES,
    VIEW_ROLES,
    Scope,
    acting_role,
    area_required,
    authorize_area,
    covers,
    load_area,
    view_scope,
)
from src.events import repository as events_repository
from src.models.area import AreaLevel
from src.models.need import ProjectNeed
from src.models.project import (
    Project,
    ProjectKind,
    ProjectProgress,
    ProjectProgressPhoto,
    ProjectStatus,
)
from src.projects import repository
from src.projects.schemas import (
    AreaStatsRowOut,
    ProgressIn,
    ProgressOut,
    ProjectDetailOut,
    ProjectIn,
    ProjectMeetingOut,
    ProjectOut,
    ProjectPatch,
    ProjectStatsOut,
)
from src.proposals import repository as proposals_repository
from src.proposals import service as proposals
from src.proposals.repository import ListFilter
from src.proposals.schemas import PhotoOut
from src.ratings import service as ratings
from src.uploads import service as uploads
from src.uploads.schemas import upload_url

SHANGHAI = ZoneInfo("Asia/Shanghai")
P = ProjectStatus
TRANSITIONS: dict[ProjectStatus, frozenset[ProjectStatus]] = {
    P.planned: frozenset({P.designing, P.cancelled}),
    P.designing: frozenset({P.building, P.cancelled}),
    P.building: frozenset({P.done, P.cancelled}),
    P.done: frozenset(),
    P.cancelled: frozenset(),
}
CLOSED = frozenset({P.done, P.cancelled})
DETAIL_PROGRESS = 50
DETAIL_MEETINGS = 100


def today() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


def is_overdue(project: Project | repository.ListRow, on: dt.date) -> bool:
    return (
        project.planned_end is not None
        and project.planned_end < on
        and project.status in repository.OPEN
    )


def to_out(
    project: Project | repository.ListRow,
    on: dt.date,
    need_ids: list[uuid.UUID] | None = None,
) -> ProjectOut:
    """``need_ids``: a list row carries its own; give them for a loaded project."""
    if isinstance(project, repository.ListRow):
        need_ids = project.need_ids
    return ProjectOut(
        id=project.id,
        community_id=project.community_id,
        street_id=project.street_id,
        title=project.title,
        description=project.description,
        category=project.category,
        year=project.year,
        status=project.status,
        kind=project.kind,
        content=project.content,
        implementation_path=project.implementation_path,
        budget_source=project.budget_source,
        funding_source=project.budget_source,
        responsible_unit=project.responsible_unit,
        design_team=project.design_team,
        planned_start=project.planned_start,
        planned_end=project.planned_end,
        actual_start=project.actual_start,
        actual_end=project.actual_end,
        progress_percent=project.progress_percent,
        need_ids=need_ids or [],
        overdue=is_overdue(project, on),
        created_at=project.created_at,
        updated_at=project.updated_at,
    )


def _event(project: Project) -> dict[str, Any]:
    """What the city portal learns about a project (outbox payload)."""
    return {
        "id": str(project.id),
        "community_id": str(project.community_id),
        "street_id": str(project.street_id),
        "title": project.title,
        "category": project.category,
        "year": project.year,
        "kind": project.kind.value,
        "status": project.status.value,
        "progress_percent": project.progress_percent,
        "planned_start": project.planned_start.isoformat() if project.planned_start else None,
        "planned_end": project.planned_end.isoformat() if project.planned_end else None,
        "actual_start": project.actual_start.isoformat() if project.actual_start else None,
        "actual_end": project.actual_end.isoformat() if project.actual_end else None,
    }


# --- creating ---------------------------------------------------------------------------


async def create(session: AsyncSession, principal: Principal, data: ProjectIn) -> ProjectOut:
    scope = await view_scope(
        session, principal, data.community_id, AreaLevel.community, field="community_id"
    )
    acting_role(principal, scope.area.path, MODERATE_ROLES)
    return await add(session, principal, scope, data, need_ids=[])


def need_has_project() -> AppError:
    return conflict(
        "need_has_project",
        "该需求已生成项目",
        "A project has already been created from this need",
    )


async def add(
    session: AsyncSession,
    principal: Principal,
    scope: Scope,
    data: ProjectIn,
    *,
    need_ids: list[uuid.UUID],
) -> ProjectOut:
    """Add a project to ``scope``'s list (the caller checked the role), answering
    ``need_ids``; a need already answered by a project → 409 ``need_has_project`` (the
    unique key of project_needs, under a savepoint so the request's transaction lives on)."""
    await categories.require_usable(session, data.category)
    project = Project(
        community_id=scope.area.id,
        street_id=scope.street_id,
        title=data.title,
        description=data.description,
        category=data.category,
        year=data.year or today().year,
        status=ProjectStatus.planned,
        kind=data.kind or ProjectKind.general,
        content=data.content or "",
        implementation_path=data.implementation_path,
        budget_source=data.budget_source,
        responsible_unit=data.responsible_unit,
        design_team=data.design_team,
        planned_start=data.planned_start,
        planned_end=data.planned_end,
        progress_percent=0,
        created_by=principal.user_id,
    )
    session.add(project)
    await session.flush()
    if need_ids:
        try:
            async with session.begin_nested():
                session.add_all(ProjectNeed(project_id=project.id, need_id=n) for n in need_ids)
                await session.flush()
        except IntegrityError as exc:
            raise need_has_project() from exc
    await session.refresh(project)
    await audit.record(
        session,
        principal,
        "project.create",
        "project",
        project.id,
        area_id=project.community_id,
        details={"title": project.title, "need_ids": [str(n) for n in sorted(need_ids)]},
    )
    await outbox.enqueue(session, "project.created", f"project:{project.id}", _event(project))
    return to_out(project, today(), sorted(need_ids))


# --- reading ----------------------------------------------------------------------------


async def visible_project(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID, *, lock: bool = False
) -> tuple[Project, list[uuid.UUID], bool]:
    """The project, its community's area path and whether the caller is staff over it.

    Residents of the community and staff covering it see it; anyone else gets 404."""
    project = await repository.get(session, project_id, lock=lock)
    if project is None:
        raise not_found("项目", "Project")
    area = await load_area(session, project.community_id)
    assert area is not None
    path = list(area.path)
    staff = covers(principal, path, VIEW_ROLES)
    if not staff and principal.community_id != project.community_id:
        raise not_found("项目", "Project")
    return project, path, staff


def _after(cursor: str | None) -> tuple[int, int, uuid.UUID] | None:
    values = decode_cursor_as(cursor, int32, int32, uuid_value)
    if values is None:
        return None
    if values[0] not in (0, 1):
        raise AppError(400, "invalid_cursor", Message("分页游标无效", "The cursor is not valid"))
    return values[0], values[1], values[2]


async def list_projects(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: uuid.UUID | None,
    street_id: uuid.UUID | None,
    status: ProjectStatus | None,
    year: int | None,
    kind: ProjectKind | None = None,
    overdue: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[ProjectOut], str | None]:
    """Staff (committee, street, planner, admin) get overdue projects first; residents get
    the newest year first."""
    staff = False
    if street_id is not None:
        scope = await view_scope(session, principal, street_id, AreaLevel.street, field="street_id")
        staff = scope.staff
    if community_id is None and street_id is None:
        community_id = principal.community_id
        if community_id is None:
            raise area_required()
    if community_id is not None:
        scope = await view_scope(
            session, principal, community_id, AreaLevel.community, field="community_id"
        )
        staff = staff or scope.staff
    on = today()
    rows = await repository.list_page(
        session,
        community_id=community_id,
        street_id=street_id,
        status=status,
        year=year,
        kind=kind,
        overdue=overdue,
        on=on,
        overdue_first=staff,
        after=_after(cursor),
        limit=limit,
    )
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit and items:
        last = items[-1]
        flag = 1 if staff and is_overdue(last, on) else 0
        next_cursor = encode_cursor([flag, last.year, str(last.id)])
    return [to_out(p, on) for p in items], next_cursor


def _progress_out(r: repository.ProgressRow) -> ProgressOut:
    return ProgressOut(
        id=r.id,
        project_id=r.project_id,
        seq=r.seq,
        text=r.text,
        percent=r.percent,
        photos=[PhotoOut(id=u, url=upload_url(u)) for u in r.photos],
        author_role=r.author_role,
        created_at=r.created_at,
    )


async def get_detail(
    session: AsyncSession, viewer: proposals.Viewer, project_id: uuid.UUID
) -> ProjectDetailOut:
    principal = viewer.principal
    project, _, staff = await visible_project(session, principal, project_id)
    rows = await proposals_repository.list_page(
        session,
        ListFilter(
            project_id=project.id,
            include_hidden=staff,
            hidden_visible_to=principal.user_id,
        ),
        sort="most_supported",
        after=None,
        limit=100,
    )
    suggestions = await proposals.build_outs(session, viewer, rows[:100])
    progress_rows = await repository.progress_page(
        session, project.id, before_seq=None, limit=DETAIL_PROGRESS
    )
    progress = [_progress_out(r) for r in progress_rows[:DETAIL_PROGRESS]]
    meetings = [
        ProjectMeetingOut(
            id=e.id, kind=e.kind, title=e.title, status=e.status, starts_at=e.starts_at
        )
        for e in await events_repository.project_meetings(session, project.id, DETAIL_MEETINGS)
    ]
    # The same summary as GET /projects/{id}/satisfaction; who may see the project may see it
    # (staff over its community with open meetings counted, else a resident of it).
    satisfaction = await ratings.project_summary(session, project.id, staff=staff)
    need_ids = await repository.need_ids_of(session, project.id)
    return ProjectDetailOut(
        **to_out(project, today(), need_ids).model_dump(),
        suggestions=suggestions,
        progress=progress,
        meetings=meetings,
        satisfaction=satisfaction if satisfaction.meetings > 0 else None,
    )


async def list_progress(
    session: AsyncSession,
    principal: Principal,
    project_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[ProgressOut], str | None]:
    project, _, _ = await visible_project(session, principal, project_id)
    values = decode_cursor_as(cursor, int32)  # seq is a 32-bit column
    before: int | None = values[0] if values is not None else None
    rows = await repository.progress_page(session, project.id, before_seq=before, limit=limit)
    items = rows[:limit]
    next_cursor = encode_cursor([items[-1].seq]) if len(rows) > limit and items else None
    return [_progress_out(r) for r in items], next_cursor


async def project_stats(
    session: AsyncSession, principal: Principal, area_id: uuid.UUID, *, year: int | None
) -> ProjectStatsOut:
    """Staff whose role covers the area (committee, street, planner, admin); else 403."""
    await authorize_area(session, principal, area_id, VIEW_ROLES)
    area = await load_area(session, area_id)
    assert area is not None
    the_year = year or today().year
    totals, children = await repository.area_stats(session, area.id, area.level.value, the_year)
    return ProjectStatsOut(
        area_id=area.id,
        code=area.code,
        name=area.name,
        level=area.level.value,
        year=the_year,
        **totals,
        children=[
            AreaStatsRowOut(area_id=c.area_id, code=c.code, name=c.name, level=c.level, **c.counts)
            for c in children
        ],
    )


# --- changing ---------------------------------------------------------------------------


def project_closed(project: Project) -> AppError:
    return conflict(
        "project_closed",
        f"项目已{'完成' if project.status == P.done else '取消'}，不能再修改或更新进度",
        f"The project is {project.status.value}: it can no longer be changed or updated",
    )


def _illegal(current: ProjectStatus, to: ProjectStatus) -> AppError:
    return conflict(
        "illegal_transition",
        f"项目状态不能从 {current.value} 变为 {to.value}",
        f"A project cannot move from {current.value} to {to.value}",
    )


async def update(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID, data: ProjectPatch
) -> ProjectOut:
    project, path, _ = await visible_project(session, principal, project_id, lock=True)
    acting_role(principal, path, MODERATE_ROLES)
    fields = set(data.model_fields_set)
    before = project.status
    to = data.status if "status" in fields and data.status is not None else before
    if to != before and to not in TRANSITIONS[before]:
        raise _illegal(before, to)
    changes = {
        name: getattr(data, name)
        for name in fields - {"status"}
        if getattr(data, name) != getattr(project, name)
    }
    if before in CLOSED and (changes or to != before):
        raise project_closed(project)
    if "category" in changes:
        await categories.require_usable(session, data.category or "")
    on = today()
    for name, value in changes.items():
        setattr(project, name, value)
    if to != before:
        project.status = to
        if to in (P.building, P.done) and project.actual_start is None:
            project.actual_start = on
        if to == P.done:
            if project.actual_end is None:
                project.actual_end = on
            project.progress_percent = 100
    errors = []
    for name in ("actual_start", "actual_end"):
        value = getattr(project, name)
        if name in changes and value is not None and value > on:
            errors.append({"field": name, "message": "may not be in the future"})
    if (
        project.planned_start
        and project.planned_end
        and project.planned_end < project.planned_start
    ):
        errors.append({"field": "planned_end", "message": "before planned_start"})
    if project.actual_start and project.actual_end and project.actual_end < project.actual_start:
        errors.append({"field": "actual_end", "message": "before actual_start"})
    if errors:
        raise validation_failed(errors)
    need_ids = await repository.need_ids_of(session, project.id)
    if not changes and to == before:
        return to_out(project, on, need_ids)
    project.updated_at = await session.scalar(func.now().select())
    await session.flush()
    details: dict[str, Any] = {
        "changed": sorted(changes),
        **({"from": before.value, "to": to.value} if to != before else {}),
    }
    await audit.record(
        session,
        principal,
        "project.transition" if to != before else "project.update",
        "project",
        project.id,
        area_id=project.community_id,
        details=details,
    )
    await outbox.enqueue(
        session,
        "project.status_changed" if to != before else "project.updated",
        f"project:{project.id}",
        {**_event(project), **({"from_status": before.value} if to != before else {})},
    )
    return to_out(project, on, need_ids)


async def add_progress(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID, data: ProgressIn
) -> ProgressOut:
    # The row lock orders every progress update and status change of this project.
    project, path, _ = await visible_project(session, principal, project_id, lock=True)
    role = acting_role(principal, path, MODERATE_ROLES)
    if project.status in CLOSED:
        raise project_closed(project)
    if data.percent < project.progress_percent:
        raise conflict(
            "progress_backwards",
            f"进度不能倒退：当前为 {project.progress_percent}%",
            f"Progress cannot go backwards: it is at {project.progress_percent}%",
        )
    if len(set(data.photo_ids)) != len(data.photo_ids) or not await uploads.claimable(
        session, principal.user_id, data.photo_ids
    ):
        raise validation_failed(
            [{"field": "photo_ids", "message": "unknown, foreign or already attached upload"}]
        )
    item = ProjectProgress(
        project_id=project.id,
        seq=await repository.next_seq(session, project.id),
        text=data.text,
        percent=data.percent,
        author_id=principal.user_id,
        author_role=role.value,
    )
    session.add(item)
    await session.flush()
    for position, upload_id in enumerate(data.photo_ids):
        session.add(
            ProjectProgressPhoto(progress_id=item.id, position=position, upload_id=upload_id)
        )
    project.progress_percent = data.percent
    project.updated_at = await session.scalar(func.now().select())
    await session.flush()
    await session.refresh(item)
    await audit.record(
        session,
        principal,
        "project.progress",
        "project",
        project.id,
        area_id=project.community_id,
        details={"progress_id": str(item.id), "seq": item.seq, "percent": item.percent},
    )
    await outbox.enqueue(
        session,
        "project.progress",
        f"project:{project.id}",
        {
            **_event(project),
            "progress_id": str(item.id),
            "seq": item.seq,
            "text": item.text,
            "percent": item.percent,
            "created_at": item.created_at.isoformat(),
        },
    )
    return _progress_out(
        repository.ProgressRow(
            item.id,
            item.project_id,
            item.seq,
            item.text,
            item.percent,
            item.author_role,
            item.created_at,
            list(data.photo_ids),
        )
    )
