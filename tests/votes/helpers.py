"""Builders for the votes tests: an open coordination meeting, a ballot, the row counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.builders import login, make_user
from tests.events.helpers import World, create_event

OPTIONS = ["方案一：保留大树，增加座椅", "方案二：儿童游乐区", "方案三：健身步道"]


async def coordination(client: httpx.AsyncClient, w: World, **voting: Any) -> tuple[str, list[str]]:
    event = await create_event(
        client, w.h["committee"], w.a, options=OPTIONS, voting=voting or None, open_it=True
    )
    return event["id"], [o["id"] for o in event["options"]]


async def vote(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    event_id: str,
    option_ids: list[str],
    key: str | None = None,
) -> httpx.Response:
    h = dict(headers)
    if key is not None:
        h["Idempotency-Key"] = key
    return await client.post(
        f"/api/v1/events/{event_id}/ballots", json={"option_ids": option_ids}, headers=h
    )


async def more_residents(
    db: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, w: World, n: int
) -> list[dict[str, str]]:
    """Auth headers of ``n`` more verified residents of the world's community ``a``: with the
    resident and the neighbour, enough ballots for a crowd (src/votes/secrecy.py, CROWD)."""
    return [await login(client, await make_user(db, community=w.a)) for _ in range(n)]


async def counts(db: async_sessionmaker[AsyncSession], event_id: str) -> tuple[int, int]:
    async with db() as session:
        voters = await session.scalar(
            text("SELECT count(*) FROM ballot_voters WHERE event_id = :e"), {"e": event_id}
        )
        # Ballots in clear and those still sealed, waiting for a crowd (src/votes/secrecy.py).
        ballots = await session.scalar(
            text(
                "SELECT (SELECT count(*) FROM ballots WHERE event_id = :e)"
                " + (SELECT count(*) FROM sealed_ballots WHERE event_id = :e)"
            ),
            {"e": event_id},
        )
    return int(voters or 0), int(ballots or 0)


GUARD_S = 60  # only against a hang; nothing here measures time


@dataclass
class LiveServer:
    url: str
    app: Litestar
