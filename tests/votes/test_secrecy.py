"""Ballot secrecy against someone who reads the database (docs/ballot-secrecy.md), tested the
way a hostile reader would look: system columns (``xmin``), physical order (``ctid``), index
pages and raw heap pages (``pageinspect``, as a superuser), the idempotency table and the
logs. Before close a voter is tied at most to a crowd of ``CROWD`` ballots; after close to
none."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.votes.secrecy import CROWD
from tests.events.helpers import make_world
from tests.votes.helpers import coordination, counts, more_residents, vote


async def _pg(settings: Settings) -> Any:
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url)
    await conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
    return conn


async def _voter_xmins(conn: Any, eid: str) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT user_id::text AS u, xmin::text AS x FROM ballot_voters WHERE event_id = $1",
        uuid.UUID(eid),
    )
    return {r["u"]: r["x"] for r in rows}


async def _ballots_by_xmin(conn: Any, eid: str) -> Counter[str]:
    rows = await conn.fetch(
        "SELECT xmin::text AS x FROM ballots WHERE event_id = $1", uuid.UUID(eid)
    )
    return Counter(r["x"] for r in rows)


async def _raw_pages(conn: Any, relation: str) -> bytes:
    """Every page of a relation as bytes, dead tuples and free space included."""
    pages = await conn.fetchval(
        "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int", relation
    )
    out = b""
    for page in range(pages):
        out += await conn.fetchval("SELECT get_raw_page($1, $2)", relation, page)
    return out


async def _heap_xmins(conn: Any, relation: str) -> list[int]:
    """t_xmin of every line pointer on every page (live or dead), as pageinspect shows them."""
    pages = await conn.fetchval(
        "SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int", relation
    )
    found: list[int] = []
    for page in range(pages):
        rows = await conn.fetch(
            "SELECT t_xmin FROM heap_page_items(get_raw_page($1, $2)) WHERE t_xmin IS NOT NULL",
            relation,
            page,
        )
        found += [int(r["t_xmin"]) for r in rows]
    return found


async def test_before_close_a_voter_hides_in_a_crowd(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """One by one (each ballot its own batch): the first four wait sealed, the fifth writes
    all five in clear at once; the next two wait again."""
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="live")
    voters = [w.h["resident"], w.h["neighbour"], *await more_residents(db, client, w, 5)]
    receipts = []
    for i, headers in enumerate(voters):
        reply = await vote(client, headers, eid, [opts[i % 3]], key=f"secret-{i}")
        assert reply.status_code == 201, reply.text
        receipts.append(reply.json()["receipt"])
    assert await counts(db, eid) == (7, 7)

    conn = await _pg(settings)
    try:
        xmins = await _voter_xmins(conn, eid)
        by_xmin = await _ballots_by_xmin(conn, eid)
        # xmin: every voter's transaction wrote no ballot in clear, or a crowd of them.
        linked = [by_xmin[x] for x in xmins.values() if by_xmin[x]]
        assert linked == [CROWD] and sum(by_xmin.values()) == CROWD
        # The sealed ones share their voter's transaction, but not the choice: random bytes,
        # all of one length, holding no option id and no receipt.
        sealed = await conn.fetch(
            "SELECT sealed, xmin::text AS x FROM sealed_ballots WHERE event_id = $1",
            uuid.UUID(eid),
        )
        assert len(sealed) == 2 and {r["x"] for r in sealed} <= set(xmins.values())
        assert len({len(r["sealed"]) for r in sealed}) == 1
        for row in sealed:
            blob = bytes(row["sealed"])
            for secret in [*opts, *receipts]:
                assert secret.encode() not in blob
            for o in opts:
                assert uuid.UUID(o).bytes not in blob
        # The ballots carry no voter and no time.
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'ballots'"
        )
        assert {c["column_name"] for c in columns} == {"id", "event_id", "receipt", "option_ids"}
        # The live tally counts the crowd only (the two sealed wait).
        results = await client.get(f"/api/v1/events/{eid}/results", headers=w.h["committee"])
        assert results.json()["voters"] == 7
        assert sum(o["online_votes"] for o in results.json()["options"]) == CROWD
        # The idempotency table: the sealed first replies name no ballot in clear.
        replies = await conn.fetch(
            "SELECT key, response_headers, response_body FROM idempotency_keys "
            "WHERE scope = ANY($1::text[])",
            list(xmins),
        )
        assert len(replies) == 7
        for row in replies:
            assert row["response_headers"] is None and not row["key"].startswith("secret-")
            for secret in receipts:
                assert secret.encode() not in bytes(row["response_body"])
    finally:
        await conn.close()


async def test_a_burst_writes_shuffled_batches(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """Twenty residents at once, each with a double tap (same key) and a different second
    ballot (other key): exactly one ballot each, the twins replay one reply, the other gets
    ``already_voted``; and still no voter is tied to fewer than a crowd."""
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="live")
    voters = [w.h["resident"], w.h["neighbour"], *await more_residents(db, client, w, 18)]
    requests = []
    for i, headers in enumerate(voters):
        requests += [
            vote(client, headers, eid, [opts[i % 3]], key=f"tap-{i}"),
            vote(client, headers, eid, [opts[i % 3]], key=f"tap-{i}"),
            vote(client, headers, eid, [opts[(i + 1) % 3]], key=f"other-{i}"),
        ]
    replies = await asyncio.gather(*requests)
    for i in range(len(voters)):
        twin_a, twin_b, other = replies[3 * i : 3 * i + 3]
        ok = [r for r in (twin_a, twin_b, other) if r.status_code == 201]
        # Either the twins won (both 201, one receipt) or the other ballot did.
        assert {r.json()["receipt"] for r in ok} and len({r.json()["receipt"] for r in ok}) == 1
        refused = [r for r in (twin_a, twin_b, other) if r.status_code != 201]
        assert {(r.status_code, r.json()["code"]) for r in refused} <= {
            (409, "already_voted"),
            (409, "request_in_progress"),
        }
    assert await counts(db, eid) == (20, 20)

    conn = await _pg(settings)
    try:
        xmins = await _voter_xmins(conn, eid)
        by_xmin = await _ballots_by_xmin(conn, eid)
        assert all(by_xmin[x] >= CROWD for x in xmins.values() if by_xmin[x])
        assert all(n >= CROWD for n in by_xmin.values())
    finally:
        await conn.close()


async def test_after_close_nothing_ties_a_voter_to_a_ballot(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    app: Litestar,
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="live")
    voters = [w.h["resident"], w.h["neighbour"], *await more_residents(db, client, w, 10)]
    receipts = []
    for i, headers in enumerate(voters):  # one by one: twelve batches, some sealed
        reply = await vote(client, headers, eid, [opts[i % 3]], key=f"close-{i}")
        receipts.append(reply.json()["receipt"])
    conn = await _pg(settings)
    try:
        batches = {int(x) for x in (await _voter_xmins(conn, eid)).values()}
        closed = await client.post(f"/api/v1/events/{eid}/close", headers=w.h["committee"])
        assert closed.status_code == 200
        # Until no older snapshot anywhere in the cluster can see the old rows (a shared
        # machine: other databases' long transactions hold them); only a guard against a hang.
        await asyncio.wait_for(app.state.ballot_scrubber.idle(), 600)

        # xmin: all ballots of the meeting come from one transaction, the close's, which
        # recorded no voter.
        by_xmin = await _ballots_by_xmin(conn, eid)
        assert sum(by_xmin.values()) == 12 and len(by_xmin) == 1
        assert not {int(x) for x in by_xmin} & batches
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM sealed_ballots WHERE event_id = $1", uuid.UUID(eid)
            )
            == 0
        )
        # pageinspect: no line pointer, live or dead, still carries a batch's transaction id.
        for relation in ("ballots", "sealed_ballots"):
            assert not set(await _heap_xmins(conn, relation)) & batches, relation
        # Raw pages, free space included: each receipt once (the live row), in the table and
        # in its receipt index; no dead copy left behind by the rewrite.
        heap = await _raw_pages(conn, "ballots")
        index = await _raw_pages(conn, "uq_ballots_receipt")
        for receipt in receipts:
            assert heap.count(receipt.encode()) == 1
            assert index.count(receipt.encode()) == 1
        # ctid order and the event index's order are the close's shuffle, not the batches'.
        ctid_order = [
            r["receipt"]
            for r in await conn.fetch(
                "SELECT receipt FROM ballots WHERE event_id = $1 ORDER BY ctid", uuid.UUID(eid)
            )
        ]
        assert sorted(ctid_order) == sorted(receipts)
        # The recount from the published receipts matches the final tally.
        final = (await client.get(f"/api/v1/events/{eid}/results", headers=w.h["committee"])).json()
        assert final["final"] is True
        assert [o["votes"] for o in final["options"]] == [4, 4, 4]
    finally:
        await conn.close()


async def test_logs_name_no_choice(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """The log lines of ballots (access log included) carry no option, receipt or ballot."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    try:
        w = await make_world(db, client)
        eid, opts = await coordination(client, w, results_visibility="live")
        voters = [w.h["resident"], w.h["neighbour"], *await more_residents(db, client, w, 3)]
        replies = [await vote(client, h, eid, [opts[1]], key="log-1") for h in voters]
    finally:
        root.removeHandler(keep)
        root.setLevel(old_level)
    secrets = [
        *opts,
        *(r.json()["receipt"] for r in replies),
        *(r.json()["ballot_id"] for r in replies),
    ]
    lines = [f"{r.getMessage()} {r.__dict__}" for r in records]
    assert any("/ballots" in line for line in lines)  # the access log saw them
    for line in lines:
        for secret in secrets:
            assert secret not in line
