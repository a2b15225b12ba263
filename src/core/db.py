"""Database engine and the one-transaction-per-request rule.

Each request that asks for ``db_session`` gets one ``AsyncSession``. The session commits when
the response status is 2xx/3xx and rolls back otherwise, just before the response starts, so a
client never sees a 201 for a write that was not committed. Services never call ``commit()``.

GET and HEAD requests only read. Their session runs each statement on its own (autocommit):
under READ COMMITTED every statement takes a fresh snapshot anyway, so a BEGIN/COMMIT pair
would add two round trips and no consistency. A GET handler that must write atomically opts
back in with ``opt={"db_transaction": True}``.

Round trips are the cost of a request on a busy host, so the pool does not ping a connection
before lending it (``pool_pre_ping`` costs three: BEGIN, a ping, ROLLBACK). A connection whose
socket the server closed (restart, idle timeout) is noticed locally — asyncpg marks it closed
when the event loop sees the EOF — and replaced at checkout; connections are also recycled
after ``POOL_RECYCLE_S``. A connection that dies mid-request answers 503 (errors.py) and the
pool starts afresh.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from litestar.datastructures import State
from litestar.types import Message, Scope
from sqlalchemy import DateTime, MetaData, event, func
from sqlalchemy.exc import DisconnectionError
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
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
POOL_RECYCLE_S = 1800


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
    engine = create_async_engine(
        to_async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=POOL_RECYCLE_S,
        connect_args={"server_settings": {"application_name": "lifecircle", "timezone": "UTC"}},
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Checkout hook: a connection the server already closed is replaced (no round trip)."""
    raw = getattr(dbapi_connection, "_connection", None)
    if raw is not None and raw.is_closed():
        raise DisconnectionError("the server closed this connection")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def make_autocommit_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose every statement commits on its own (no BEGIN/COMMIT round trips): GET and
    HEAD requests, and single-statement bookkeeping such as idempotency keys."""
    return make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))


def _wants_transaction(scope: Scope) -> bool:
    if scope.get("method", "GET") not in READ_ONLY_METHODS:
        return True
    handler = scope.get("route_handler")
    return bool(handler is not None and handler.opt.get("db_transaction"))


async def provide_db_session(state: State, scope: Scope) -> AsyncIterator[AsyncSession]:
    """Litestar dependency: the request's session; closed by :func:`finish_request_session`."""
    existing = scope["state"].get(SESSION_SCOPE_KEY)
    if existing is not None:
        yield existing
        return
    autocommit = state.get("autocommit_sessionmaker")
    factory = state.sessionmaker if autocommit is None or _wants_transaction(scope) else autocommit
    session: AsyncSession = factory()
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
