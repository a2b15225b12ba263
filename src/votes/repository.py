"""All SQL of votes. Ballots are hand-written statements on raw asyncpg connections of the
ballot batcher (src/votes/batcher.py): the hottest write of the system (thousands of residents
within minutes), written a batch per transaction for secrecy (src/votes/secrecy.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.idempotency import insert_rows_sql, stored_sql
from src.events.eligibility import refusal_sql
from src.models.event import EventDisplayLink
from src.votes.secrecy import Choice

# The ballots of one meeting in a batch (src/votes/batcher.py), inside the batch's transaction.
# One statement: lock the meeting FOR KEY SHARE (a close takes FOR UPDATE and waits for the
# batches in flight), check each caller by the one eligibility rule (``refusal_sql``; the
# sign-in must not be revoked), look up each Idempotency-Key's stored reply (``stored_sql``),
# record the voters that may vote and have no reply yet, store the (sealed) first replies of
# those recorded (``insert_rows_sql``: a reply exists only with its voter row), and, when a
# voter was recorded, take out the meeting's waiting sealed ballots (rows another batch is
# taking right now are left to it) to be written with this batch's. The primary key of
# ballot_voters makes a second ballot impossible; ON CONFLICT waits for a racing twin (a double
# tap in another worker) and does nothing. Voters are inserted in one order for every batch (by
# user id, not by arrival): two batches holding each other's twins would otherwise deadlock.
# The ballots themselves are written by a later statement of the same transaction, in shuffled
# order (``write_ballots``), so that nothing of their writing follows the order of the voters.
# One statement, not five: a twin in another worker waits for this transaction to commit, and
# every round trip inside it is a turn of a busy event loop.
# Every lookup is by primary key, one item at a time (``LATERAL … LIMIT 1``: a nested loop of
# index probes whatever the statistics say). Joined as sets, the plan followed the tables'
# sizes: idempotency_keys was seq-scanned for every batch by a generic plan made while it was
# small (PostgreSQL's CPU per ballot grew meeting by meeting), and auth_families whole.
_VOTERS = f"""
WITH ev AS (
    SELECT status FROM events WHERE id = $1 FOR KEY SHARE
), item AS (
    SELECT * FROM unnest($4::int[], $5::uuid[], $6::uuid[], $7::text[], $8::text[],
                         $10::text[], $11::int[], $12::text[], $13::bytea[])
           AS t(i, user_id, family_id, scope, key, fingerprint, status, headers, body)
), earlier AS (
    SELECT item.i, k.*
    FROM item CROSS JOIN LATERAL ({stored_sql("item.scope", "item.key", "$9::int")}) AS k
    WHERE item.key IS NOT NULL
), who AS (
    SELECT item.i, w.id
    FROM item CROSS JOIN LATERAL (
        SELECT u.id FROM users u
        JOIN auth_families f ON f.id = item.family_id AND f.user_id = u.id
        WHERE u.id = item.user_id AND f.revoked_at IS NULL
          AND ({refusal_sql("$1", "$2::uuid", "$3::boolean")}) IS NULL
        LIMIT 1
    ) AS w
), voter AS (
    INSERT INTO ballot_voters (event_id, user_id)
    SELECT $1, who.id FROM who, ev
    WHERE ev.status = 'open' AND NOT EXISTS (SELECT 1 FROM earlier WHERE earlier.i = who.i)
    ORDER BY who.id
    ON CONFLICT DO NOTHING
    RETURNING user_id
), reply AS ({
    insert_rows_sql(
        "SELECT item.scope, item.key, item.fingerprint, item.status, "
        "CAST(item.headers AS jsonb), item.body "
        "FROM item JOIN voter ON voter.user_id = item.user_id WHERE item.fingerprint IS NOT NULL",
        "$9::int",
    )
}), drained AS (
    DELETE FROM sealed_ballots WHERE event_id = $1 AND id IN (
        SELECT id FROM sealed_ballots
        WHERE event_id = $1 AND EXISTS (SELECT 1 FROM voter)
        FOR UPDATE SKIP LOCKED
    ) RETURNING sealed
)
SELECT item.i, (SELECT status::text FROM ev) AS status,
       who.i IS NOT NULL AS eligible, voter.user_id IS NOT NULL AS inserted,
       earlier.fingerprint, earlier.response_status, earlier.response_headers,
       earlier.response_body,
       (SELECT array_agg(sealed) FROM drained) AS drained
FROM item
LEFT JOIN who ON who.i = item.i
LEFT JOIN voter ON voter.user_id = item.user_id
LEFT JOIN earlier ON earlier.i = item.i
"""
_BALLOTS = """
INSERT INTO ballots (id, event_id, receipt, option_ids)
SELECT t.id, $1, t.receipt, t.options::uuid[]
FROM unnest($2::uuid[], $3::text[], $4::text[]) AS t(id, receipt, options)
"""
_SEALED = """
INSERT INTO sealed_ballots (id, event_id, sealed)
SELECT t.id, $1, t.sealed FROM unnest($2::uuid[], $3::bytea[]) AS t(id, sealed)
"""
_RULES = """
SELECT e.community_id, e.status::text AS status, e.kind::text AS kind, e.voting,
       array(SELECT o.id FROM event_options o WHERE o.event_id = e.id) AS option_ids
