"""A separately configured app on the test database, served in-process for one test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar


@asynccontextmanager
async def serve(app: Litestar, ip: str = "127.0.0.9") -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on ``app`` after its start-up (lifespan entered and left in one task)."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run_lifespan())
    await started.wait()
    try:
        transport = httpx.ASGITransport(app=app, client=(ip, 50002))
        async with httpx.AsyncClient(transport=transport, base_url="http://t.test") as client:
            yield client
    finally:
        stop.set()
        await task
