"""Who may grant which staff role where, the residents list, and home changes by admins.

Ceilings: an admin (of a district, or of the whole city) grants and revokes every staff
role in their area; street staff grant and revoke committee roles in the communities of
their street; nobody else manages roles. A role belongs to one level of area: committee to
a community, street staff and planner to a street, admin to a district.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from src.areas import repository as areas_repository
from src.areas.service import area_retired
from src.core import audit, outbox
from src.core.auth import Principal
from src.core.errors import AppError, bad_request, conflict, forbidden, not_found, unprocessable
from src.core.pagination import decode_cursor, paginate
from src.core.policy import authorize_area, require_roles
from src.models.area import Area, AreaLevel
from src.models.user import Role, User
from src.staff import repository
from src.staff.schemas import (
    HomeCommunityIn,
    ResidentOut,
    ResidentPage,
    ResidentSummary,
    StaffOut,
    mask_phone,
)

ROLE_LEVEL: dict[Role, AreaLevel] = {
    Role.committee: AreaLevel.community,
    Role.street: AreaLevel.street,
    Role.planner: AreaLevel.street,
    Role.admin: AreaLevel.district,
}

# Which roles a holder of the key role may grant and revoke (in their own area).
GRANTABLE: dict[Role, frozenset[Role]] = {
    Role.admin: frozenset({Role.committee, Role.street, Role.planner, Role.admin}),
    Role.street: frozenset({Role.committee}),
}

RESIDENT_VIEWERS = (Role.committee, Role.street, Role.admin)


def _role_required() -> AppError:
    return forbidden("role_required", "当前身份无权管理人员角色", "Your role may not manage roles")


def check_role_fits(role: Role, area: Area) -> None:
    """422 unless ``role`` is a staff role held at ``area``'s level."""
    wanted = ROLE_LEVEL.get(role)
    if wanted is None:
        raise unprocessable(
            "role_level_mismatch",
            "居民身份来自所在社区，不能授予",
            "The resident role comes from the home community and is not granted",
        )
    if area.level != wanted:
        raise unprocessable(
            "role_level_mismatch",
            f"{role.value} 角色只能授予在 {wanted.value} 级区域",
            f"The {role.value} role is held in a {wanted.value}, not a {area.level.value}",
        )


def check_may_manage(principal: Principal, role: Role, path: list[uuid.UUID]) -> None:
    managers = [g for g in principal.grants if g.role in GRANTABLE]
    if not managers:
        raise _role_required()
    able = [g for g in managers if role in GRANTABLE[g.role]]
    if not able:
        raise forbidden(
            "role_above_own",
            "不能授予或撤销高于自身的角色",
            "You may not manage a role above your own",
        )
    if not any(g.area_id is None or g.area_id in path for g in able):
        raise forbidden("area_forbidden", "无权管理该区域的人员", "Not allowed in this area")


async def _area_for_management(
    session: AsyncSession, principal: Principal, area_id: uuid.UUID, role: Role
) -> Area:
    if not any(g.role in GRANTABLE for g in principal.grants):
        raise _role_required()
    area = await areas_repository.get(session, area_id)
    if area is None:
        raise not_found("区域", "Area")
    check_role_fits(role, area)
    check_may_manage(principal, role, list(area.path))
    return area


async def list_staff(
    session: AsyncSession, principal: Principal, area_id: uuid.UUID
) -> list[StaffOut]:
    await authorize_area(
        session, principal, area_id, [Role.committee, Role.street, Role.planner, Role.admin]
    )
    return [StaffOut.model_validate(row) for row in await repository.staff_of(session, area_id)]


@dataclass(frozen=True)
class GrantResult:
    staff: StaffOut
    created: bool


