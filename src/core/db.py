"""Database engine, models' base and session factories.

The request's session and transaction belong to its unit of work (``src/core/unit_of_work.py``):
services never call ``commit()``.

Round trips are the cost of a request on a busy host, so the pool does not ping a connection
before lending it (``pool_pre_ping`` costs three: BEGIN, a ping, ROLLBACK). A connection whose
socket the server closed (restart, idle timeout) is noticed locally — asyncpg marks it closed
when the event loop sees the EOF — and replaced at checkout; connections are also recycled
after ``POOL_RECYCLE_S``. A connection that dies mid-request answers 503 (errors.py) and the
pool starts afresh.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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

POOL_RECYCLE_S = 1800


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: DateTime(timezone=True)}


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


def plain_dsn(url: str) -> str:
    """The URL as asyncpg's own ``connect``/``create_pool`` take it (no SQLAlchemy driver)."""
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def to_async_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def create_engine(
    url: str,
    pool_size: int = 10,
    max_overflow: int = 0,
    pool_timeout_s: float = 5.0,
    server_settings: dict[str, str] | None = None,
) -> AsyncEngine:
    engine = create_async_engine(
        to_async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_recycle=POOL_RECYCLE_S,
        # jit off: the JIT compiles for seconds on the aggregate reads of decision support
        # (3.5 s of a 10 s district figure, measured) and never pays back on OLTP statements.
        connect_args={
            "server_settings": {
                "application_name": "lifecircle",
                "timezone": "UTC",
                "jit": "off",
                **(server_settings or {}),
            }
        },
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


def autocommit_engine(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, every statement committing on its own (no BEGIN/COMMIT round trips)."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def make_autocommit_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose every statement commits on its own (no BEGIN/COMMIT round trips): GET and
    HEAD requests, and single-statement bookkeeping such as idempotency keys."""
    return make_sessionmaker(autocommit_engine(engine))


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under ``session``, inside the session's transaction when it has
    one, for a hot path's hand-written statements (no ORM execute/result machinery: the
    principal lookup, the ballot). Pending ORM changes are flushed first, so the statement
    sees them. SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement:
    this starts it (a no-op on autocommit sessions), the one private call of this module
    (SQLAlchemy is pinned)."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    connection = await session.connection()
    fairy = await connection.get_raw_connection()
    adapted: Any = fairy.dbapi_connection
    if not adapted._started:
        await adapted._start_transaction()
    return fairy.driver_connection
