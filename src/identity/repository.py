from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from src.models.user import AuthFamily, RefreshToken, User


async def user_by_phone(session: AsyncSession, phone: str) -> User | None:
    user: User | None = await session.scalar(select(User).where(User.phone == phone))
    return user


async def user_by_openid(session: AsyncSession, openid: str) -> User | None:
    user: User | None = await session.scalar(select(User).where(User.wechat_openid == openid))
    return user


async def refresh_token_for_update(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    token: RefreshToken | None = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
    )
    return token


async def family(session: AsyncSession, family_id: uuid.UUID) -> AuthFamily | None:
    return await session.get(AuthFamily, family_id)


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, at: dt.datetime) -> None:
    await session.execute(
        update(AuthFamily)
        .where(AuthFamily.id == family_id, AuthFamily.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=at)
    )
