"""Races: double taps, retries and concurrent changes never make two ratings or skew counts."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.builders import login, make_user
from tests.ratings.helpers import SCORES, make_meeting, make_world, rate


async def _tally(
    db: async_sessionmaker[AsyncSession], event_id: object
) -> dict[tuple[str, int], int]:
    async with db() as session:
        rows = await session.execute(
            text(
                "SELECT criterion, score, n FROM rating_tallies "
                "WHERE event_id = :e AND source = 'app' AND n <> 0"
            ),
            {"e": event_id},
        )
        return {(r.criterion, r.score): r.n for r in rows}


async def _from_ratings(
    db: async_sessionmaker[AsyncSession], event_id: object
) -> dict[tuple[str, int], int]:
    async with db() as session:
        rows = await session.execute(
            text(
                "SELECT s.key AS criterion, s.value::int AS score, count(*) AS n "
                "FROM ratings r, jsonb_each_text(r.scores) s WHERE r.event_id = :e GROUP BY 1, 2"
            ),
            {"e": event_id},
        )
        return {(r.criterion, r.score): r.n for r in rows}


async def test_same_resident_twice_at_once_makes_one_rating(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    event = await make_meeting(db, w.a, w.committee)
    responses = await asyncio.gather(*(rate(client, w.h["resident"], event) for _ in range(6)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"already_rated"}
    async with db() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM ratings WHERE event_id = :e"), {"e": event}
        )
    assert count == 1
    assert await _tally(db, event) == await _from_ratings(db, event)
    assert sum(n for (c, _), n in (await _tally(db, event)).items() if c == "overall") == 1


async def test_idempotent_retry_replays_the_first_reply(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    event = await make_meeting(db, w.a, w.committee)
    headers = {**w.h["resident"], "Idempotency-Key": "rate-once-1"}
    first = await rate(client, headers, event, comment="很好")
    again = await rate(client, headers, event, comment="很好")
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    other_body = await rate(client, headers, event, comment="改了")
    assert other_body.status_code == 422
    assert other_body.json()["code"] == "idempotency_key_reused"
    new_key = await rate(client, {**w.h["resident"], "Idempotency-Key": "rate-once-2"}, event)
    assert new_key.status_code == 409 and new_key.json()["code"] == "already_rated"


async def test_many_residents_and_changes_at_once_keep_exact_tallies(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    event = await make_meeting(db, w.a, w.committee)
    people = [await login(client, await make_user(db, community=w.a)) for _ in range(16)]
    first = await asyncio.gather(
        *(
            rate(client, h, event, {**SCORES, "overall": 1 + i % 5, "design": 5 - i % 5})
            for i, h in enumerate(people)
        )
    )
    assert all(r.status_code == 201 for r in first), [r.text for r in first]
    # Every resident changes their rating twice at once, with different scores.
    changes = await asyncio.gather(
        *(
            client.put(
                f"/api/v1/events/{event}/ratings/mine",
                json={"scores": {**SCORES, "overall": 1 + (i + k) % 5}},
                headers=h,
            )
            for k in (1, 2)
            for i, h in enumerate(people)
        )
    )
    assert all(r.status_code == 200 for r in changes), [r.text for r in changes]
    assert await _tally(db, event) == await _from_ratings(db, event)
    summary = (
        await client.get(f"/api/v1/events/{event}/ratings/summary", headers=w.h["committee"])
    ).json()
    assert summary["count"] == 16
    async with db() as session:
        revisions = await session.scalar(
            select(func.count())
            .select_from(text("rating_revisions v JOIN ratings r ON r.id = v.rating_id"))
            .where(text("r.event_id = :e")),
            {"e": event},
        )
    assert revisions == 32
