"""Shared counters and short-lived values: Redis when configured, else in-process.

The in-process fallback is right for one process only (``make run`` without Redis); several
workers share state only through Redis.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from redis.asyncio import Redis


class KeyValueStore(Protocol):
    async def incr_window(self, key: str, window_s: int) -> tuple[int, int]:
        """Count a hit in the fixed window of ``key``; return (hits, seconds left)."""

    async def set(self, key: str, value: str, ttl_s: int) -> None: ...

    async def get(self, key: str) -> str | None: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class RedisStore:
    def __init__(self, url: str) -> None:
        self.client: Redis = Redis.from_url(
            url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2
        )

    async def incr_window(self, key: str, window_s: int) -> tuple[int, int]:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_s, nx=True)
            pipe.ttl(key)
            hits, _, ttl = await pipe.execute()
        return int(hits), max(1, int(ttl))

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
        self._windows: dict[str, tuple[float, int]] = {}
        self._values: dict[str, tuple[float, str]] = {}
        self._lock = asyncio.Lock()

    async def incr_window(self, key: str, window_s: int) -> tuple[int, int]:
        now = time.monotonic()
        async with self._lock:
            ends, hits = self._windows.get(key, (0.0, 0))
            if ends <= now:
                ends, hits = now + window_s, 0
            hits += 1
            self._windows[key] = (ends, hits)
            if len(self._windows) > 100_000:
                self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
        return hits, max(1, int(ends - now + 0.999))

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


def create_store(redis_url: str | None) -> KeyValueStore:
    return RedisStore(redis_url) if redis_url else MemoryStore()
