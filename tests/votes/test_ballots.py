"""Ballots: one per eligible resident (even under racing double taps), retries that get the
first reply, and every bad input with its own code."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.app import create_app
from src.config import Settings
from src.core import twins
from src.core.db import driver_connection
from src.core.twins import table_path
from src.votes import repository
from src.votes.batcher import Cast
from src.votes.service import RulesCache
from tests.core.helpers import serve
from tests.events.helpers import create_event, make_world
from tests.votes.helpers import OPTIONS, coordination, counts, vote


async def test_a_whole_vote(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="live")
    first = await vote(client, w.h["resident"], eid, [opts[0]])
    assert first.status_code == 201, first.text
    receipt = first.json()["receipt"]
    assert uuid.UUID(first.json()["ballot_id"]).version == 4
    assert len(receipt) == 19
    second = await vote(client, w.h["neighbour"], eid, [opts[1]])
    assert second.status_code == 201

    results = (await client.get(f"/api/v1/events/{eid}/results", headers=w.h["resident"])).json()
    assert results["final"] is False and results["hidden"] is False
    assert results["eligible_count"] == 2 and results["voters"] == 2
    assert results["turnout"] == 1.0 and results["quorum_met"] is True
    # Two ballots are no crowd: they wait sealed, out of the option counts, until close.
    assert [(o["id"], o["votes"], o["share"]) for o in results["options"]] == [
        (opts[0], 0, 0.0),
        (opts[1], 0, 0.0),
        (opts[2], 0, 0.0),
    ]
    mine = await client.get(f"/api/v1/events/{eid}/ballots/mine", headers=w.h["resident"])
    assert mine.status_code == 200 and mine.json()["voted"] is True
    detail = await client.get(f"/api/v1/events/{eid}", headers=w.h["resident"])
    assert detail.json()["voter_count"] == 2

    early = await client.get(f"/api/v1/events/{eid}/receipts", headers=w.h["resident"])
    assert early.status_code == 409 and early.json()["code"] == "event_not_closed"
    closed = await client.post(f"/api/v1/events/{eid}/close", headers=w.h["committee"])
    assert closed.status_code == 200

    final = (await client.get(f"/api/v1/events/{eid}/results", headers=w.h["resident"])).json()
    assert final["final"] is True and final["voters"] == 2
    published = await client.get(f"/api/v1/events/{eid}/receipts", headers=w.h["outsider"])
    assert published.status_code == 404  # another community's meeting
    published = await client.get(f"/api/v1/events/{eid}/receipts", headers=w.h["neighbour"])
    items = published.json()["items"]
    assert sorted(i["receipt"] for i in items) == [i["receipt"] for i in items]
    assert {i["receipt"]: i["option_ids"] for i in items}[receipt] == [opts[0]]
    # Anyone can recount from the receipts.
    recount = {o: sum(o in i["option_ids"] for i in items) for o in opts}
    assert recount == {o["id"]: o["votes"] for o in final["options"]}
    by_receipt = await client.get(
        f"/api/v1/events/{eid}/ballots/mine",
        params={"receipt": receipt.lower()},
        headers=w.h["resident"],
    )
    assert by_receipt.json()["ballot"] == {"receipt": receipt, "option_ids": [opts[0]]}
    not_voted = await client.get(f"/api/v1/events/{eid}/ballots/mine", headers=w.h["committee"])
    assert not_voted.status_code == 404 and not_voted.json()["code"] == "no_vote"
    late = await vote(client, w.h["unverified"], eid, [opts[0]])
    assert late.status_code in (403, 409)


async def test_racing_double_taps_count_once(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w)
    replies = await asyncio.gather(
        *(vote(client, w.h["resident"], eid, [opts[i % 3]]) for i in range(24))
    )
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [201] + [409] * 23
    assert {r.json()["code"] for r in replies if r.status_code == 409} == {"already_voted"}
    assert await counts(db, eid) == (1, 1)

    # The same ballot sent many times at once with one key (a double tap that is also a retry):
    # one ballot, and every copy gets the first reply (a copy waits for its twin's one
    # statement, then reads the reply it stored).
    same = await asyncio.gather(
        *(vote(client, w.h["neighbour"], eid, [opts[2]], key="tap-1") for _ in range(12))
    )
    assert {r.status_code for r in same} == {201}
    assert len({(r.json()["ballot_id"], r.json()["receipt"]) for r in same}) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in same) == 1
    assert await counts(db, eid) == (2, 2)


async def test_a_double_tap_in_one_worker_waits_for_the_first_reply(
    app: Litestar,
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w)
    batcher = app.state.ballot_batcher
    queued: list[uuid.UUID] = []
    cast = batcher.cast

    async def counted(item: Cast) -> Any:
        queued.append(item.user_id)
        return await cast(item)

    monkeypatch.setattr(batcher, "cast", counted)
    taps = await asyncio.gather(
        *(vote(client, w.h["resident"], eid, [opts[1]], key="tap-twin") for _ in range(5))
    )
    assert [r.status_code for r in taps] == [201] * 5
    assert len({r.content for r in taps}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in taps) == 4
    assert queued == [w.resident.id]  # the copies never reached a batch
    assert await counts(db, eid) == (1, 1)

    # A first request that is refused hands nothing over: each copy gets its own answer.
    refused = await asyncio.gather(
        *(vote(client, w.h["neighbour"], eid, [opts[0], opts[1]], key="tap-2") for _ in range(3))
    )
    assert {(r.status_code, r.json()["code"]) for r in refused} == {(422, "too_many_choices")}
    assert await counts(db, eid) == (1, 1)


async def test_a_double_tap_across_two_workers_is_one_ballot(
    app: Litestar,
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The copies of a double tap land in two workers of one host (a socket each): one
    ballot, one batch item, the other copies answered with the first reply from the table of
    twins, which holds no reply in clear and none once the worker stops."""
    w = await make_world(db, client)
    eid, opts = await coordination(client, w)
    other = create_app(settings)
    queued: list[uuid.UUID] = []
    async with serve(other) as second:
        assert other.state.twins.region != app.state.twins.region  # two workers, one table
        for batcher in (app.state.ballot_batcher, other.state.ballot_batcher):
            cast = batcher.cast

            async def counted(item: Cast, cast: Any = cast) -> Any:
                queued.append(item.user_id)
                return await cast(item)

            monkeypatch.setattr(batcher, "cast", counted)
        taps = await asyncio.gather(
            *(
                vote(http, w.h["resident"], eid, [opts[2]], key="tap-far")
                for http in (client, second, second, client)
            )
        )
        assert [r.status_code for r in taps] == [201] * 4
        assert len({r.content for r in taps}) == 1
        assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in taps) == 3
        assert queued == [w.resident.id]  # the copies in either worker never reached a batch
        assert await counts(db, eid) == (1, 1)
        receipt = taps[0].json()["receipt"].encode()
        assert receipt not in _table(settings)  # sealed: only the key opens it

        # A first request that is refused hands nothing over, to either worker.
        refused = await asyncio.gather(
            *(
                vote(http, w.h["neighbour"], eid, [opts[0], opts[1]], key="tap-far-2")
                for http in (second, client, second)
            )
        )
        assert {(r.status_code, r.json()["code"]) for r in refused} == {(422, "too_many_choices")}
        assert not any("Idempotent-Replayed" in r.headers for r in refused)  # each its own
        assert await counts(db, eid) == (1, 1)
        region = other.state.twins.region
    start = twins.HEADER_BYTES + region * twins.REGION_BYTES
    assert _table(settings)[start : start + twins.REGION_BYTES] == bytes(twins.REGION_BYTES)


