"""Sign-in: tokens for a user, refresh-token rotation with reuse detection, sign-out."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from src.config import Settings
from src.core.auth import TokenClaims, issue_access_token, load_principal
from src.core.db import driver_connection
from src.core.errors import not_found, unauthorized
from src.core.unit_of_work import UnitOfWork
from src.identity import repository
from src.identity.schemas import MeOut, TokensOut
from src.identity.wechat import WeChatSession
from src.models.user import AuthFamily, RefreshToken, User


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_tokens(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    method: str,
    family_id: uuid.UUID | None = None,
) -> TokensOut:
    if family_id is None:
        family = AuthFamily(user_id=user.id, method=method)
        session.add(family)
        await session.flush()
        family_id = family.id
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            token_hash=_hash(refresh),
            family_id=family_id,
            user_id=user.id,
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settings.refresh_token_ttl_s),
        )
    )
    await session.flush()
    principal = await load_principal(
        await driver_connection(session), TokenClaims(user.id, family_id)
    )
    return TokensOut(
        access_token=issue_access_token(settings, user.id, family_id),
        refresh_token=refresh,
        expires_in=settings.access_token_ttl_s,
        user=MeOut.build(principal),
    )


async def dev_login(session: AsyncSession, settings: Settings, phone: str) -> TokensOut:
    user = await repository.user_by_phone(session, phone)
    if user is None or user.disabled:
        raise not_found("用户", "User")
    return await issue_tokens(session, settings, user, method="dev")


async def wechat_login(
    session: AsyncSession, settings: Settings, wechat: WeChatSession
) -> TokensOut:
    user = await repository.user_by_openid(session, wechat.openid)
    if user is None:
        user = User(display_name="微信用户", wechat_openid=wechat.openid, verified=False)
        session.add(user)
        await session.flush()
    elif user.disabled:
        raise unauthorized("account_disabled", "账号已停用", "The account is disabled")
    return await issue_tokens(session, settings, user, method="wechat")


_INVALID_REFRESH = (
    "invalid_refresh_token",
    "刷新凭证无效，请重新登录",
    "The refresh token is not valid",
)


async def refresh_tokens(
    session: AsyncSession,
    settings: Settings,
    token: str,
    unit: UnitOfWork,
    limit_family: Callable[[uuid.UUID], Awaitable[None]] | None = None,
) -> TokensOut:
    """Rotate ``token``. ``limit_family`` counts the attempt against its sign-in family once
    the token is known to be current (a replayed token still revokes the family)."""
    now = dt.datetime.now(dt.UTC)
    stored = await repository.refresh_token_for_update(session, _hash(token))
    if stored is None:
        raise unauthorized(*_INVALID_REFRESH)
    if stored.used_at is not None or stored.revoked_at is not None:
        # A refresh token used twice was stolen or leaked: end the whole sign-in. This must
        # survive the 401 that rolls the request back: the unit of work runs it after the
        # rollback (which releases this token's row lock), on the same connection.
        family_id = stored.family_id

        async def revoke(side: AsyncSession) -> None:
            await repository.revoke_family(side, family_id, now)

        unit.on_failure(revoke)
        raise unauthorized(
            "refresh_token_reused",
            "登录凭证已被使用，请重新登录",
            "The refresh token was already used",
        )
    family = await repository.family(session, stored.family_id)
    if stored.expires_at <= now or family is None or family.revoked_at is not None:
        raise unauthorized(*_INVALID_REFRESH)
    if limit_family is not None:
        await limit_family(family.id)
    stored.used_at = now
    user = await session.get(User, stored.user_id)
    if user is None or user.disabled:
        raise unauthorized(*_INVALID_REFRESH)
    return await issue_tokens(session, settings, user, method=family.method, family_id=family.id)


async def logout(session: AsyncSession, family_id: uuid.UUID) -> None:
    await repository.revoke_family(session, family_id, dt.datetime.now(dt.UTC))
