"""300 live-result streams opened at once (a venue's phones and screens) on one worker with
Redis configured: every stream opens, and none holds a Redis connection (the worker has one
subscription and one tally per meeting, fanned out in-process)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import httpx
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.app import create_app
from src.config import Settings
from src.core.servers import free_port
from tests.events.helpers import make_world
from tests.votes.helpers import GUARD_S, coordination

STREAMS = 300


async def test_300_streams_at_once_get_no_redis_503(
    settings: Settings, client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    assert settings.redis_url
    app = create_app(settings.model_copy(update={"redis_max_connections": 4}))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + GUARD_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        await asyncio.sleep(0.05)
    try:
        w = await make_world(db, client)
        eid, _ = await coordination(client, w, results_visibility="live")
        url = f"/api/v1/events/{eid}/results/stream"
        all_open = asyncio.Barrier(STREAMS + 1)
        done = asyncio.Event()
        seen: list[dict[str, Any]] = []

        async def watch(http: httpx.AsyncClient) -> int | str:
            async with http.stream("GET", url, headers=w.h["neighbour"]) as response:
                if response.status_code != 200:
                    await response.aread()
                    await all_open.wait()
                    return f"{response.status_code} {response.text[:200]}"
                else:
                    async for line in response.aiter_lines():
                        if line.startswith("event: tally") or line.startswith("event:tally"):
                            seen.append({})
                            break
                await all_open.wait()
                await done.wait()
                return response.status_code

        limits = httpx.Limits(max_connections=STREAMS + 10)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=GUARD_S, limits=limits
        ) as http:
            tasks = [asyncio.create_task(watch(http)) for _ in range(STREAMS)]
            await asyncio.wait_for(all_open.wait(), GUARD_S)
            # All streams are open at once.
            # One tally for the meeting in this worker, however many watch it.
            meetings = list(app.state.tally_hub.watches)
            done.set()
            statuses = await asyncio.gather(*tasks)
        assert [s for s in statuses if s != 200] == []
        assert meetings == [uuid.UUID(eid)]
        assert len(seen) == STREAMS
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, GUARD_S)