def _table(settings: Settings) -> bytes:
    """The host's table of twins, as the other workers see it."""
    with open(table_path(settings.database_url or "", settings.secret_key), "rb") as table:
        return table.read()


async def test_retry_gets_the_first_reply(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, method="multiple", max_choices=2)
    first = await vote(client, w.h["resident"], eid, [opts[0], opts[2]], key="k-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    retry = await vote(client, w.h["resident"], eid, [opts[0], opts[2]], key="k-1")
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    changed = await vote(client, w.h["resident"], eid, [opts[1]], key="k-1")
    assert changed.status_code == 422 and changed.json()["code"] == "idempotency_key_reused"
    other_key = await vote(client, w.h["resident"], eid, [opts[0], opts[2]], key="k-2")
    assert other_key.status_code == 409 and other_key.json()["code"] == "already_voted"
    no_key = await vote(client, w.h["resident"], eid, [opts[0], opts[2]])
    assert no_key.status_code == 409
    # Keys are per voter: the neighbour's "k-1" is a fresh ballot.
    neighbour = await vote(client, w.h["neighbour"], eid, [opts[1]], key="k-1")
    assert neighbour.status_code == 201 and neighbour.json() != first.json()
    bad_key = await vote(client, w.h["unverified"], eid, [opts[1]], key="bad key")
    assert bad_key.status_code == 400 and bad_key.json()["code"] == "invalid_idempotency_key"
    assert await counts(db, eid) == (2, 2)


async def test_bad_ballots(client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]) -> None:
    w = await make_world(db, client)
    draft = await create_event(client, w.h["committee"], w.a, options=OPTIONS[:2])
    before = await vote(client, w.h["resident"], draft["id"], [draft["options"][0]["id"]])
    assert before.status_code == 409 and before.json()["code"] == "event_not_open"

    eid, opts = await coordination(client, w, method="multiple", max_choices=2)
    foreign = draft["options"][0]["id"]
    cases = [
        ([foreign], 422, "unknown_option"),
        ([str(uuid.uuid4())], 422, "unknown_option"),
        ([opts[0], opts[0]], 422, "duplicate_options"),
        (opts, 422, "too_many_choices"),
        ([], 422, "validation_failed"),
        (["not-a-uuid"], 422, "validation_failed"),
    ]
    for option_ids, status, code in cases:
        response = await vote(client, w.h["resident"], eid, option_ids)
        assert (response.status_code, response.json()["code"]) == (status, code), option_ids
    english = await vote(
        client, {**w.h["resident"], "Accept-Language": "en"}, eid, [opts[0], opts[0]]
    )
    assert english.json()["detail"] == "An option appears twice"

    unverified = await vote(client, w.h["unverified"], eid, [opts[0]])
    assert unverified.status_code == 403 and unverified.json()["code"] == "not_eligible"
    outsider = await vote(client, w.h["outsider"], eid, [opts[0]])
    assert outsider.status_code == 404
    staff = await vote(client, w.h["committee"], eid, [opts[0]])
    assert staff.status_code == 403 and staff.json()["code"] == "not_eligible"
    anonymous = await client.post(f"/api/v1/events/{eid}/ballots", json={"option_ids": [opts[0]]})
    assert anonymous.status_code == 401
    forged = await vote(client, {"Authorization": "Bearer x.y.z"}, eid, [opts[0]])
    assert forged.status_code == 401
    missing = await vote(client, w.h["resident"], str(uuid.uuid4()), [opts[0]])
    assert missing.status_code == 404
    review = await create_event(client, w.h["committee"], w.a, kind="review", open_it=True)
    no_vote = await vote(client, w.h["resident"], review["id"], [opts[0]])
    assert no_vote.status_code == 404 and no_vote.json()["code"] == "no_vote"
    assert await counts(db, eid) == (0, 0)

    await client.post(f"/api/v1/events/{eid}/close", headers=w.h["committee"])
    after = await vote(client, w.h["resident"], eid, [opts[0]])
    assert after.status_code == 409 and after.json()["code"] == "event_not_open"


