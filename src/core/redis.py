"""Shared counters and short-lived values: Redis when configured, else in-process.

One Redis client per process (:func:`create_redis`), on a ``BlockingConnectionPool``: when
all ``redis_max_connections`` are busy a caller waits up to ``redis_pool_timeout_s`` for one
instead of failing at once. The store below and the live results hub (src/votes/live.py, one
pub/sub connection per process) share it.

The in-process fallback is right for one process only (``make run`` without Redis); several
workers share state only through Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Protocol

from redis.asyncio import BlockingConnectionPool, Redis


class KeyValueStore(Protocol):
    async def incr_many(self, items: Sequence[tuple[str, int, int]]) -> list[tuple[int, int]]:
        """Add ``n`` to each ``(key, n, window_s)`` in one round trip; a key starts its window
        (expires ``window_s`` later) with its first hit. Return ``(total, seconds left)``."""

    async def set(self, key: str, value: str, ttl_s: int) -> None: ...

    async def get(self, key: str) -> str | None: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


async def cancel_and_wait(task: asyncio.Task[None], retry_s: float = 0.5) -> None:
    """Cancel ``task`` and wait for it to end, cancelling again if it goes on.

    redis-py can swallow a cancellation that arrives while a pooled connection is being
    acquired or opened (seen with ``subscribe`` on a ``BlockingConnectionPool``): the task
    then carries on into a blocking read and a single ``cancel()`` would wait for ever.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=retry_s)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()


def create_redis(url: str, max_connections: int = 200, pool_timeout_s: float = 2.0) -> Redis:
    """The process's Redis client: a bounded pool that waits briefly for a free connection."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout_s,
        decode_responses=True,
        socket_timeout=2,
        socket_connect_timeout=2,
    )
    # ``from_pool``: closing the client closes (disconnects) its pool.
    return Redis.from_pool(pool)


# ``incr_many`` as one command (KEYS: the counters; ARGV: n, window of each): a pipeline of
# three commands per key cost the worker more CPU to pack and parse than the requests it counts.
_INCR_MANY = """
local out = {}
for i, key in ipairs(KEYS) do
  out[2 * i - 1] = redis.call('INCRBY', key, ARGV[2 * i - 1])
  redis.call('EXPIRE', key, ARGV[2 * i], 'NX')
  out[2 * i] = redis.call('TTL', key)
end
return out
"""


class RedisStore:
    def __init__(self, client: Redis) -> None:
        self.client = client
        self._incr_many = client.register_script(_INCR_MANY)

    async def incr_many(self, items: Sequence[tuple[str, int, int]]) -> list[tuple[int, int]]:
        if not items:
            return []
        keys = [key for key, _, _ in items]
        args = [value for _, n, window_s in items for value in (n, window_s)]
        replies = await self._incr_many(keys=keys, args=args)
        return [(int(replies[i]), int(replies[i + 1])) for i in range(0, len(replies), 2)]

    async def set(self, key: str, value: str, ttl_s: int) -> None:
        await self.client.set(key, value, ex=ttl_s)

    async def get(self, key: str) -> str | None:
        value = await self.client.get(key)
        return None if value is None else str(value)

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self.client.aclose()


class MemoryStore:
    def __init__(self) -> None:
        self._counts: dict[str, tuple[float, int]] = {}
        self._values: dict[str, tuple[float, str]] = {}

    async def incr_many(self, items: Sequence[tuple[str, int, int]]) -> list[tuple[int, int]]:
        now = time.monotonic()
        replies = []
        for key, n, window_s in items:
            ends, total = self._counts.get(key, (0.0, 0))
            if ends <= now:
                ends, total = now + window_s, 0
            total += n
            self._counts[key] = (ends, total)
            replies.append((total, max(1, int(ends - now + 0.999))))
        if len(self._counts) > 100_000:
            self._counts = {k: v for k, v in self._counts.items() if v[0] > now}
        return replies

    async def set(self, key: str, value: str, ttl_s: int) -> None:
        self._values[key] = (time.monotonic() + ttl_s, value)

    async def get(self, key: str) -> str | None:
        item = self._values.get(key)
        if item is None or item[0] <= time.monotonic():
            return None
        return item[1]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def create_store(redis: Redis | None) -> KeyValueStore:
    return RedisStore(redis) if redis is not None else MemoryStore()
