"""Rate limits per user and per IP (fixed windows in the shared store); 429 with Retry-After."""

from __future__ import annotations

from typing import Any

from litestar.types import ASGIApp

from src.core.errors import AppError, send_problem, too_many_requests
from src.core.redis import KeyValueStore


class RateLimiter:
    def __init__(self, store: KeyValueStore, prefix: str = "rl") -> None:
        self.store = store
        self.prefix = prefix

    async def check(self, key: str, limit: int, window_s: int) -> None:
        """Count one hit for ``key``; raise 429 once more than ``limit`` fall in the window."""
        hits, retry_after = await self.store.incr_window(f"{self.prefix}:{key}", window_s)
        if hits > limit:
            raise too_many_requests(retry_after)


def ip_rate_limit_middleware(app: ASGIApp) -> ASGIApp:
    """Cap requests per client IP per minute (``rate_limit_ip_per_minute``)."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        handler = scope.get("route_handler")
        if (
            scope["type"] != "http"
            or scope["path"] in ("/health", "/ready")
            # Routes that protect themselves (``opt={"ip_rate_limit": False}``): the ballot,
            # where a whole venue shares one Wi-Fi address and each resident votes once.
            or (handler is not None and handler.opt.get("ip_rate_limit") is False)
        ):
            await app(scope, receive, send)
            return
        litestar_app = scope["litestar_app"]
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        try:
            await litestar_app.state.limiter.check(
                f"ip:{ip}", litestar_app.state.settings.rate_limit_ip_per_minute, 60
            )
        except AppError as error:
            await send_problem(scope, receive, send, error)
            return
        await app(scope, receive, send)

    return middleware
