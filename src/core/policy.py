"""Who may do what: one policy, roles × area scope × object, asked the same way by every domain.

- Roles are granted on an area (a district, a street, a community) and cover the areas below
  it; an admin grant without an area covers the whole city.
- Residents see their home community; committee staff their community; street staff and
  planners every community of their street; admins what their grant covers. Anything else
  is answered 404 where the object's existence is itself private, else 403.
- The area checks load only what they need (id, level, parent, path): never a boundary.

Guards: :func:`require_roles` (the caller holds one of the roles somewhere),
:func:`authorize_area` / :func:`covers` (one of the roles in the area or above it),
:func:`view_scope` (may read a community's or street's objects), :func:`acting_role` (which
role the caller acts in), :func:`require_city_admin` (city-wide objects such as the outbox),
:func:`moderation_area` (who works a moderation queue; a decision on one item asks
:func:`acting_role` with ``MODERATE_ROLES`` over the suggestion's community).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.auth import Principal
from src.core.db import driver_connection
from src.core.errors import AppError, Message, forbidden, not_found, validation_failed
from src.models.area import AreaLevel
from src.models.user import Role


def require_roles(principal: Principal, *roles: Role) -> None:
    if not principal.has_role(*roles):
        raise forbidden("role_required", "当前身份无权执行此操作", "Your role may not do this")


async def area_path(session: AsyncSession, area_id: uuid.UUID) -> list[uuid.UUID] | None:
    """Ids from the district down to ``area_id``, or None when the area does not exist."""
    row = (
        await session.execute(text("SELECT path FROM areas WHERE id = :id"), {"id": area_id})
    ).first()
    return list(row.path) if row else None


def covers(principal: Principal, path: Iterable[uuid.UUID], roles: Iterable[Role]) -> bool:
    wanted = set(roles)
    path_ids = set(path)
    return any(
        g.role in wanted and (g.area_id is None or g.area_id in path_ids) for g in principal.grants
    )


async def authorize_area(
    session: AsyncSession,
    principal: Principal,
    area_id: uuid.UUID,
    roles: Iterable[Role],
    *,
    hide: bool = False,
) -> list[uuid.UUID]:
    """Allow when the caller holds one of ``roles`` in ``area_id`` or an area above it.

    Returns the area's path. ``hide=True`` answers 404 instead of 403 where the existence of
    the object is itself private.
    """
    path = await area_path(session, area_id)
    if path is None:
        raise not_found("区域", "Area")
    if not covers(principal, path, roles):
        if hide:
            raise not_found()
        raise forbidden("area_forbidden", "无权访问该区域的数据", "Not allowed in this area")
    return path


def is_resident_of(principal: Principal, area_path_ids: Iterable[uuid.UUID]) -> bool:
    return principal.community_id is not None and principal.community_id in set(area_path_ids)


VIEW_ROLES = (Role.committee, Role.street, Role.planner, Role.admin)
MODERATE_ROLES = (Role.committee, Role.street, Role.admin)
REPLY_ROLES = (Role.committee, Role.street, Role.planner, Role.admin)
# Decision support (area figures, hot spots, briefs): staff of the area or of an area above.
DECISION_ROLES = (Role.committee, Role.street, Role.planner, Role.admin)


@dataclass(frozen=True)
class AreaRef:
    """What a policy check needs of an area (never its boundary)."""

    id: uuid.UUID
    code: str
    name: str
    level: AreaLevel
    parent_id: uuid.UUID | None
    path: list[uuid.UUID]
    retired: bool


@dataclass(frozen=True)
class Scope:
    """The caller's view of one area."""

    area: AreaRef
    staff: bool  # holds a staff role covering the area
    resident: bool  # the area is the caller's home community

    @property
    def street_id(self) -> uuid.UUID:
        assert self.area.parent_id is not None
        return self.area.parent_id


_AREA_SQL = "SELECT code, name, level::text, parent_id, path, retired FROM areas WHERE id = $1"


