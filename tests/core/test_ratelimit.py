"""Rate limits per IP and per user: 429 problem+json with Retry-After, counted in Redis."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.app import create_app
from src.config import Settings
from src.core.errors import AppError
from src.core.ratelimit import RateLimiter
from src.core.redis import RedisStore, create_redis
from tests.builders import login, make_tree, make_user
from tests.core.helpers import serve


async def test_too_many_requests_from_one_ip_is_429(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"rate_limit_ip_per_minute": 3}))
    ip = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    async with serve(app, ip) as client:
        statuses = [(await client.get("/api/v1/areas?level=street")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = await client.get("/api/v1/areas?level=street")
        assert limited.status_code == 429
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Health checks are never limited.
        assert (await client.get("/health")).status_code == 200
    # Another address has its own budget.
    async with serve(app, ip + "1") as other:
        assert (await other.get("/api/v1/areas?level=street")).status_code == 200


async def test_the_per_user_limit_counts_each_user_alone(
    settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    app = create_app(settings.model_copy(update={"proposal_submit_limit": 2}))
    tree = await make_tree(db, 1)
    alice = await make_user(db, community=tree.communities[0])
    bob = await make_user(db, community=tree.communities[0])
    body = {"title": "加装电梯", "body": "三号楼", "category": "accessibility"}
    async with serve(app, "10.8.0.1") as client:

        async def submit(phone: str) -> httpx.Response:
            token = (await client.post("/api/v1/auth/dev-login", json={"phone": phone})).json()[
                "access_token"
            ]
            return await client.post(
                "/api/v1/proposals", json=body, headers={"Authorization": f"Bearer {token}"}
            )

        assert [(await submit(alice.phone)).status_code for _ in range(3)] == [201, 201, 429]
        third = await submit(alice.phone)
        assert third.json()["code"] == "rate_limited"
        assert "retry-after" in third.headers
        assert (await submit(bob.phone)).status_code == 201


# --- limits that fit the users ------------------------------------------------------------

_DEFAULT_LIMITS = {
    name: Settings.model_fields[name].default
    for name in (
        "rate_limit_ip_per_minute",
        "rate_limit_login_per_minute",
        "rate_limit_login_account_per_minute",
        "rate_limit_user_per_minute",
    )
}


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def _on(app: Litestar, ip: str) -> httpx.AsyncClient:
    """Another client address on an app whose lifespan runs (see ``serve``)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 50003))
    return httpx.AsyncClient(transport=transport, base_url="http://t.test")