async def test_checked_in_rule(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, eligibility="checked_in")
    refused = await vote(client, w.h["resident"], eid, [opts[0]])
    assert refused.status_code == 403 and refused.json()["code"] == "not_eligible"
    code = (
        await client.get(f"/api/v1/events/{eid}/check-in-code", headers=w.h["committee"])
    ).json()["code"]
    checked = await client.post(
        f"/api/v1/events/{eid}/check-ins", json={"code": code}, headers=w.h["resident"]
    )
    assert checked.status_code == 201
    accepted = await vote(client, w.h["resident"], eid, [opts[0]])
    assert accepted.status_code == 201
    results = (await client.get(f"/api/v1/events/{eid}/results", headers=w.h["committee"])).json()
    assert results["eligible_count"] == 1 and results["turnout"] == 1.0


async def test_secret_ballot_tables(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """Who voted and what was chosen share no column; the voter row holds no readable reply."""
    w = await make_world(db, client)
    eid, opts = await coordination(client, w)
    reply = await vote(client, w.h["resident"], eid, [opts[1]], key="secret-1")
    assert reply.status_code == 201
    async with db() as session:
        columns = {
            table: set(
                (
                    await session.scalars(
                        text(
                            "SELECT column_name FROM information_schema.columns "
                            "WHERE table_name = :t"
                        ),
                        {"t": table},
                    )
                ).all()
            )
            for table in ("ballots", "ballot_voters")
        }
        stored = (
            await session.execute(
                text(
                    "SELECT key, fingerprint, response_headers, response_body "
                    "FROM idempotency_keys WHERE scope = :s"
                ),
                {"s": str(w.resident.id)},
            )
        ).all()
    assert columns["ballots"] == {"id", "event_id", "receipt", "option_ids"}
    assert columns["ballot_voters"] == {"event_id", "user_id"}
    # The stored first reply neither names the client's key nor reads as the ballot.
    assert len(stored) == 1
    sealed = stored[0]
    ballot_id = uuid.UUID(reply.json()["ballot_id"])
    assert sealed.key != "secret-1" and "secret-1" not in sealed.key
    assert sealed.response_headers is None
    body = bytes(sealed.response_body)
    assert str(ballot_id).encode() not in body and ballot_id.bytes not in body
    assert reply.json()["receipt"].encode() not in body
    assert b"receipt" not in body


async def test_a_meetings_first_ballots_look_its_rules_up_once(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w)
    looks: list[Any] = []
    look = repository.ballot_rules

    async def counted(conn: Any, event_id: uuid.UUID) -> Any:
        looks.append(event_id)
        await asyncio.sleep(0.05)  # the hall's other phones arrive meanwhile
        return await look(conn, event_id)

    monkeypatch.setattr(repository, "ballot_rules", counted)
    cache = RulesCache()
    async with db() as session:
        conn = await driver_connection(session)
        found = await asyncio.gather(*(cache.get(conn, uuid.UUID(eid)) for _ in range(20)))
    assert looks == [uuid.UUID(eid)]
    assert {frozenset(str(o) for o in f.option_ids) for f in found if f} == {frozenset(opts)}
    assert len(found) == 20 and all(found)
