"""All SQL of votes. The ballot itself goes through a small asyncpg pool in one statement:
it is the hottest write of the system (thousands of residents within minutes)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.db import to_async_url

# One statement, one round trip, atomic: lock the meeting FOR KEY SHARE (a close takes FOR
# UPDATE and waits for ballots in flight), check the caller exactly as ``ensure_eligible``
# does (verified resident of the community, sign-in not revoked, checked in when the rule
# asks), then record the voter and the ballot together. The primary key of ballot_voters
# makes a second ballot impossible; ON CONFLICT waits for a racing twin and does nothing.
_CAST = """
WITH ev AS (
    SELECT status FROM events WHERE id = $1 FOR KEY SHARE
), who AS (
    SELECT u.id
    FROM users u
    JOIN auth_families f ON f.id = $3 AND f.user_id = u.id AND f.revoked_at IS NULL
    WHERE u.id = $2 AND NOT u.disabled AND u.verified AND u.home_community_id = $4
      AND (NOT $5::boolean OR EXISTS (
            SELECT 1 FROM event_check_ins c WHERE c.event_id = $1 AND c.user_id = u.id))
), voter AS (
    INSERT INTO ballot_voters (event_id, user_id, replay_tag, replay_sealed)
    SELECT $1, who.id, $6, $7 FROM who, ev WHERE ev.status = 'open'
    ON CONFLICT DO NOTHING
    RETURNING 1
), ballot AS (
    INSERT INTO ballots (id, event_id, receipt, option_ids)
    SELECT $8, $1, $9, $10::uuid[] FROM voter
    RETURNING 1
)
SELECT (SELECT status::text FROM ev) AS status,
       EXISTS (SELECT 1 FROM who) AS eligible,
       EXISTS (SELECT 1 FROM ballot) AS inserted
"""
_REPLAY = "SELECT replay_tag, replay_sealed FROM ballot_voters WHERE event_id = $1 AND user_id = $2"
_BALLOT_OPTIONS = "SELECT option_ids FROM ballots WHERE id = $1 AND event_id = $2"
_RULES = """
SELECT e.community_id, e.status::text AS status, e.kind::text AS kind, e.voting,
       array(SELECT o.id FROM event_options o WHERE o.event_id = e.id) AS option_ids
FROM events e WHERE e.id = $1
"""


def pool_dsn(database_url: str) -> str:
    return "postgresql://" + to_async_url(database_url).removeprefix("postgresql+asyncpg://")


async def create_pool(database_url: str, size: int) -> asyncpg.Pool:
    async def init(conn: asyncpg.Connection) -> None:
        await conn.set_type_codec(
            "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )

    pool = await asyncpg.create_pool(
        pool_dsn(database_url),
        min_size=0,  # connect on first use: the app starts while the database is away
        max_size=size,
        init=init,
        server_settings={"application_name": "lifecircle-ballots", "timezone": "UTC"},
    )
    assert pool is not None
    return pool


@dataclass(frozen=True)
class CastOutcome:
    status: str | None  # the meeting's status, None when it does not exist
    eligible: bool
    inserted: bool


async def cast(
    pool: asyncpg.Pool,
    *,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    community_id: uuid.UUID,
    need_check_in: bool,
    replay_tag: bytes | None,
    replay_sealed: bytes | None,
    ballot_id: uuid.UUID,
    receipt: str,
    option_ids: list[uuid.UUID],
) -> CastOutcome:
    row = await pool.fetchrow(
        _CAST,
        event_id,
        user_id,
        family_id,
        community_id,
        need_check_in,
        replay_tag,
        replay_sealed,
        ballot_id,
        receipt,
        option_ids,
    )
    assert row is not None
    return CastOutcome(row["status"], bool(row["eligible"]), bool(row["inserted"]))


async def replay_of(
    pool: asyncpg.Pool, event_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[bytes | None, bytes | None] | None:
    row = await pool.fetchrow(_REPLAY, event_id, user_id)
    return None if row is None else (row["replay_tag"], row["replay_sealed"])


async def ballot_options(
    pool: asyncpg.Pool, event_id: uuid.UUID, ballot_id: uuid.UUID
) -> list[uuid.UUID] | None:
    row = await pool.fetchrow(_BALLOT_OPTIONS, ballot_id, event_id)
    return None if row is None else list(row["option_ids"])


async def ballot_rules(pool: asyncpg.Pool, event_id: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow(_RULES, event_id)
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
