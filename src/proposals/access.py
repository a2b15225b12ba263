"""Who may see and act on a community's suggestions and projects.

Residents see their own community; committee staff their community; street staff and
planners every community of their street; admins what their grant covers. Anything else is
answered 404, as if it did not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.auth import Principal, covers
from src.core.errors import AppError, Message, forbidden, not_found, validation_failed
from src.models.area import Area, AreaLevel
from src.models.user import Role

VIEW_ROLES = (Role.committee, Role.street, Role.planner, Role.admin)
MODERATE_ROLES = (Role.committee, Role.street, Role.admin)
REPLY_ROLES = (Role.committee, Role.street, Role.planner, Role.admin)


@dataclass(frozen=True)
class Scope:
    """The caller's view of one area."""

    area: Area
    staff: bool  # holds a staff role covering the area
    resident: bool  # the area is the caller's home community

    @property
    def street_id(self) -> uuid.UUID:
        assert self.area.parent_id is not None
        return self.area.parent_id


async def load_area(session: AsyncSession, area_id: uuid.UUID) -> Area | None:
    return (await session.scalars(select(Area).where(Area.id == area_id))).first()


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


def area_required() -> AppError:
    return AppError(
        422,
        "area_required",
        Message("请指定社区（community_id）或街道（street_id）", "Give community_id or street_id"),
    )
