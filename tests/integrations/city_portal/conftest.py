"""The fake portal as a real loopback server, the app's portal client pointed at it, and a
hostile portal that answers badly on purpose."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.core.servers import BackgroundServer
from src.integrations.city_portal import signing
from src.integrations.city_portal.client import PortalClient
from src.integrations.city_portal.fake import FakePortal, Faults
from src.integrations.city_portal.worker import OutboxWorker, WorkerConfig

WEBHOOK_PATH = "/api/v1/integrations/portal/webhook"


@pytest.fixture
def fake_portal(
    fake_portal_server: tuple[FakePortal, BackgroundServer],
) -> Iterator[FakePortal]:
    fake, _ = fake_portal_server
    fake.set_faults(Faults())
    yield fake
    fake.set_faults(Faults())


@pytest.fixture
def portal_url(fake_portal_server: tuple[FakePortal, BackgroundServer]) -> str:
    return fake_portal_server[1].url


def portal_settings(settings: Settings, base_url: str, **overrides: Any) -> Settings:
    return settings.model_copy(update={"portal_api_base": base_url, **overrides})


def worker_config(**overrides: Any) -> WorkerConfig:
    base = {
        "batch_size": 32,
        "lease_s": 30.0,
        "max_attempts": 5,
        "backoff_base_s": 0.01,
        "backoff_cap_s": 0.05,
        "poll_interval_s": 0.02,
        "breaker_threshold": 1000,
        "breaker_cooldown_s": 0.05,
        "nonce_ttl_s": 600,
    }
    base.update(overrides)
    return WorkerConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
async def make_worker(
    db: async_sessionmaker[AsyncSession], settings: Settings, portal_url: str
) -> AsyncIterator[Any]:
    clients: list[PortalClient] = []

    def build(url: str | None = None, *, timeout_s: float = 2.0, **overrides: Any) -> OutboxWorker:
        client = PortalClient.from_settings(
            portal_settings(settings, url or portal_url, portal_timeout_s=timeout_s)
        )
        clients.append(client)
        return OutboxWorker(db, client, worker_config(**overrides))

    yield build
    for client in clients:
        await client.aclose()


async def drain(
    worker: OutboxWorker, db: async_sessionmaker[AsyncSession], keys: list[str]
) -> None:
    """Run the worker until none of ``keys`` has a due pending row (retries come due fast)."""
    for _ in range(2000):
        handled = await worker.run_once()
        async with db() as session:
            left = await session.scalar(
                text(
                    "SELECT count(*) FROM outbox WHERE status = 'pending' "
                    "AND ordering_key = ANY(:keys)"
                ),
                {"keys": keys},
            )
        if not left:
            return
        if not handled:
            await asyncio.sleep(0.01)
    raise AssertionError("the outbox did not drain")


def signed_webhook(
    settings: Settings, event: dict[str, Any], *, now: float | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    headers = signing.signed_headers(
        settings.portal_webhook_secret, "city-portal", "POST", WEBHOOK_PATH, body, now=now
    )
    return body, {**headers, "Content-Type": "application/json"}


def hostile_portal(mode: dict[str, str]) -> Any:
    """Answers every call with whatever ``mode["kind"]`` says (all with status 200 but the
    redirect)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        kind = mode["kind"]
        if kind == "redirect":
            await send(
                {
                    "type": "http.response.start",
                    "status": 302,
                    "headers": [(b"location", mode["location"].encode())],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        if kind == "slow":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(100):
                await send({"type": "http.response.body", "body": b" ", "more_body": True})
                await asyncio.sleep(0.05)
            await send({"type": "http.response.body", "body": b"{}"})
            return
        body = {
            "huge": b'{"user": {"portal_user_id": "x", "name": "' + b"a" * 200_000 + b'"}}',
            "malformed": b'{"user": {"portal_user_id": 12}}',
            "not_json": b"<html>gateway</html>",
            # Values that do not fit our columns, and a reply no decoder should recurse into.
            "long_id": json.dumps(
                {"user": {"portal_user_id": "p" * 65, "name": "王建国", "verified": True}}
            ).encode(),
            "nul_id": json.dumps(
                {"user": {"portal_user_id": "p-\u00001", "name": "王建国", "verified": True}}
            ).encode(),
            "deep": b'{"user": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        }[kind]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture
def hostile() -> Iterator[tuple[dict[str, str], str]]:
    mode: dict[str, str] = {"kind": "malformed"}
    server = BackgroundServer(hostile_portal(mode)).start()
    yield mode, server.url
    server.stop()
