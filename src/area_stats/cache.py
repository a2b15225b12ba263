"""The decision cache: the encoded reply per request shape (area, period, options), served
while younger than ``decision_cache_s``; the worker's ``decision_precompute`` job refreshes
the usual shapes of every district and street, so officers mostly read a cached reply. The
reply's ``computed_at`` (stats) says how fresh it is.

- A hit is one statement and no JSON work: the stored bytes are the response body.
  ``decision_cache.body`` is ``jsonb``, which would reorder keys and respace the reply, so the
  reply is kept in it as one JSON string (``to_jsonb(text)``, read back with ``#>> '{}'``):
  a hit is byte for byte what the computation answered (a row of another shape, such as a
  decoded body of an older release, is not fresh).
- A miss is computed once however many requests (and workers) miss the same key together:
  the first takes a transaction-scoped advisory lock on the key, the others wait on it and
  then read the row the first stored. A GET has no transaction (each statement commits), so
  the miss opens one of its own for the lock, the computation and the store: the lock goes
  with the commit that makes the row visible, and with any rollback (an error, a cancelled
  request, the pool's reset), so it cannot outlive the request. Inside a request's
  transaction it is a savepoint, the lock lasting to that transaction's end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from src.core.db import driver_connection

_FRESH = (
    "SELECT body #>> '{}' AS body FROM decision_cache WHERE key = $1 "
    "AND computed_at > now() - make_interval(secs => $2) AND jsonb_typeof(body) = 'string'"
)
# Seed 18 (the decision-support issue) of the hash keeps these locks apart from other
# advisory locks on the same string.
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1, 18))"


async def cached(
    session: AsyncSession,
    key: str,
    max_age_s: int,
    compute: Callable[[dt.datetime], Awaitable[bytes]],
) -> bytes:
    """The reply under ``key`` if fresh, else ``compute(now)``, stored under it. With
    ``max_age_s <= 0`` nothing is cached and every call computes."""
    if max_age_s <= 0:
        return await compute(dt.datetime.now(dt.UTC))
    conn = await driver_connection(session)
    age = float(max_age_s)
    body: str | None = await conn.fetchval(_FRESH, key, age)
    if body is not None:
        return body.encode()
    async with conn.transaction():
        await conn.execute(_LOCK, key)
        # Whoever held the lock before us has committed: its row, if any, is visible now.
        body = await conn.fetchval(_FRESH, key, age)
        if body is not None:
            return body.encode()
        now = dt.datetime.now(dt.UTC)
        reply = await compute(now)
        await store(conn, key, reply, now)
        return reply


async def store(conn: Any, key: str, reply: bytes, now: dt.datetime) -> None:
    await conn.execute(
        "INSERT INTO decision_cache (key, body, computed_at) VALUES ($1, to_jsonb($2::text), $3) "
        "ON CONFLICT (key) DO UPDATE SET body = excluded.body, computed_at = excluded.computed_at",
        key,
        reply.decode(),
        now,
    )
