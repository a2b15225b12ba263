"""Rate limits: fixed windows counted in-process, shared through one batched Redis pipeline.

What is limited (429 problem+json ``rate_limited`` with ``Retry-After``):

- every request of a signed-in caller, per user: ``rate_limit_user_per_minute``;
- every anonymous request (no valid bearer token), per client address:
  ``rate_limit_ip_per_minute`` — sized for a hall of 300 residents on one Wi-Fi address all
  signing in within a minute (2–3 anonymous calls each), see README;
- sign-in attempts, per address and per account (src/identity/limits.py);
- a domain's own actions (suggestions, uploads, exports), per user, where its controller asks.

How it stays cheap: :meth:`RateLimiter.check` never waits for Redis. Each worker counts hits
in memory and a background task flushes the increments every ``flush_s`` (0.2 s) in one
pipeline of ``INCRBY`` + ``EXPIRE`` per touched key; the totals that pipeline returns are the
hits of all workers, and become the worker's count for that key. A key at its budget is
refused locally until its window ends (refused hits are not counted).

A window starts with a key's first hit. Each worker starts its own local window at the first
hit it sees; the pipeline also sets the Redis key's expiry (``EXPIRE NX``) and reads its
``TTL``, which then corrects the local end, so all workers end the window together.

The approximation: a worker sees the other workers' hits one flush late, so a key can get up
to about (workers − 1) × (hits admitted on it in one flush interval) more than its budget —
at most (workers − 1) × budget for a key first seen in a burst. One worker alone is exact. If
Redis is away the increments are kept and retried; meanwhile each worker limits on its own
counts. Without Redis (``MemoryStore``) the same code runs against an in-process store.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import math
import time
from typing import Any

from litestar.types import ASGIApp

from src.core.errors import AppError, send_problem, too_many_requests
from src.core.redis import KeyValueStore, cancel_and_wait

logger = logging.getLogger("lifecircle.ratelimit")

FLUSH_S = 0.2
_SWEEP_S = 5.0  # how often windows that ended are forgotten
_MAX_KEYS = 200_000  # local windows kept before ended ones are swept early
_EXEMPT_PATHS = frozenset({"/health", "/ready"})


class _Window:
    __slots__ = ("count", "ends", "unflushed", "window_s")

    def __init__(self, ends: float, window_s: int) -> None:
        self.ends = ends  # monotonic end of the window
        self.window_s = window_s
        self.count = 0  # hits of all workers as last known, plus this worker's since
        self.unflushed = 0  # this worker's hits not yet added in Redis


class RateLimiter:
    def __init__(self, store: KeyValueStore, prefix: str = "rl", flush_s: float = FLUSH_S) -> None:
        self.store = store
        self.prefix = prefix
        self.flush_s = flush_s
        self._windows: dict[str, _Window] = {}
        self._dirty: dict[str, _Window] = {}
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._next_sweep = 0.0

    async def check(self, key: str, limit: int, window_s: int) -> None:
        """Count one hit for ``key``; raise 429 once ``limit`` hits fall in the window.

        A coroutine for the callers' sake; it does not wait for anything.
        """
        self.hit(key, limit, window_s)

    def hit(self, key: str, limit: int, window_s: int) -> None:
        now = time.monotonic()
        name = f"{self.prefix}:{key}:{window_s}"
        window = self._windows.get(name)
        if window is None or window.ends <= now:
            if len(self._windows) >= _MAX_KEYS:
                self._sweep(now)
            window = self._windows[name] = _Window(now + window_s, window_s)
        if window.count >= limit:
            raise too_many_requests(math.ceil(window.ends - now))
        window.count += 1
        window.unflushed += 1
        self._dirty[name] = window

    def _sweep(self, now: float) -> None:
        self._windows = {k: w for k, w in self._windows.items() if w.ends > now}

    # --- sharing counts ---------------------------------------------------------------

    async def flush(self) -> None:
        """Add this worker's new hits in the store and learn every touched key's total."""
        if not self._dirty:
            return
        batch, self._dirty = self._dirty, {}
        names = list(batch)
        deltas = []
        for name in names:
            window = batch[name]
            deltas.append(window.unflushed)
            window.unflushed = 0
        items = [
            (name, n, batch[name].window_s) for name, n in zip(names, deltas, strict=True)
        ]
        sent = time.monotonic()
        try:
            totals = await self.store.incr_many(items)
        except Exception:
            if not self._failing:
                logger.warning("rate-limit flush failed; limiting on local counts", exc_info=True)
            self._failing = True
            for name, n in zip(names, deltas, strict=True):
                window = batch[name]
                if window.ends > time.monotonic():
                    window.unflushed += n
                    self._dirty[name] = window
            return
        if self._failing:
            logger.info("rate-limit flush restored")
            self._failing = False
        for name, (total, ttl) in zip(names, totals, strict=True):
            window = batch[name]
            # Hits counted while the pipeline ran are not in ``total`` yet.
            window.count = max(window.count, total + window.unflushed)
            if ttl > 0:  # the shared window's end (-1/-2: no expiry or gone: keep ours)
                window.ends = min(window.ends, sent + ttl)
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + _SWEEP_S
            self._sweep(now)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            await self.flush()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), timeout=2.0)


def address_key(address: str) -> str:
    """The budget an address counts in: itself, or its /64 for IPv6 (one host holds a /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return address


def rate_limit_middleware(app: ASGIApp) -> ASGIApp:
    """Per user when the caller middleware (src/core/caller.py) verified a token, else per
    client address (``opt={"ip_rate_limit": False}`` on a route skips the per-address one)."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in _EXEMPT_PATHS:
            await app(scope, receive, send)
            return
        state = scope["litestar_app"].state
        claims = scope["state"].get("token_claims")
        try:
            if claims is not None:
                state.limiter.hit(
                    f"user:{claims.user_id}", state.settings.rate_limit_user_per_minute, 60
                )
            else:
                handler = scope.get("route_handler")
                if handler is None or handler.opt.get("ip_rate_limit") is not False:
                    address = scope["state"].get("client_ip") or "unknown"
                    state.limiter.hit(
                        f"ip:{address_key(address)}", state.settings.rate_limit_ip_per_minute, 60
                    )
        except AppError as error:
            await send_problem(scope, receive, send, error)
            return
        await app(scope, receive, send)

    return middleware