async def grant_role(
    session: AsyncSession,
    actor: Principal | None,
    user_id: uuid.UUID,
    role: Role,
    area: Area,
    *,
    source: str = "api",
) -> GrantResult:
    """Grant ``role`` in ``area`` (the caller's rights already checked); idempotent."""
    check_role_fits(role, area)
    # FOR SHARE on the area, then the check: a concurrent retire either waits for this grant
    # or has committed, and then the locked read sees it.
    locked = await areas_repository.get_locked(session, area.id, share=True)
    if locked is None or locked.retired:
        raise area_retired()
    user = await session.get(User, user_id)
    if user is None:
        raise not_found("用户", "User")
    if user.disabled:
        raise conflict("user_disabled", "该用户已停用", "The user is disabled")
    created = await repository.insert_grant(
        session, user_id, role, area.id, actor.user_id if actor else None
    )
    if created:
        await audit.record(
            session,
            actor,
            "staff.grant",
            "user",
            user_id,
            area_id=area.id,
            details={"role": role.value, "area_code": area.code, "source": source},
        )
    grant = await repository.get_grant(session, user_id, role, area.id)
    assert grant is not None
    staff = StaffOut(
        user_id=user_id,
        display_name=user.display_name,
        role=role,
        area_id=area.id,
        granted_at=grant.created_at,
        granted_by=grant.granted_by,
    )
    return GrantResult(staff, created)


async def grant_as(
    session: AsyncSession, principal: Principal, area_id: uuid.UUID, user_id: uuid.UUID, role: Role
) -> GrantResult:
    area = await _area_for_management(session, principal, area_id, role)
    return await grant_role(session, principal, user_id, role, area)


async def revoke_as(
    session: AsyncSession, principal: Principal, area_id: uuid.UUID, user_id: uuid.UUID, role: Role
) -> None:
    area = await _area_for_management(session, principal, area_id, role)
    if role == Role.admin:
        admins = await repository.lock_admins_of(session, area.id)
        if admins == [user_id]:
            raise conflict(
                "last_admin",
                "不能撤销该区最后一位管理员",
                "The last admin of a district cannot be revoked",
            )
    if not await repository.delete_grant(session, user_id, role, area.id):
        raise not_found("角色授权", "Role grant")
    await audit.record(
        session,
        principal,
        "staff.revoke",
        "user",
        user_id,
        area_id=area.id,
        details={"role": role.value, "area_code": area.code},
    )


async def list_residents(
    session: AsyncSession,
    principal: Principal,
    area_id: uuid.UUID,
    *,
    verified: bool | None,
    cursor: str | None,
    limit: int,
) -> ResidentPage:
    require_roles(principal, *RESIDENT_VIEWERS)
    await authorize_area(session, principal, area_id, RESIDENT_VIEWERS)
    area = await areas_repository.get(session, area_id)
    assert area is not None
    after = decode_cursor(cursor, 1)
    try:
        after_id = uuid.UUID(str(after[0])) if after else None
    except ValueError as exc:
        raise bad_request("invalid_cursor", "分页游标无效", "The cursor is not valid") from exc
    rows = await repository.residents_page(
        session, area, verified=verified, after=after_id, limit=limit
    )
    items, next_cursor = paginate(rows, limit, lambda u: (str(u.id),))
    count, verified_count = await repository.residents_summary(session, area)
    return ResidentPage(
        items=[
            ResidentOut(
                user_id=u.id,
                display_name=u.display_name,
                phone=mask_phone(u.phone),
                verified=u.verified,
                community_id=u.home_community_id,
            )
            for u in items
        ],
        next_cursor=next_cursor,
        summary=ResidentSummary(count=count, verified_count=verified_count),
    )


async def change_home_as(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, data: HomeCommunityIn
) -> User:
    """An admin moves a resident to another community, with a reason; audited and told to
    the portal through the outbox. The admin must hold both the old and the new community."""
    require_roles(principal, Role.admin)
    user = await repository.get_user_locked(session, user_id)
    if user is None:
        raise not_found("用户", "User")
    target = await areas_repository.get(session, data.home_community_id)
    if target is None:
        raise not_found("社区", "Community")
    if target.level != AreaLevel.community:
        raise unprocessable("not_a_community", "居民只能归属于社区", "A home must be a community")
    await authorize_area(session, principal, target.id, [Role.admin])
    if user.home_community_id is not None:
        await authorize_area(session, principal, user.home_community_id, [Role.admin])
    if target.retired:
        raise area_retired()
    old = user.home_community_id
    if old == target.id:
        return user
    user.home_community_id = target.id
    await session.flush()
    details = {
        "from": str(old) if old else None,
        "to": str(target.id),
        "reason": data.reason,
    }
    await audit.record(
        session, principal, "user.home_change", "user", user.id, area_id=target.id, details=details
    )
    await outbox.enqueue(
        session,
        "user.home_community_changed",
        f"user:{user.id}",
        {"user_id": str(user.id), "portal_user_id": user.portal_user_id, **details},
    )
    return user
