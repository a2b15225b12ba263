"""Database engine and the one-transaction-per-request rule.

Each request that asks for ``db_session`` gets one ``AsyncSession``. The session commits when
the response status is 2xx/3xx and rolls back otherwise, just before the response starts, so a
client never sees a 201 for a write that was not committed. Services never call ``commit()``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from litestar.datastructures import State
from litestar.types import Message, Scope
from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SESSION_SCOPE_KEY = "_lifecircle_db_session"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


def to_async_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def create_engine(url: str, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    return create_async_engine(
        to_async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        connect_args={"server_settings": {"application_name": "lifecircle", "timezone": "UTC"}},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def provide_db_session(state: State, scope: Scope) -> AsyncIterator[AsyncSession]:
    """Litestar dependency: the request's session; closed by :func:`finish_request_session`."""
    existing = scope["state"].get(SESSION_SCOPE_KEY)
    if existing is not None:
        yield existing
        return
    session: AsyncSession = state.sessionmaker()
    scope["state"][SESSION_SCOPE_KEY] = session
    yield session


async def finish_request_session(message: Message, scope: Scope) -> None:
    """``before_send`` hook: commit on success, roll back otherwise, then close."""
    if message["type"] != "http.response.start":
        return
    state: dict[str, Any] = scope.get("state", {})
    session: AsyncSession | None = state.pop(SESSION_SCOPE_KEY, None)
    if session is None:
        return
    try:
        if 200 <= message["status"] < 400:
            await session.commit()
        else:
            await session.rollback()
    finally:
        await session.close()
