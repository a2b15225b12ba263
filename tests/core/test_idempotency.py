"""Idempotency-Key on POST: replay, changed body, in flight, scoped per caller."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.proposal import Proposal
from tests.builders import login, make_tree, make_user


def _proposal(title: str = "加装电梯") -> dict[str, str]:
    return {"title": title, "body": "三号楼老人上下楼不便", "category": "accessibility"}


async def _count(db: async_sessionmaker[AsyncSession], author_id: uuid.UUID) -> int:
    async with db() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Proposal).where(Proposal.author_id == author_id)
            )
            or 0
        )


async def test_a_retry_replays_the_first_response_and_creates_nothing_new(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(db, 1)
    user = await make_user(db, community=tree.communities[0])
    headers = {**await login(client, user), "Idempotency-Key": f"k-{uuid.uuid4()}"}
    # Uncompressed, so that the framing below compares the length with the body as sent.
    headers["Accept-Encoding"] = "identity"

    first = await client.post("/api/v1/proposals", json=_proposal(), headers=headers)
    again = await client.post("/api/v1/proposals", json=_proposal(), headers=headers)

    assert first.status_code == 201, first.text
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json() == first.json()
    assert again.headers["content-type"] == first.headers["content-type"]
    # A replay is framed like the first reply (keep-alive clients read it by its length).
    assert again.headers["content-length"] == str(len(again.content))
    assert "transfer-encoding" not in again.headers
    assert await _count(db, user.id) == 1


async def test_the_same_key_with_another_body_is_422(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(db, 1)
    user = await make_user(db, community=tree.communities[0])
    headers = {**await login(client, user), "Idempotency-Key": f"k-{uuid.uuid4()}"}

    assert (
        await client.post("/api/v1/proposals", json=_proposal("加装电梯"), headers=headers)
    ).status_code == 201
    other = await client.post("/api/v1/proposals", json=_proposal("增设座椅"), headers=headers)

    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["code"] == "idempotency_key_reused"
    assert await _count(db, user.id) == 1


async def test_a_repeat_while_the_first_is_running_is_409(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(db, 1)
    user = await make_user(db, community=tree.communities[0])
    key = f"k-{uuid.uuid4()}"
    headers = {**await login(client, user), "Idempotency-Key": key}
    # The first request holds the key's claim (its transaction has not ended): as a request in
    # flight does, this transaction holds the key's advisory lock.
    async with db() as session, session.begin():
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:s || chr(31) || :k, 7))"),
            {"s": str(user.id), "k": key},
        )
        repeat = await client.post("/api/v1/proposals", json=_proposal(), headers=headers)
        assert repeat.status_code == 409
        assert repeat.json()["code"] == "request_in_progress"
        assert await _count(db, user.id) == 0
    # Once the first is over (here: it died before its commit), the key is free again.
    again = await client.post("/api/v1/proposals", json=_proposal(), headers=headers)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert await _count(db, user.id) == 1


async def test_keys_are_scoped_per_caller(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(db, 1)
    alice = await make_user(db, community=tree.communities[0])
    bob = await make_user(db, community=tree.communities[0])
    key = f"shared-{uuid.uuid4()}"

    for user in (alice, bob):
        headers = {**await login(client, user), "Idempotency-Key": key}
        reply = await client.post("/api/v1/proposals", json=_proposal(), headers=headers)
        assert reply.status_code == 201, reply.text
        assert "idempotent-replayed" not in reply.headers
        assert reply.json()["is_mine"] is True

    assert await _count(db, alice.id) == 1
    assert await _count(db, bob.id) == 1


async def test_a_refused_request_is_replayed_too_and_a_bad_key_is_400(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(db, 1)
    user = await make_user(db, community=tree.communities[0])
    headers = {**await login(client, user), "Idempotency-Key": f"k-{uuid.uuid4()}"}
    bad = {**_proposal(), "category": "no-such-category"}

    first = await client.post("/api/v1/proposals", json=bad, headers=headers)
    again = await client.post("/api/v1/proposals", json=bad, headers=headers)
    assert first.status_code == again.status_code == 422
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()

    invalid = await client.post(
        "/api/v1/proposals",
        json=_proposal(),
        headers={**headers, "Idempotency-Key": "has a space"},
    )
    assert invalid.status_code == 400
    assert invalid.json()["code"] == "invalid_idempotency_key"
    assert await _count(db, user.id) == 0
