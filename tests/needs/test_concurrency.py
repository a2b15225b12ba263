"""Double taps and bursts: one project per need, one decision per need."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.exports.helpers import add_proposal
from tests.needs.helpers import create_need, make_world, plan


async def _count(db: async_sessionmaker[AsyncSession], sql: str, **params: object) -> int:
    async with db() as session:
        return int((await session.execute(text(sql), params)).scalar_one())


async def test_a_burst_of_create_project_taps_makes_one_project(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    p = await add_proposal(db, w.a, w.resident)
    need = await create_need(client, w.h["committee"], community=w.a, proposal_ids=[p.id])
    assert (await plan(client, w.h["committee"], need["id"])).status_code == 200
    url = f"/api/v1/needs/{need['id']}/projects"
    taps = await asyncio.gather(
        *(
            client.post(url, json={"kind": "liuyi_ting"}, headers=w.h[who])
            for who in ["committee", "street"] * 4
        )
    )
    statuses = sorted(r.status_code for r in taps)
    assert statuses == [201] + [409] * 7, [r.text for r in taps]
    assert {r.json()["code"] for r in taps if r.status_code == 409} == {"need_has_project"}
    assert (
        await _count(db, "SELECT count(*) FROM project_needs WHERE need_id = :n", n=need["id"]) == 1
    )
    assert (
        await _count(
            db,
            "SELECT count(*) FROM projects WHERE community_id = :c AND year = :y",
            c=w.a.id,
            y=need["year"] + 1,
        )
        == 1
    )


async def test_retries_with_one_idempotency_key_replay_the_project(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    need = await create_need(client, w.h["street"], community=w.b, title="社区食堂")
    await plan(client, w.h["street"], need["id"])
    url = f"/api/v1/needs/{need['id']}/projects"
    headers = {**w.h["street"], "Idempotency-Key": f"need-project-{need['id']}"}
    burst = await asyncio.gather(*(client.post(url, json={}, headers=headers) for _ in range(6)))
    created = [r for r in burst if r.status_code == 201]
    assert created and {r.json()["id"] for r in created} == {created[0].json()["id"]}
    assert all(r.status_code in (201, 409) for r in burst), [r.text for r in burst]
    retry = await client.post(url, json={}, headers=headers)
    assert retry.status_code == 201 and retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.json()["id"] == created[0].json()["id"]
    assert (
        await _count(db, "SELECT count(*) FROM project_needs WHERE need_id = :n", n=need["id"]) == 1
    )


async def test_concurrent_decisions_apply_once(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    need = await create_need(client, w.h["committee"], community=w.a)
    url = f"/api/v1/needs/{need['id']}"
    bodies = [{"status": "planned", "reason": "计划"}] * 4 + [
        {"status": "declined", "reason": "不做"}
    ] * 4
    replies = await asyncio.gather(
        *(client.patch(url, json=b, headers=w.h["committee"]) for b in bodies)
    )
    assert all(r.status_code in (200, 409) for r in replies), [r.text for r in replies]
    final = (await client.get(url, headers=w.h["committee"])).json()["status"]
    # Every 200 agrees with the one decision that won; the others were refused.
    assert {r.json()["status"] for r in replies if r.status_code == 200} == {final}
    assert {r.json()["code"] for r in replies if r.status_code == 409} <= {"illegal_transition"}
    transitions = await _count(
        db,
        "SELECT count(*) FROM audit_log WHERE object_id = :n AND action = 'need.transition'",
        n=need["id"],
    )
    assert transitions == 1
