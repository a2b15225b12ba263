"""The principals a worker keeps (src/core/principals.py): served without the database, and
forgotten as soon as PostgreSQL announces a change, from this process or another one."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import asyncpg
import httpx
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.auth import Principal, TokenClaims
from src.core.principals import PrincipalCache
from src.core.servers import free_port
from tests.builders import login, make_tree, make_user

GUARD_S = 10.0


async def _eventually(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.01)
    return check()


async def _me(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get("/api/v1/me", headers=headers)


async def _until_status(
    client: httpx.AsyncClient, headers: dict[str, str], status: int
) -> httpx.Response:
    deadline = time.monotonic() + GUARD_S
    while True:
        reply = await _me(client, headers)
        if reply.status_code == status or time.monotonic() > deadline:
            return reply
        await asyncio.sleep(0.02)


async def test_a_change_made_elsewhere_reaches_the_kept_principal(
    client: httpx.AsyncClient,
    app: Litestar,
    db: async_sessionmaker[AsyncSession],
    database_url: str,
) -> None:
    assert app.state.principals.listening
    tree = await make_tree(db, 1)
    user = await make_user(db, community=tree.communities[0])
    headers = await login(client, user)
    assert (await _me(client, headers)).json()["display_name"] == "测试用户"

    # Another process (a raw connection, not this app's sessions) changes the user.
    conn = await asyncpg.connect(database_url)
    try:
        # Unannounced (triggers off for this session): the kept principal is served, which
        # shows that a kept read does not go to the database.
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("UPDATE users SET display_name = '悄悄改名' WHERE id = $1", user.id)
        assert (await _me(client, headers)).json()["display_name"] == "测试用户"

        # Announced: the sign-in revoked in another process ends it here too.
        await conn.execute(
            "UPDATE auth_families SET revoked_at = now() WHERE user_id = $1", user.id
        )
    finally:
        await conn.close()
    refused = await _until_status(client, headers, 401)
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "token_revoked"


async def test_a_role_granted_elsewhere_shows_and_a_logout_here_counts_at_once(
    client: httpx.AsyncClient,
    app: Litestar,
    db: async_sessionmaker[AsyncSession],
    database_url: str,
) -> None:
    tree = await make_tree(db, 1)
    community = tree.communities[0]
    user = await make_user(db, community=community)
    headers = await login(client, user)
    assert [r["role"] for r in (await _me(client, headers)).json()["roles"]] == ["resident"]

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO role_grants (id, user_id, role, area_id) VALUES ($1, $2, 'committee', $3)",
            uuid.uuid4(),
            user.id,
            community.id,
        )
    finally:
        await conn.close()
    deadline = time.monotonic() + GUARD_S
    while True:
        roles = [r["role"] for r in (await _me(client, headers)).json()["roles"]]
        if roles == ["resident", "committee"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    assert roles == ["resident", "committee"]

    # A logout through this app: the very next request is refused, no waiting.
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    refused = await _me(client, headers)
    assert refused.status_code == 401


def _principal(user_id: uuid.UUID, family_id: uuid.UUID) -> Principal:
    return Principal(
        user_id=user_id,
        display_name="x",
        verified=True,
        community_id=None,
        grants=(),
        family_id=family_id,
    )


async def test_nothing_is_kept_without_notifications_or_across_an_invalidation(
    database_url: str,
) -> None:
    claims = TokenClaims(uuid.uuid4(), uuid.uuid4())
    principal = _principal(claims.user_id, claims.family_id)

    # PostgreSQL unreachable: the listener is down, so every lookup reads the database.
    away = PrincipalCache(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    await away.start()
    try:
        assert not away.listening
        away.put(claims, principal, away.generation)
        assert away.get(claims) is None
    finally:
        await away.stop()

    cache = PrincipalCache(database_url)
    await cache.start()
    try:
        assert cache.listening
        # A read that started before an invalidation is not kept.
        started = cache.generation
        cache.forget(uuid.uuid4())
        cache.put(claims, principal, started)
        assert cache.get(claims) is None
        cache.put(claims, principal, cache.generation)
        assert cache.get(claims) is principal
        # The listener's connection killed (PostgreSQL restarted, say): forgotten at once.
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'lifecircle principals' AND datname = current_database()"
            )
        finally:
            await conn.close()
        assert await _eventually(lambda: cache.get(claims) is None)
        # It listens again by itself, starting empty.
        assert await _eventually(lambda: cache.listening)
        assert cache.get(claims) is None
    finally:
        await cache.stop()
