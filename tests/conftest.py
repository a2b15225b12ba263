"""Tests run against real PostgreSQL and real Redis.

- PostgreSQL: ``LIFECIRCLE_TEST_DATABASE_URL`` (its database is dropped and created anew),
  else a ``lifecircle_test`` database on 127.0.0.1. The schema is built by
  ``alembic upgrade head``, so every run also tests the migrations.
- Redis: ``LIFECIRCLE_TEST_REDIS_URL``, else database 15 on 127.0.0.1 (flushed at start).

Tests share one database; each builds its own areas and users (unique codes and phones), so
they never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from litestar import Litestar
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.app import create_app
from src.config import Settings
from src.core.servers import BackgroundServer
from src.demo import seed_demo
from src.identity.wechat_fake import create_fake_wechat_app
from src.integrations.city_portal.fake import FakePortal, quiet_dropped_replies
from tests.contract.validation import install as validate_responses
from tests.leaks import scan_response

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/lifecircle_test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"


def _database_url() -> str:
    return os.environ.get("LIFECIRCLE_TEST_DATABASE_URL", DEFAULT_DB)


async def _recreate_database(url: str) -> None:
    parsed = make_url(url)
    name = parsed.database
    assert name, "the test database URL must name a database"
    admin = parsed.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url() -> str:
    url = _database_url()
    asyncio.run(_recreate_database(url))
    env = {**os.environ, "LIFECIRCLE_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True
    )
    return url


@pytest.fixture(scope="session")
def fake_wechat() -> Iterator[BackgroundServer]:
    server = BackgroundServer(create_fake_wechat_app("wx-test", "wx-test-secret")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_portal_server() -> Iterator[tuple[FakePortal, BackgroundServer]]:
    """The fake city portal (src/integrations/city_portal/fake.py) over loopback HTTP."""
    quiet_dropped_replies()
    fake = FakePortal("lifecircle-test", "portal-test-secret-0123456789", seed=8)
    server = BackgroundServer(fake.app).start()
    yield fake, server
    server.stop()


@pytest.fixture(scope="session")
def settings(
    database_url: str,
    fake_wechat: BackgroundServer,
    fake_portal_server: tuple[FakePortal, BackgroundServer],
) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        redis_url=os.environ.get("LIFECIRCLE_TEST_REDIS_URL", DEFAULT_REDIS),
        secret_key="test-secret-test-secret-test-secret-0123",
        rate_limit_ip_per_minute=1_000_000,
        rate_limit_login_per_minute=1_000_000,
        rate_limit_login_account_per_minute=1_000_000,
        rate_limit_user_per_minute=1_000_000,
        wechat_api_base=fake_wechat.url,
        wechat_app_id="wx-test",
        wechat_app_secret="wx-test-secret",
        portal_api_base=fake_portal_server[1].url,
        portal_app_id="lifecircle-test",
        portal_app_secret="portal-test-secret-0123456789",
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
async def redis_flushed(settings: Settings) -> None:
    assert settings.redis_url
    client = Redis.from_url(settings.redis_url)
    await client.flushdb()
    await client.aclose()


@pytest.fixture(scope="session")
async def app(settings: Settings, redis_flushed: None) -> Litestar:
    return create_app(settings)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the ASGI app, in the tests' event loop, after the app's start-up."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        # Entered and left in one task, as the app's task groups require.
        async with app.lifespan():
            started.set()
            await stop.wait()

    lifespan = asyncio.create_task(run_lifespan())
    await started.wait()
    async with app.state.sessionmaker() as session, session.begin():
        await seed_demo(session)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://lifecircle.test",
        event_hooks={"response": [scan_response]},
    ) as http:
        # Every response checked against the served document (tests/contract/validation.py).
        await validate_responses(http)
        yield http
    stop.set()
    # A shutdown that never ends would hang the whole run (CI has a time limit): fail instead.
    await asyncio.wait_for(lifespan, timeout=60)


@pytest.fixture(scope="session")
async def db(client: httpx.AsyncClient, app: Litestar) -> async_sessionmaker[AsyncSession]:
    """A sessionmaker on the test database, for builders and for checking rows."""
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return sessionmaker
