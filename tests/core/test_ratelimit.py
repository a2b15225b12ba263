"""Rate limits per IP and per user: 429 problem+json with Retry-After, counted in Redis."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.app import create_app
from src.config import Settings
from tests.builders import make_tree, make_user
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
            token = (
                await client.post("/api/v1/auth/dev-login", json={"phone": phone})
            ).json()["access_token"]
            return await client.post(
                "/api/v1/proposals", json=body, headers={"Authorization": f"Bearer {token}"}
            )

        assert [(await submit(alice.phone)).status_code for _ in range(3)] == [201, 201, 429]
        third = await submit(alice.phone)
        assert third.json()["code"] == "rate_limited"
        assert "retry-after" in third.headers
        assert (await submit(bob.phone)).status_code == 201