FROM events e WHERE e.id = $1
"""


@dataclass(frozen=True)
class Caster:
    """One ballot request of a batch: who, with which sign-in, and the Idempotency-Key's
    scope, stored key and first reply (None without a key)."""

    user_id: uuid.UUID
    family_id: uuid.UUID
    scope: str | None
    key: str | None
    # The sealed first reply to store when the voter is recorded (``Claim.reply_args``):
    # scope, key, fingerprint, status, headers, body, ttl; None without a key.
    reply: list[Any] | None = None


@dataclass(frozen=True)
class CastOutcome:
    status: str | None  # the meeting's status, None when it does not exist
    eligible: bool
    inserted: bool
    earlier: Any  # the stored reply of the request's Idempotency-Key, when there was one


async def record_voters(
    conn: Any,
    *,
    event_id: uuid.UUID,
    community_id: uuid.UUID,
    need_check_in: bool,
    casters: list[Caster],
    ttl_s: int,
) -> tuple[list[CastOutcome], list[bytes]]:
    """Record the voters of a batch and their replies (see ``_VOTERS``): one outcome per
    caster, in order, and the sealed ballots taken out to be written with the new ones."""

    def part(n: int) -> list[Any]:
        return [c.reply[n] if c.reply is not None else None for c in casters]

    rows = await conn.fetch(
        _VOTERS,
        event_id,
        community_id,
        need_check_in,
        list(range(len(casters))),
        [c.user_id for c in casters],
        [c.family_id for c in casters],
        [c.scope for c in casters],
        [c.key for c in casters],
        ttl_s,
        part(2),
        part(3),
        part(4),
        part(5),
    )
    by_index = {r["i"]: r for r in rows}
    outcomes = []
    for i in range(len(casters)):
        row = by_index[i]
        earlier = row if row["response_status"] is not None else None
        outcomes.append(CastOutcome(row["status"], row["eligible"], row["inserted"], earlier))
    drained = list(rows[0]["drained"] or []) if rows else []
    return outcomes, drained


async def write_ballots(conn: Any, event_id: uuid.UUID, choices: list[Choice]) -> None:
    """Ballots in clear, in the order given (the caller shuffles)."""
    await conn.execute(
        _BALLOTS,
        event_id,
        [c.ballot_id for c in choices],
        [c.receipt for c in choices],
        ["{" + ",".join(str(o) for o in c.option_ids) + "}" for c in choices],
    )


async def write_sealed(conn: Any, event_id: uuid.UUID, sealed: list[bytes]) -> None:
    await conn.execute(_SEALED, event_id, [uuid.uuid4() for _ in sealed], sealed)


async def ballot_rules(conn: Any, event_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(_RULES, event_id)
    return None if row is None else dict(row)


# --- through the request's session ------------------------------------------------------


async def has_voted(session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    found = await session.scalar(
        text("SELECT 1 FROM ballot_voters WHERE event_id = :e AND user_id = :u"),
        {"e": event_id, "u": user_id},
    )
    return found is not None


async def receipts(
    session: AsyncSession, event_id: uuid.UUID, after: str | None, limit: int
) -> list[tuple[str, list[uuid.UUID]]]:
    rows = await session.execute(
        text(
            "SELECT receipt, option_ids FROM ballots WHERE event_id = :e "
            "AND (CAST(:after AS text) IS NULL OR receipt > :after) "
            "ORDER BY receipt LIMIT :limit"
        ),
        {"e": event_id, "after": after, "limit": limit + 1},
    )
    return [(r.receipt, list(r.option_ids)) for r in rows]


async def receipt(session: AsyncSession, event_id: uuid.UUID, value: str) -> list[uuid.UUID] | None:
    row = (
        await session.execute(
            text("SELECT option_ids FROM ballots WHERE event_id = :e AND receipt = :r"),
            {"e": event_id, "r": value},
        )
    ).first()
    return None if row is None else list(row.option_ids)


async def set_paper_counts(
    session: AsyncSession,
    event_id: uuid.UUID,
    counts: dict[uuid.UUID, int],
    note: str | None,
    entered_by: uuid.UUID,
) -> None:
    for option_id, votes in counts.items():
        await session.execute(
            text(
                """
                INSERT INTO paper_counts (event_id, option_id, votes, note, entered_by)
                VALUES (:e, :o, :v, :note, :by)
                ON CONFLICT (event_id, option_id) DO UPDATE
                   SET votes = excluded.votes, note = excluded.note,
                       entered_by = excluded.entered_by, entered_at = now()
                """
            ),
            {"e": event_id, "o": option_id, "v": votes, "note": note, "by": entered_by},
        )


# --- display links (the projector's) ----------------------------------------------------------


async def add_display_link(
    session: AsyncSession, event_id: uuid.UUID, token_hash: bytes, created_by: uuid.UUID
) -> EventDisplayLink:
    link = EventDisplayLink(event_id=event_id, token_hash=token_hash, created_by=created_by)
    session.add(link)
    await session.flush()
    await session.refresh(link)
    return link


async def display_link_by_hash(session: AsyncSession, token_hash: bytes) -> EventDisplayLink | None:
    found: EventDisplayLink | None = await session.scalar(
        select(EventDisplayLink).where(EventDisplayLink.token_hash == token_hash)
    )
    return found


async def display_link(
    session: AsyncSession, event_id: uuid.UUID, link_id: uuid.UUID, *, lock: bool = False
) -> EventDisplayLink | None:
    query = select(EventDisplayLink).where(
        EventDisplayLink.id == link_id, EventDisplayLink.event_id == event_id
    )
    if lock:
        query = query.with_for_update()
    found: EventDisplayLink | None = await session.scalar(query)
    return found


async def display_links(session: AsyncSession, event_id: uuid.UUID) -> list[EventDisplayLink]:
    rows = await session.scalars(
        select(EventDisplayLink)
        .where(EventDisplayLink.event_id == event_id)
        .order_by(EventDisplayLink.created_at.desc(), EventDisplayLink.id)
    )
    return list(rows)
