"""All SQL of the portal adapter: outbox claims and outcomes, inbound events, nonces."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.ids import new_id
from src.models.area import Area, AreaLevel
from src.models.portal import PortalInboundEvent, PortalWebhookNonce
from src.models.system import OutboxItem
from src.models.user import User

PORTAL_ACTOR_ID = "system:city-portal"


@dataclass(frozen=True)
class Claimed:
    id: int
    topic: str
    ordering_key: str
    payload: dict[str, Any]
    attempts: int
    created_at: dt.datetime


# Only the oldest undelivered row of each ordering key may be claimed: a later change of a
# suggestion never overtakes an earlier one, even across workers, restarts and dead letters
# (a dead row holds its key until an admin retries it).
_CLAIM = text(
    """
    WITH due AS (
        SELECT o.id FROM outbox o
        WHERE o.status = 'pending'
          AND o.next_attempt_at <= now()
          AND (o.claimed_until IS NULL OR o.claimed_until < now())
          AND NOT EXISTS (
              SELECT 1 FROM outbox e
              WHERE e.ordering_key = o.ordering_key
                AND e.id < o.id
                AND e.status IN ('pending', 'failed')
          )
        ORDER BY o.next_attempt_at, o.id
        LIMIT :batch
        FOR UPDATE OF o SKIP LOCKED
    )
    UPDATE outbox SET claimed_until = now() + make_interval(secs => :lease_s),
                      claim_token = :token,
                      attempts = outbox.attempts + 1
    FROM due WHERE outbox.id = due.id
    RETURNING outbox.id, outbox.topic, outbox.ordering_key, outbox.payload, outbox.attempts,
              outbox.created_at
    """
)


async def claim(
    session: AsyncSession, *, batch: int, lease_s: float, token: uuid.UUID
) -> list[Claimed]:
    rows = await session.execute(_CLAIM, {"batch": batch, "lease_s": lease_s, "token": token})
    claimed = [
        Claimed(r.id, r.topic, r.ordering_key, r.payload, r.attempts, r.created_at) for r in rows
    ]
    return sorted(claimed, key=lambda c: c.id)


async def mark_delivered(session: AsyncSession, item_id: int, token: uuid.UUID) -> bool:
    result = await session.execute(
        text(
            "UPDATE outbox SET status = 'delivered', delivered_at = now(), claimed_until = NULL, "
            "claim_token = NULL, last_error = NULL "
            "WHERE id = :id AND claim_token = :token AND status = 'pending'"
        ),
        {"id": item_id, "token": token},
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_delivered_many(
    session: AsyncSession, item_ids: list[int], token: uuid.UUID
) -> int:
    """One statement for a batch; rows whose lease another worker took over are skipped."""
    if not item_ids:
        return 0
    result = await session.execute(
        text(
            "UPDATE outbox SET status = 'delivered', delivered_at = now(), claimed_until = NULL, "
            "claim_token = NULL, last_error = NULL "
            "WHERE id = ANY(:ids) AND claim_token = :token AND status = 'pending'"
        ),
        {"ids": item_ids, "token": token},
    )
    return int(getattr(result, "rowcount", 0))


async def schedule_retry(
    session: AsyncSession, item_id: int, token: uuid.UUID, delay_s: float, error: str
) -> bool:
    result = await session.execute(
        text(
            "UPDATE outbox SET next_attempt_at = now() + make_interval(secs => :delay), "
            "claimed_until = NULL, claim_token = NULL, last_error = :error "
            "WHERE id = :id AND claim_token = :token AND status = 'pending'"
        ),
        {"id": item_id, "token": token, "delay": delay_s, "error": error[:500]},
    )
    return bool(getattr(result, "rowcount", 0))


async def dead_letter(session: AsyncSession, item_id: int, token: uuid.UUID, error: str) -> bool:
    result = await session.execute(
        text(
            "UPDATE outbox SET status = 'failed', claimed_until = NULL, claim_token = NULL, "
            "last_error = :error WHERE id = :id AND claim_token = :token AND status = 'pending'"
        ),
        {"id": item_id, "token": token, "error": error[:500]},
    )
    return bool(getattr(result, "rowcount", 0))


async def forget_old_nonces(session: AsyncSession, older_than_s: int) -> int:
    result = await session.execute(
        text(
            "DELETE FROM portal_webhook_nonces "
            "WHERE seen_at < now() - make_interval(secs => :age)"
        ),
        {"age": older_than_s},
    )
    return int(getattr(result, "rowcount", 0))


# --- admin views --------------------------------------------------------------------------


async def list_outbox(
    session: AsyncSession,
    *,
    status: str | None,
    topic: str | None,
    ordering_key: str | None,
    before_id: int | None,
    limit: int,
) -> Sequence[OutboxItem]:
    query = select(OutboxItem).order_by(OutboxItem.id.desc()).limit(limit)
    if status:
        query = query.where(OutboxItem.status == status)
    if topic:
        query = query.where(OutboxItem.topic == topic)
    if ordering_key:
        query = query.where(OutboxItem.ordering_key == ordering_key)
    if before_id is not None:
        query = query.where(OutboxItem.id < before_id)
    return (await session.scalars(query)).all()


async def outbox_item_for_update(session: AsyncSession, item_id: int) -> OutboxItem | None:
    item: OutboxItem | None = await session.scalar(
        select(OutboxItem).where(OutboxItem.id == item_id).with_for_update()
    )
    return item


async def outbox_metrics(session: AsyncSession) -> Row[Any]:
    row = (
        await session.execute(
            text(
                """
                SELECT
                  count(*) FILTER (WHERE status = 'pending') AS pending,
                  count(*) FILTER (WHERE status = 'failed') AS failed,
                  count(*) FILTER (WHERE status = 'pending' AND next_attempt_at <= now())
                    AS due,
                  count(*) FILTER (WHERE status = 'pending' AND attempts > 0) AS retrying,
                  count(DISTINCT ordering_key) FILTER (WHERE status = 'failed')
                    AS blocked_keys,
                  extract(epoch FROM now() - min(created_at)
                          FILTER (WHERE status IN ('pending', 'failed'))) AS oldest_age_s
                FROM outbox WHERE status <> 'delivered'
                """
            )
        )
    ).one()
    return row


async def delivered_count(session: AsyncSession) -> int:
    # Cheap enough with ix_outbox_status_id; an exact count is what admins ask for.
    value = await session.scalar(text("SELECT count(*) FROM outbox WHERE status = 'delivered'"))
    return int(value or 0)


async def inbound_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        text("SELECT outcome, count(*) AS n FROM portal_inbound_events GROUP BY outcome")
    )
    return {r.outcome: int(r.n) for r in rows}


# --- inbound ------------------------------------------------------------------------------


async def remember_nonce(session: AsyncSession, nonce: str) -> bool:
    """False when the nonce was seen before (a replay)."""
    inserted = await session.scalar(
        insert(PortalWebhookNonce)
        .values(nonce=nonce)
        .on_conflict_do_nothing()
        .returning(PortalWebhookNonce.nonce)
    )
    return inserted is not None


async def claim_event(
    session: AsyncSession, event_id: str, type_: str, payload: dict[str, Any]
) -> bool:
    """Store the event id; False when it was applied (or refused) before."""
    inserted = await session.scalar(
        insert(PortalInboundEvent)
        .values(event_id=event_id, type=type_, outcome="received", payload=payload)
        .on_conflict_do_nothing()
        .returning(PortalInboundEvent.event_id)
    )
    return inserted is not None


async def inbound_event(session: AsyncSession, event_id: str) -> PortalInboundEvent | None:
    return await session.get(PortalInboundEvent, event_id)


async def community_by_code(session: AsyncSession, code: str) -> Area | None:
    area: Area | None = await session.scalar(
        select(Area).where(
            Area.code == code, Area.level == AreaLevel.community, Area.retired.is_(False)
        )
    )
    return area


async def upsert_portal_user(
    session: AsyncSession,
    *,
    portal_user_id: str,
    display_name: str,
    verified: bool,
    community_id: uuid.UUID | None,
) -> User:
    """Create or refresh the user of a portal identity (concurrent first sign-ins meet on the
    unique ``portal_user_id``). A known community replaces the home community; the portal
    saying nothing keeps it."""
    values: dict[str, Any] = {
        "portal_user_id": portal_user_id,
        "display_name": display_name,
        "verified": verified,
    }
    update: dict[str, Any] = {"verified": verified}
    if community_id is not None:
        values["home_community_id"] = community_id
        update["home_community_id"] = community_id
    user_id = await session.scalar(
        insert(User)
        .values(id=new_id(), **values)
        .on_conflict_do_update(index_elements=[User.portal_user_id], set_=update)
        .returning(User.id)
    )
    user = await session.get(User, user_id, populate_existing=True)
    assert user is not None
    return user


async def user_by_portal_id(session: AsyncSession, portal_user_id: str) -> User | None:
    user: User | None = await session.scalar(
        select(User).where(User.portal_user_id == portal_user_id).with_for_update()
    )
    return user


async def portal_actor(session: AsyncSession) -> uuid.UUID:
    """The user that stands for the portal in status histories (disabled: nobody signs in
    as it)."""
    await session.execute(
        insert(User)
        .values(
            id=new_id(),
            portal_user_id=PORTAL_ACTOR_ID,
            display_name="随申办市民云",
            verified=False,
            disabled=True,
        )
        .on_conflict_do_nothing(index_elements=[User.portal_user_id])
    )
    actor_id = await session.scalar(
        select(User.id).where(User.portal_user_id == PORTAL_ACTOR_ID)
    )
    assert actor_id is not None
    return actor_id
