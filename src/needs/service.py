"""The needs list (需求清单): needs of a community or street, backed by what residents said,
ranked by evidence, decided ``open → planned | declined`` with a reason, and turned into
projects of next year's list (项目实施清单).

Who: staff covering the area read it (residents read their own community's); committee and
street staff (and admins) of the area write it — a street's own needs are the street's. Every
write takes the need's row lock, so a double tap on "plan" or "create project" is applied
once; one project per need is also the unique key of ``project_needs``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from src.categories import service as categories
from src.core import audit
from src.core.auth import Principal
from src.core.errors import AppError, conflict, not_found, validation_failed
from src.core.pagination import decode_cursor_as, encode_cursor, int64, uuid_value
from src.core.policy import (
    MODERATE_ROLES,
    VIEW_ROLES,
    AreaRef,
    Scope,
    acting_role,
    covers,
    load_area,
    view_scope,
)
from src.models.area import AreaLevel
from src.models.need import EvidenceKind, Need, NeedStatus
from src.needs import evidence, repository
from src.needs.evidence import NeedArea
from src.needs.schemas import (
    EvidenceOut,
    NeedDetailOut,
    NeedIn,
    NeedOut,
    NeedPatch,
    NeedProjectIn,
    NeedSuggestionOut,
    SourceOut,
)
from src.projects import service as projects
from src.projects.schemas import ProjectIn, ProjectOut

SHANGHAI = ZoneInfo("Asia/Shanghai")
S = NeedStatus
TRANSITIONS: dict[NeedStatus, frozenset[NeedStatus]] = {
    S.open: frozenset({S.planned, S.declined}),
    S.planned: frozenset(),
    S.declined: frozenset(),
}


def this_year() -> int:
    return dt.datetime.now(SHANGHAI).year


def _out(row: repository.NeedRow) -> NeedOut:
    return NeedOut(
        id=row.id,
        year=row.year,
        title=row.title,
        description=row.description,
        category=row.category,
        community_id=row.community_id,
        street_id=row.street_id,
        evidence=EvidenceOut(
            supports=row.supports, survey_votes=row.survey_votes, suggestions=row.suggestions
        ),
        score=row.score,
        rank=row.rank,
        status=row.status,
        reason=row.status_reason,
        project_ids=row.project_ids,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _detail(session: AsyncSession, need_id: uuid.UUID) -> NeedDetailOut:
    await session.flush()
    row = await repository.scored(session, need_id)
    assert row is not None
    sources = [
        SourceOut(kind=e.kind.value, id=e.proposal_id)
        if e.kind == EvidenceKind.proposal
        else SourceOut(
            kind=e.kind.value,
            survey_id=e.survey_id,
            question_key=e.question_key,
            option_key=e.option_key,
        )
        for e in await repository.sources_of(session, need_id)
    ]
    suggestions = [
        NeedSuggestionOut(
            id=r["id"],
            title=r["title"],
            community_id=r["community_id"],
            status=r["status"],
            support_count=r["support_count"],
        )
        for r in await repository.suggestions_of(session, need_id)
    ]
    return NeedDetailOut(**_out(row).model_dump(), sources=sources, suggestions=suggestions)


async def _need_scope(
    session: AsyncSession,
    principal: Principal,
    community_id: uuid.UUID | None,
    street_id: uuid.UUID | None,
) -> Scope:
    if community_id is not None:
        return await view_scope(
            session, principal, community_id, AreaLevel.community, field="community_id"
        )
    assert street_id is not None
    return await view_scope(session, principal, street_id, AreaLevel.street, field="street_id")


def _area_of(scope: Scope) -> NeedArea:
    if scope.area.level == AreaLevel.community:
        return NeedArea(street_id=scope.street_id, community_id=scope.area.id)
    return NeedArea(street_id=scope.area.id, community_id=None)


# --- writing ----------------------------------------------------------------------------


async def create(session: AsyncSession, principal: Principal, data: NeedIn) -> NeedDetailOut:
    scope = await _need_scope(session, principal, data.community_id, data.street_id)
    acting_role(principal, scope.area.path, MODERATE_ROLES)
    await categories.require_usable(session, data.category)
    area = _area_of(scope)
    errors = await evidence.check_sources(session, area, data.sources)
    if errors:
        raise validation_failed(errors)
    need = Need(
        year=data.year,
        community_id=area.community_id,
        street_id=area.street_id,
        title=data.title,
        description=data.description,
        category=data.category,
        status=NeedStatus.open,
        created_by=principal.user_id,
    )
    session.add(need)
    await session.flush()
    session.add_all(repository.evidence_rows(need.id, principal.user_id, data.sources))
    await audit.record(
        session,
        principal,
        "need.create",
        "need",
        need.id,
        area_id=area.community_id or area.street_id,
        details={"title": need.title, "sources": len(data.sources)},
    )
    return await _detail(session, need.id)


async def _visible(
    session: AsyncSession, principal: Principal, need: Need | None
) -> tuple[Need, AreaRef]:
    """The need and its area, when the caller may read it (staff covering it, residents of
    its community); anyone else: 404."""
    if need is None:
        raise not_found("需求", "Need")
    area = await load_area(session, need.community_id or need.street_id)
    assert area is not None
    staff = covers(principal, area.path, VIEW_ROLES)
    if not staff and (need.community_id is None or principal.community_id != need.community_id):
        raise not_found("需求", "Need")
    return need, area


def _illegal(current: NeedStatus, to: NeedStatus) -> AppError:
    return conflict(
        "illegal_transition",
        f"需求状态不能从 {current.value} 变为 {to.value}",
        f"A need cannot move from {current.value} to {to.value}",
    )


def need_closed(need: Need) -> AppError:
    return conflict(
        "need_closed",
        "需求已决定，不能再修改其依据",
        f"The need is {need.status.value}: its sources can no longer change",
    )


async def update(
    session: AsyncSession, principal: Principal, need_id: uuid.UUID, data: NeedPatch
) -> NeedDetailOut:
    locked = await repository.get(session, need_id, lock=True)
    need, area = await _visible(session, principal, locked)
    acting_role(principal, area.path, MODERATE_ROLES)
    fields = data.model_fields_set
    before = need.status
    to = data.status if data.status is not None else before
    if to != before and to not in TRANSITIONS[before]:
        raise _illegal(before, to)
    if "sources" in fields and before != NeedStatus.open:
        raise need_closed(need)
    changes = {
        name: getattr(data, name)
        for name in fields & {"title", "description", "category"}
        if getattr(data, name) != getattr(need, name)
    }
    if "category" in changes:
        await categories.require_usable(session, data.category or "")
    if data.sources is not None:
        errors = await evidence.check_sources(
            session, NeedArea(need.street_id, need.community_id), data.sources
        )
        if errors:
            raise validation_failed(errors)
    if not changes and to == before and data.sources is None:
        return await _detail(session, need.id)  # a repeat of what is already so: no change
    for name, value in changes.items():
        setattr(need, name, value)
    now = await session.scalar(func.now().select())
    assert now is not None
    if to != before:
        need.status = to
        need.status_reason = data.reason
        need.decided_by = principal.user_id
        need.decided_at = now
    need.updated_at = now
    if data.sources is not None:
        await repository.replace_evidence(session, need.id, principal.user_id, data.sources)
    await session.flush()
    changed = sorted(changes) + (["sources"] if data.sources is not None else [])
    details: dict[str, Any] = {"changed": changed}
    if to != before:
        details |= {"from": before.value, "to": to.value, "reason": data.reason}
    await audit.record(
        session,
        principal,
        "need.transition" if to != before else "need.update",
        "need",
        need.id,
        area_id=area.id,
        details=details,
    )
    return await _detail(session, need.id)


def need_not_planned(need: Need) -> AppError:
    return conflict(
        "need_not_planned",
        "只有已列入计划（planned）的需求才能生成项目",
        f"Only a planned need becomes a project; this one is {need.status.value}",
    )


async def create_project(
    session: AsyncSession, principal: Principal, need_id: uuid.UUID, data: NeedProjectIn
) -> ProjectOut:
    """A project of the next year's list answering the need (and ``with_need_ids``)."""
    need, area = await _visible(session, principal, await repository.get(session, need_id))
    acting_role(principal, area.path, MODERATE_ROLES)
    extra = [n for n in dict.fromkeys(data.with_need_ids) if n != need.id]
    locked = await repository.lock_many(session, [need.id, *extra])
    need = locked[need.id]
    errors: list[dict[str, str]] = []
    # The community the project is built in.
    community_id = data.community_id or need.community_id
    if community_id is None:
        errors.append({"field": "community_id", "message": "required for a street's need"})
    elif need.community_id is not None and community_id != need.community_id:
        errors.append({"field": "community_id", "message": "not the need's community"})
    for index, other_id in enumerate(extra):
        other = locked.get(other_id)
        field = f"with_need_ids[{index}]"
        if other is None or not await _staff_over(session, principal, other):
            errors.append({"field": field, "message": "unknown need"})
        elif other.street_id != need.street_id or (
            other.community_id is not None and other.community_id != community_id
        ):
            errors.append({"field": field, "message": "not in the project's community or street"})
        elif other.status != NeedStatus.planned:
            errors.append({"field": field, "message": "not planned"})
    if errors:
        raise validation_failed(errors)
    if need.status != NeedStatus.planned:
        raise need_not_planned(need)
    answered = await repository.has_project(session, [need.id, *extra])
    if answered:
        raise projects.need_has_project()
    assert community_id is not None
    scope = await view_scope(
        session, principal, community_id, AreaLevel.community, field="community_id"
    )
    if scope.street_id != need.street_id:
        raise validation_failed([{"field": "community_id", "message": "not in the need's street"}])
    acting_role(principal, scope.area.path, MODERATE_ROLES)
    fields = data.model_dump(exclude={"with_need_ids", "funding_source"}, exclude_unset=True)
    project_in = ProjectIn.model_validate(
        {
            **fields,
            "title": data.title or need.title,
            "description": data.description if data.description is not None else need.description,
            "category": data.category or need.category,
            "community_id": community_id,
            "year": data.year or need.year + 1,
        }
    )
    out = await projects.add(session, principal, scope, project_in, need_ids=[need.id, *extra])
    await audit.record(
        session,
        principal,
        "need.project",
        "need",
        need.id,
        area_id=area.id,
        details={"project_id": str(out.id), "with": [str(n) for n in extra]},
    )
    return out


