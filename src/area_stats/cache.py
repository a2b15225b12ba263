"""The decision cache: a computed body per request shape (area, period, options), served
while younger than ``decision_cache_s``; the worker's ``decision_precompute`` job refreshes
the usual shapes of every district and street, so officers mostly read a cached body. The
reply's ``computed_at`` says how fresh it is."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from src.core.db import driver_connection


async def cached(
    session: AsyncSession,
    key: str,
    max_age_s: int,
    compute: Callable[[dt.datetime], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """The body under ``key`` if fresh, else ``compute(now)`` stored under it."""
    conn = await driver_connection(session)
    if max_age_s > 0:
        row = await conn.fetchrow(
            "SELECT body::text AS body FROM decision_cache WHERE key = $1 "
            "AND computed_at > now() - make_interval(secs => $2)",
            key,
            float(max_age_s),
        )
        if row is not None:
            body: dict[str, Any] = json.loads(row["body"])
            return body
    now = dt.datetime.now(dt.UTC)
    body = await compute(now)
    if max_age_s > 0:
        await store(conn, key, body, now)
    return body


async def store(conn: Any, key: str, body: dict[str, Any], now: dt.datetime) -> None:
    await conn.execute(
        "INSERT INTO decision_cache (key, body, computed_at) VALUES ($1, $2::text::jsonb, $3) "
        "ON CONFLICT (key) DO UPDATE SET body = excluded.body, computed_at = excluded.computed_at",
        key,
        json.dumps(body, default=str),
        now,
    )
