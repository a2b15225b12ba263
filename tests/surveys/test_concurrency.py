"""Double taps and bursts: one response per resident, tallies equal to a recount."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.builders import login, make_user
from tests.surveys.helpers import ANSWERS, make_world, open_survey, respond


async def recount(
    db: async_sessionmaker[AsyncSession], survey_id: str
) -> dict[tuple[str, str, str], int]:
    """The tallies recomputed from the response rows (plain SQL)."""
    async with db() as session:
        rows = await session.execute(
            text(
                """
                SELECT channel::text AS c, '' AS q, '' AS i, count(*) AS n
                FROM survey_responses WHERE survey_id = :s GROUP BY 1
                UNION ALL
                SELECT r.channel::text, a.key, '', count(*)
                FROM survey_responses r, jsonb_each(r.answers) a
                WHERE r.survey_id = :s GROUP BY 1, 2
                UNION ALL
                SELECT r.channel::text, a.key, a.value #>> '{}', count(*)
                FROM survey_responses r, jsonb_each(r.answers) a
                WHERE r.survey_id = :s AND jsonb_typeof(a.value) IN ('string', 'number')
                  AND a.key IN ('need', 'satisfied') GROUP BY 1, 2, 3
                UNION ALL
                SELECT r.channel::text, a.key, e.v, count(*)
                FROM survey_responses r, jsonb_each(r.answers) a,
                     jsonb_array_elements_text(a.value) e(v)
                WHERE r.survey_id = :s AND jsonb_typeof(a.value) = 'array' GROUP BY 1, 2, 3
                """
            ),
            {"s": survey_id},
        )
        return {(r.c, r.q, r.i): r.n for r in rows}


async def tallies(
    db: async_sessionmaker[AsyncSession], survey_id: str
) -> dict[tuple[str, str, str], int]:
    async with db() as session:
        rows = await session.execute(
            text(
                "SELECT channel::text AS c, question_key AS q, item AS i, n FROM survey_tallies"
                " WHERE survey_id = :s AND n <> 0 AND question_key NOT IN ('idea', 'where')"
                "   OR (survey_id = :s AND n <> 0 AND item = '')"
            ),
            {"s": survey_id},
        )
        return {(r.c, r.q, r.i): r.n for r in rows}


async def test_double_submit_makes_one_response(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    survey = await open_survey(client, w.h["committee"], w.a)
    replies = await asyncio.gather(
        *(respond(client, w.h["resident"], survey["id"], ANSWERS) for _ in range(6))
    )
    assert sorted(r.status_code for r in replies) == [201, 409, 409, 409, 409, 409]
    assert {r.json()["code"] for r in replies if r.status_code == 409} == {"already_responded"}
    async with db() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM survey_responses WHERE survey_id = :s"), {"s": survey["id"]}
        )
    assert count == 1
    assert await tallies(db, survey["id"]) == await recount(db, survey["id"])


async def test_retry_with_idempotency_key_replays(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    survey = await open_survey(client, w.h["committee"], w.a)
    headers = {**w.h["resident"], "Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await respond(client, headers, survey["id"], ANSWERS)
    second = await respond(client, headers, survey["id"], ANSWERS)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("idempotent-replayed") == "true"
    assert second.json() == first.json()


async def test_burst_of_residents_and_changes_keeps_tallies_exact(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    survey = await open_survey(client, w.h["committee"], w.a)
    sid = survey["id"]
    people = [await login(client, await make_user(db, community=w.a)) for _ in range(12)]
    needs = ["elder", "kids", "sport"]
    first = await asyncio.gather(
        *(
            respond(client, h, sid, {**ANSWERS, "need": needs[i % 3], "satisfied": 1 + i % 5})
            for i, h in enumerate(people)
        )
    )
    assert all(r.status_code == 201 for r in first), [r.text for r in first if r.status_code != 201]
    changes = await asyncio.gather(
        *(
            client.put(
                f"/api/v1/surveys/{sid}/responses/mine",
                json={"answers": {"need": needs[(i + 1) % 3], "satisfied": 5, "also": ["market"]}},
                headers=h,
            )
            for i, h in enumerate(people)
            for _ in range(2)
        ),
        *(
            respond(
                client, w.h["committee"], sid, {"need": "kids", "satisfied": 3}, channel="paper"
            )
            for _ in range(5)
        ),
    )
    assert all(r.status_code in (200, 201) for r in changes), [
        r.text for r in changes if r.status_code >= 300
    ]
    assert await tallies(db, sid) == await recount(db, sid)
    results = (await client.get(f"/api/v1/surveys/{sid}/results", headers=w.h["committee"])).json()
    assert (results["online"], results["paper"]) == (12, 5)
    assert results["questions"][1]["counts"]["market"] == 12
