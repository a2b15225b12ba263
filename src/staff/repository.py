"""All SQL of staff grants, resident lists and home changes."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, and_, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from src.areas.residents import residents_sql
from src.core.db import driver_connection
from src.models.area import Area
from src.models.user import Role, RoleGrant, User


async def staff_of(session: AsyncSession, area_id: uuid.UUID) -> list[Row[Any]]:
    query = (
        select(
            RoleGrant.user_id,
            User.display_name,
            RoleGrant.role,
            RoleGrant.area_id,
            RoleGrant.created_at.label("granted_at"),
            RoleGrant.granted_by,
        )
        .join(User, User.id == RoleGrant.user_id)
        .where(RoleGrant.area_id == area_id)
        .order_by(RoleGrant.role, User.display_name, RoleGrant.user_id)
    )
    return list((await session.execute(query)).all())


async def insert_grant(
    session: AsyncSession,
    user_id: uuid.UUID,
    role: Role,
    area_id: uuid.UUID,
    granted_by: uuid.UUID | None,
) -> bool:
    """Add the grant; False when the user already held it (concurrent grants: one row)."""
    stmt = (
        insert(RoleGrant)
        .values(user_id=user_id, role=role, area_id=area_id, granted_by=granted_by)
        .on_conflict_do_nothing(constraint="uq_role_grants_user_role_area")
        .returning(RoleGrant.id)
    )
    return (await session.execute(stmt)).first() is not None


async def get_grant(
    session: AsyncSession, user_id: uuid.UUID, role: Role, area_id: uuid.UUID
) -> RoleGrant | None:
    query = select(RoleGrant).where(
        RoleGrant.user_id == user_id, RoleGrant.role == role, RoleGrant.area_id == area_id
    )
    return (await session.scalars(query)).first()


async def lock_admins_of(session: AsyncSession, area_id: uuid.UUID) -> list[uuid.UUID]:
    """The admins of ``area_id``, their grant rows locked: concurrent revocations of two
    admins of one district run one after the other, so the last one is never removed."""
    query = (
        select(RoleGrant.user_id)
        .where(RoleGrant.area_id == area_id, RoleGrant.role == Role.admin)
        .order_by(RoleGrant.id)
        .with_for_update()
    )
    return list((await session.scalars(query)).all())


async def delete_grant(
    session: AsyncSession, user_id: uuid.UUID, role: Role, area_id: uuid.UUID
) -> bool:
    stmt = (
        delete(RoleGrant)
        .where(RoleGrant.user_id == user_id, RoleGrant.role == role, RoleGrant.area_id == area_id)
        .returning(RoleGrant.id)
    )
    return (await session.execute(stmt)).first() is not None


def _residents_filter(area: Area) -> Any:
    if area.level.value == "community":
        return and_(User.home_community_id == area.id, User.disabled.is_(False))
    within = select(Area.id).where(Area.path.any(area.id))  # type: ignore[arg-type]
    return and_(User.home_community_id.in_(within), User.disabled.is_(False))


async def residents_page(
    session: AsyncSession,
    area: Area,
    *,
    verified: bool | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[User]:
    query = select(User).where(_residents_filter(area)).order_by(User.id).limit(limit + 1)
    if verified is not None:
        query = query.where(User.verified.is_(verified))
    if after is not None:
        query = query.where(User.id > after)
    return list((await session.scalars(query)).all())


async def residents_summary(session: AsyncSession, area: Area) -> tuple[int, int]:
    conn = await driver_connection(session)
    row = await conn.fetchrow(
        f"SELECT ({residents_sql('$1')}) AS count, ({residents_sql('$1', verified=True)}) AS v",
        area.id,
    )
    return int(row["count"]), int(row["v"])


async def get_user_locked(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    query = (
        select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).first()


async def get_user_by_phone(session: AsyncSession, phone: str) -> User | None:
    return (await session.scalars(select(User).where(User.phone == phone))).first()