async def test_a_hall_of_residents_signs_in_from_one_address(
    settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    """100 residents behind one Wi-Fi address, each signing in, refreshing and reading /me
    within a minute, with the default limits: nobody is refused."""
    app = create_app(settings.model_copy(update=_DEFAULT_LIMITS))
    tree = await make_tree(db, 1)
    residents = [await make_user(db, community=tree.communities[0]) for _ in range(100)]
    gate = asyncio.Semaphore(10)

    async def arrive(client: httpx.AsyncClient, phone: str) -> list[int]:
        async with gate:
            signed = await client.post("/api/v1/auth/dev-login", json={"phone": phone})
            if signed.status_code != 200:
                return [signed.status_code]
            tokens = signed.json()
            refreshed = await client.post(
                "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            me = await client.get(
                "/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
            )
            return [signed.status_code, refreshed.status_code, me.status_code]

    async with serve(app, _address()) as client:
        results = await asyncio.gather(*(arrive(client, r.phone) for r in residents))
    assert results == [[200, 200, 200]] * 100


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(
    settings: Settings,
) -> None:
    app = create_app(settings.model_copy(update={"rate_limit_ip_per_minute": 3}))
    async with serve(app, _address()) as client:
        statuses = [
            (
                await client.get(
                    "/api/v1/areas?level=street", headers={"X-Forwarded-For": _address()}
                )
            ).status_code
            for _ in range(4)
        ]
    # Each request claimed another address; the limit counted the real peer.
    assert statuses == [200, 200, 200, 429]


async def test_forwarded_for_is_believed_from_a_trusted_proxy(settings: Settings) -> None:
    app = create_app(
        settings.model_copy(
            update={"rate_limit_ip_per_minute": 3, "trusted_proxies": "10.250.0.0/16, 10.251.0.7"}
        )
    )
    proxy = f"10.250.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    async with serve(app, proxy) as client:

        async def get(forwarded: str) -> int:
            response = await client.get(
                "/api/v1/areas?level=street", headers={"X-Forwarded-For": forwarded}
            )
            return response.status_code

        # Residents behind the proxy each have their own budget.
        assert [await get(_address()) for _ in range(6)] == [200] * 6
        # One resident: the right-most address the proxy did not add itself is the client,
        # whatever the client wrote to its left; a second trusted proxy hop is skipped.
        resident = _address()
        assert [
            await get(resident),
            await get(f"{_address()}, {resident}"),
            await get(f"{resident}, 10.251.0.7"),
            await get(f"1.2.3.4, {resident}"),
        ] == [200, 200, 200, 429]


async def test_the_per_account_limit_stops_guessing_from_many_addresses(
    settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    app = create_app(settings.model_copy(update={"rate_limit_login_account_per_minute": 5}))
    unknown_phone = "139" + f"{uuid.uuid4().int % 10**8:08d}"
    async with serve(app, _address()) as client:

        async def dev_login(phone: str) -> httpx.Response:
            async with _on(app, _address()) as other:
                return await other.post("/api/v1/auth/dev-login", json={"phone": phone})

        guesses = [(await dev_login(unknown_phone)).status_code for _ in range(6)]
        assert guesses == [404] * 5 + [429]
        limited = await dev_login(unknown_phone)
        assert limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Another account is not held back by that one.
        tree = await make_tree(db, 1)
        alice = await make_user(db, community=tree.communities[0])
        assert (await dev_login(alice.phone)).status_code == 200

        # WeChat: counted per openid once the code is exchanged.
        openid = f"o-{uuid.uuid4().hex[:12]}"
        codes = [f"ok-{openid}~{i}" for i in range(6)]
        wechat = []
        for code in codes:
            async with _on(app, _address()) as other:
                wechat.append(
                    (await other.post("/api/v1/auth/wechat", json={"code": code})).status_code
                )
        assert wechat == [200] * 5 + [429]
        fresh = await client.post("/api/v1/auth/wechat", json={"code": f"ok-o-{uuid.uuid4().hex}"})
        assert fresh.status_code == 200

        # Refresh: counted per sign-in family (a 429 leaves the token usable later).
        token = fresh.json()["refresh_token"]
        refreshes = []
        for _ in range(6):
            async with _on(app, _address()) as other:
                reply = await other.post("/api/v1/auth/refresh", json={"refresh_token": token})
            refreshes.append(reply.status_code)
            if reply.status_code == 200:
                token = reply.json()["refresh_token"]
        assert refreshes == [200] * 5 + [429]


async def test_signed_in_callers_are_limited_per_user_not_per_address(
    settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    app = create_app(
        settings.model_copy(update={"rate_limit_user_per_minute": 5, "rate_limit_ip_per_minute": 5})
    )
    tree = await make_tree(db, 1)
    alice = await make_user(db, community=tree.communities[0])
    bob = await make_user(db, community=tree.communities[0])
    async with serve(app, _address()) as client:
        # Two anonymous calls from this address (the sign-ins)...
        a = await login(client, alice)
        b = await login(client, bob)
        # ...and the users' calls do not count against the address, only against each user.
        statuses = [(await client.get("/api/v1/me", headers=a)).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        limited = await client.get("/api/v1/me", headers=a)
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert [(await client.get("/api/v1/me", headers=b)).status_code for _ in range(5)] == [
            200
        ] * 5
        assert (await client.get("/api/v1/areas?level=street")).status_code == 200
        # A token that does not verify is an anonymous call: counted per address.
        bad = {"Authorization": "Bearer not-a-token"}
        assert (await client.get("/api/v1/areas?level=street", headers=bad)).status_code == 200
        assert (await client.get("/api/v1/me", headers=bad)).status_code == 401


async def test_workers_share_counts_through_redis(settings: Settings) -> None:
    """Two limiters (two workers) on one Redis: each learns the other's hits at its next
    flush, and refuses locally from then on."""
    assert settings.redis_url
    redis = create_redis(settings.redis_url)
    first, second = RateLimiter(RedisStore(redis)), RateLimiter(RedisStore(redis))
    key = f"test:{uuid.uuid4()}"
    try:
        for _ in range(3):
            first.hit(key, 4, 60)
        await first.flush()
        second.hit(key, 4, 60)
        await second.flush()  # learns the total: 4
        with pytest.raises(AppError) as refused:
            second.hit(key, 4, 60)
        assert refused.value.status == 429
        await first.flush()  # nothing new from the first: it does not know yet
        first.hit(key, 5, 60)
        await first.flush()
        with pytest.raises(AppError):
            first.hit(key, 5, 60)
    finally:
        await redis.aclose()


async def test_without_redis_the_limits_count_in_process(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"redis_url": None, "rate_limit_ip_per_minute": 2}))
    async with serve(app, _address()) as client:
        statuses = [(await client.get("/api/v1/areas?level=street")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