async def load_area(session: AsyncSession, area_id: uuid.UUID) -> AreaRef | None:
    """The area as the policy sees it: one statement on the request's connection."""
    conn = await driver_connection(session)
    row = await conn.fetchrow(_AREA_SQL, area_id)
    if row is None:
        return None
    return AreaRef(
        id=area_id,
        code=row["code"],
        name=row["name"],
        level=AreaLevel(row["level"]),
        parent_id=row["parent_id"],
        path=list(row["path"]),
        retired=row["retired"],
    )


async def view_scope(
    session: AsyncSession,
    principal: Principal,
    area_id: uuid.UUID,
    level: AreaLevel,
    *,
    field: str,
) -> Scope:
    """The caller may read ``area_id`` (a community or a street), else 404/422."""
    area = await load_area(session, area_id)
    if area is None:
        raise not_found("区域", "Area")
    if area.level != level:
        raise validation_failed([{"field": field, "message": f"not a {level.value}"}])
    staff = covers(principal, area.path, VIEW_ROLES)
    resident = level == AreaLevel.community and principal.community_id == area.id
    if not staff and not resident:
        raise not_found("区域", "Area")
    return Scope(area, staff, resident)


def acting_role(principal: Principal, path: list[uuid.UUID], roles: tuple[Role, ...]) -> Role:
    """The first of ``roles`` the caller holds over ``path``, else 403."""
    for role in roles:
        if covers(principal, path, (role,)):
            return role
    raise forbidden("role_required", "当前身份无权执行此操作", "Your role may not do this")


async def moderation_area(
    session: AsyncSession, principal: Principal, area_id: uuid.UUID
) -> AreaRef:
    """The caller works the moderation queue of ``area_id`` (a community or a street): a
    committee, street or admin role over it (403 otherwise, 404 for an unknown area)."""
    require_roles(principal, *MODERATE_ROLES)
    area = await load_area(session, area_id)
    if area is None:
        raise not_found("区域", "Area")
    if area.level not in (AreaLevel.community, AreaLevel.street):
        raise validation_failed([{"field": "area_id", "message": "not a community or street"}])
    if not covers(principal, area.path, MODERATE_ROLES):
        raise forbidden("area_forbidden", "无权访问该区域的数据", "Not allowed in this area")
    return area


def area_required() -> AppError:
    return AppError(
        422,
        "area_required",
        Message("请指定社区（community_id）或街道（street_id）", "Give community_id or street_id"),
    )


def require_city_admin(principal: Principal) -> None:
    """The outbox belongs to no area: only a city-wide admin grant may see or retry it."""
    if not any(g.role == Role.admin and g.area_id is None for g in principal.grants):
        raise forbidden(
            "city_admin_required", "仅市级管理员可操作", "Only city-wide admins may do this"
        )


async def decision_scope(
    session: AsyncSession, principal: Principal, area_id: uuid.UUID
) -> AreaRef:
    """The figures of ``area_id`` (and of its child areas) are for staff whose grant covers it:
    a committee its community, a street its street and communities, a district admin the
    district, a city admin everything. Residents: 403; an unknown area: 404."""
    require_roles(principal, *DECISION_ROLES)
    area = await load_area(session, area_id)
    if area is None:
        raise not_found("区域", "Area")
    if not covers(principal, area.path, DECISION_ROLES):
        raise forbidden("area_forbidden", "无权访问该区域的数据", "Not allowed in this area")
    return area


def require_facility_unit(principal: Principal, responsible_path: list[uuid.UUID] | None) -> None:
    """A facility's review comments are for its responsible unit: the staff (committee, street,
    planner, admin) whose grant covers the facility's responsible community; a facility with
    no responsible community is read by city-wide admins only."""
    if responsible_path is not None and covers(principal, responsible_path, VIEW_ROLES):
        return
    if responsible_path is None and any(
        g.role == Role.admin and g.area_id is None for g in principal.grants
    ):
        return
    raise forbidden(
        "not_responsible_unit",
        "仅该设施的责任单位可查看评价内容",
        "Only the facility's responsible unit may read its reviews",
    )