async def _staff_over(session: AsyncSession, principal: Principal, need: Need) -> bool:
    area = await load_area(session, need.community_id or need.street_id)
    return area is not None and covers(principal, area.path, MODERATE_ROLES)


# --- reading ----------------------------------------------------------------------------


async def get_detail(
    session: AsyncSession, principal: Principal, need_id: uuid.UUID
) -> NeedDetailOut:
    need, _ = await _visible(session, principal, await repository.get(session, need_id))
    return await _detail(session, need.id)


async def list_needs(
    session: AsyncSession,
    principal: Principal,
    area_id: uuid.UUID,
    *,
    year: int | None,
    status: NeedStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[NeedOut], str | None]:
    """A community's needs, or a street's (its own and all its communities'), ranked."""
    area = await load_area(session, area_id)
    if area is None:
        raise not_found("区域", "Area")
    if area.level not in (AreaLevel.community, AreaLevel.street):
        raise validation_failed([{"field": "area_id", "message": "a community or a street"}])
    scope = await view_scope(session, principal, area_id, area.level, field="area_id")
    values = decode_cursor_as(cursor, int64, uuid_value)
    after = (int(values[0]), values[1]) if values is not None else None
    need_area = _area_of(scope)
    rows = await repository.list_page(
        session,
        street_id=need_area.street_id,
        community_id=need_area.community_id,
        year=year or this_year(),
        status=status,
        after=after,
        limit=limit,
    )
    items = rows[:limit]
    next_cursor = (
        encode_cursor([items[-1].score, str(items[-1].id)]) if len(rows) > limit and items else None
    )
    return [_out(r) for r in items], next_cursor
