"""Bursts with Redis configured: no request waits for Redis, and what does use it shares one
bounded pool per worker that waits for a free connection instead of failing."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.app import create_app
from src.config import Settings
from tests.builders import login, make_tree, make_user
from tests.core.helpers import serve


async def test_a_burst_of_requests_gets_no_redis_503(
    settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    assert settings.redis_url
    # A pool far smaller than the burst: 150 requests at once (the limits count them) and
    # 150 store calls at once (they wait their turn for one of 4 connections).
    app = create_app(settings.model_copy(update={"redis_max_connections": 4}))
    tree = await make_tree(db, 1)
    user = await make_user(db, community=tree.communities[0])
    async with serve(app, "10.7.0.1") as client:
        headers = await login(client, user)
        replies = await asyncio.gather(
            *(client.get("/api/v1/me", headers=headers) for _ in range(150))
        )
        assert sorted({r.status_code for r in replies}) == [200]
        store = app.state.store
        await asyncio.gather(*(store.set(f"test:pool:{i}", "x", 10) for i in range(150)))
        values = await asyncio.gather(*(store.get(f"test:pool:{i}") for i in range(150)))
        assert values == ["x"] * 150
