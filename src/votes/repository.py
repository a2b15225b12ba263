"""All SQL of votes. The ballot itself is one hand-written statement on the raw asyncpg
connection of the request's unit of work: it is the hottest write of the system (thousands of
residents within minutes)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.idempotency import insert_sql, stored_sql
from src.events.eligibility import refusal_sql
from src.models.event import EventDisplayLink

# One statement, one round trip, atomic (it runs on its own, without BEGIN/COMMIT): lock the
# meeting FOR KEY SHARE (a close takes FOR UPDATE and waits for ballots in flight), check the
# caller by the one eligibility rule (``refusal_sql``; the sign-in must not be revoked), then
# record the voter, the ballot and, when the request has an Idempotency-Key, its sealed reply
# (src/core/idempotency.py) together: a reply exists only for a recorded ballot. The primary
# key of ballot_voters makes a second ballot impossible; ON CONFLICT waits for a racing twin
# (a double tap) and does nothing. A key whose reply is stored already records nothing and
# returns that reply (``earlier``).
_CAST = f"""
WITH ev AS (
    SELECT status FROM events WHERE id = $1 FOR KEY SHARE
), earlier AS (
    {stored_sql("$9", "$10", "$15::int")}
), who AS (
    SELECT u.id
    FROM users u
    JOIN auth_families f ON f.id = $3 AND f.user_id = u.id AND f.revoked_at IS NULL
    WHERE u.id = $2 AND ({refusal_sql("$1", "$4::uuid", "$5::boolean")}) IS NULL
), voter AS (
    INSERT INTO ballot_voters (event_id, user_id)
    SELECT $1, who.id FROM who, ev
    WHERE ev.status = 'open' AND NOT EXISTS (SELECT 1 FROM earlier)
    ON CONFLICT DO NOTHING
    RETURNING 1
), ballot AS (
    INSERT INTO ballots (id, event_id, receipt, option_ids)
    SELECT $6, $1, $7, $8::uuid[] FROM voter
    RETURNING 1
), reply AS ({insert_sql(9, source="voter WHERE $9::text IS NOT NULL")})
SELECT (SELECT status::text FROM ev) AS status,
       EXISTS (SELECT 1 FROM who) AS eligible,
       EXISTS (SELECT 1 FROM ballot) AS inserted,
       earlier.fingerprint, earlier.response_status, earlier.response_headers,
       earlier.response_body
FROM (SELECT 1) AS one LEFT JOIN earlier ON true
"""
_RULES = """
SELECT e.community_id, e.status::text AS status, e.kind::text AS kind, e.voting,
       array(SELECT o.id FROM event_options o WHERE o.event_id = e.id) AS option_ids
FROM events e WHERE e.id = $1
"""


@dataclass(frozen=True)
class CastOutcome:
    status: str | None  # the meeting's status, None when it does not exist
    eligible: bool
    inserted: bool
    earlier: Any  # the stored reply of the request's Idempotency-Key, when there was one


async def cast(
    conn: Any,
    *,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    community_id: uuid.UUID,
    need_check_in: bool,
    ballot_id: uuid.UUID,
    receipt: str,
    option_ids: list[uuid.UUID],
    reply: list[Any] | None,
) -> CastOutcome:
    """``reply``: the Idempotency-Key's reply as ``Claim.reply_args`` gives it, or None."""
    row = await conn.fetchrow(
        _CAST,
        event_id,
        user_id,
        family_id,
        community_id,
        need_check_in,
        ballot_id,
        receipt,
        option_ids,
        *(reply or [None] * 6 + [0]),
    )
    assert row is not None
    earlier = row if row["response_status"] is not None else None
    return CastOutcome(row["status"], row["eligible"], row["inserted"], earlier)


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
