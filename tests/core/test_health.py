"""/health answers while the process lives; /ready says whether PostgreSQL and Redis answer."""

from __future__ import annotations

import httpx

from src.app import create_app
from src.config import Settings
from tests.core.helpers import serve

CLOSED_PORT = 9  # nothing listens there


async def test_health_and_ready_when_all_is_up(client: httpx.AsyncClient) -> None:
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_ready_is_503_when_redis_is_down(settings: Settings) -> None:
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{CLOSED_PORT}/0"})
    async with serve(create_app(down)) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "database": "ok", "redis": "down"}
        assert (await client.get("/health")).status_code == 200


async def test_ready_is_503_when_the_database_is_down(settings: Settings) -> None:
    down = settings.model_copy(
        update={"database_url": f"postgresql://postgres@127.0.0.1:{CLOSED_PORT}/nowhere"}
    )
    async with serve(create_app(down)) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["database"] == "down"
        assert ready.json()["redis"] == "ok"
        assert (await client.get("/health")).status_code == 200
