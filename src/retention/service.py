"""What personal data is kept, and for how long (PIPL art. 19: no longer than needed).

Each rule deletes rows past their time, in batches (one short transaction each, so a large
purge never holds locks for long). ``now`` is passed in: tests use a fixed clock, the CLI
the wall clock. Deliberately kept: the audit log (append-only, the database refuses
deletes), ballots and tallies, suggestions and ratings (the public record of a community).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings


@dataclass(frozen=True)
class Rule:
    name: str
    why: str
    table: str
    where: str  # SQL condition with :cutoff


RULES: tuple[Rule, ...] = (
    Rule(
        "idempotency_keys",
        "stored replies of retried requests, past idempotency_ttl_s",
        "idempotency_keys",
        "created_at < :cutoff",
    ),
    Rule(
        "portal_webhook_nonces",
        "webhook nonces older than twice the allowed clock skew (a replay is refused by time)",
        "portal_webhook_nonces",
        "seen_at < :cutoff",
    ),
    Rule(
        "refresh_tokens",
        "refresh tokens expired for longer than retention_auth_days",
        "refresh_tokens",
        "expires_at < :cutoff",
    ),
    Rule(
        "auth_families",
        "sign-in sessions with no refresh token left, older than retention_auth_days",
        "auth_families",
        "created_at < :cutoff AND NOT EXISTS "
        "(SELECT 1 FROM refresh_tokens rt WHERE rt.family_id = auth_families.id)",
    ),
    Rule(
        "outbox_delivered",
        "portal messages delivered longer than retention_outbox_days ago",
        "outbox",
        "status = 'delivered' AND delivered_at < :cutoff",
    ),
    Rule(
        "portal_inbound_events",
        "webhook events received longer than retention_portal_events_days ago",
        "portal_inbound_events",
        "received_at < :cutoff",
    ),
    Rule(
        "notifications_read",
        "notifications read longer than retention_notifications_days ago",
        "notifications",
        "read_at < :cutoff",
    ),
)


def cutoffs(settings: Settings, now: dt.datetime) -> dict[str, dt.datetime]:
    """The instant before which each rule's rows go."""
    day = dt.timedelta(days=1)
    auth = now - settings.retention_auth_days * day
    return {
        "idempotency_keys": now - dt.timedelta(seconds=settings.idempotency_ttl_s),
        "portal_webhook_nonces": now - dt.timedelta(seconds=2 * settings.portal_webhook_max_skew_s),
        "refresh_tokens": auth,
        # A family outlives its last refresh token by at most one access token's life.
        "auth_families": auth - dt.timedelta(seconds=settings.access_token_ttl_s),
        "outbox_delivered": now - settings.retention_outbox_days * day,
        "portal_inbound_events": now - settings.retention_portal_events_days * day,
        "notifications_read": now - settings.retention_notifications_days * day,
    }


async def _delete_batch(session: AsyncSession, rule: Rule, cutoff: dt.datetime, size: int) -> int:
    result = await session.execute(
        text(
            # Table names and conditions are the constants above, never input.
            f"DELETE FROM {rule.table} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {rule.table} WHERE {rule.where} "
            "LIMIT :size FOR UPDATE SKIP LOCKED))"
        ),
        {"cutoff": cutoff, "size": size},
    )
    return int(getattr(result, "rowcount", 0))


async def purge(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: dt.datetime,
    *,
    batch_size: int = 5000,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Delete what is past its time; the number of rows deleted per rule."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    limits = cutoffs(settings, now)
    summary: dict[str, int] = {}
    for rule in RULES:
        total = 0
        while True:
            async with sessionmaker() as session, session.begin():
                deleted = await _delete_batch(session, rule, limits[rule.name], batch_size)
            total += deleted
            if progress is not None and deleted:
                progress(rule.name, total)
            if deleted < batch_size:
                break
        summary[rule.name] = total
    return summary
