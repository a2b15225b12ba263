"""When PostgreSQL or Redis cannot be reached, clients get a retryable 503, not a 500."""

from __future__ import annotations

import httpx
from litestar import Litestar

from src.app import create_app
from src.config import Settings

CLOSED_PORT = 9  # discard: nothing listens there on the test machine


async def _get(app: Litestar, path: str) -> httpx.Response:
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app, client=("127.0.0.2", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await http.get(path)


async def test_database_down_is_a_retryable_503(settings: Settings) -> None:
    down = settings.model_copy(
        update={"database_url": f"postgresql://postgres@127.0.0.1:{CLOSED_PORT}/nowhere"}
    )
    reply = await _get(create_app(down), "/api/v1/areas?level=street")
    assert reply.status_code == 503
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["code"] == "database_unavailable"
    assert reply.headers["retry-after"] == "2"
    ready = await _get(create_app(down), "/ready")
    assert ready.status_code == 503
    assert ready.json()["database"] == "down"


async def test_redis_down_leaves_the_api_up_and_ready_says_so(settings: Settings) -> None:
    # No request waits for Redis (limits count in-process and share through Redis in the
    # background), so an outage costs the sharing, not the service; /ready tells the balancer.
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{CLOSED_PORT}/0"})
    reply = await _get(create_app(down), "/api/v1/areas?level=street")
    assert reply.status_code == 200
    ready = await _get(create_app(down), "/ready")
    assert ready.status_code == 503
    assert ready.json()["redis"] == "down"
