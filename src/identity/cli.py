"""``lifecircle wechat-worker``: deliver WeChat subscribe messages from the outbox."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

import httpx

from src.cli import command
from src.config import Settings
from src.core.db import create_engine, make_sessionmaker
from src.identity import subscribe_worker
from src.identity.wechat import HttpWeChatSender


async def _run(settings: Settings) -> None:
    if not settings.database_url:
        raise SystemExit("LIFECIRCLE_DATABASE_URL is required")
    engine = create_engine(settings.database_url, pool_size=2)
    async with httpx.AsyncClient(timeout=settings.http_timeout_s) as http:
        sender = HttpWeChatSender(
            http, settings.wechat_api_base, settings.wechat_app_id, settings.wechat_app_secret
        )
        try:
            await subscribe_worker.run(make_sessionmaker(engine), sender, settings)
        finally:
            await engine.dispose()


@command("wechat-worker", "deliver WeChat subscribe messages from the outbox")
def wechat_worker(args: argparse.Namespace, settings: Settings) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(settings))
    return 0
