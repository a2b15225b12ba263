"""Delivery of WeChat subscribe messages from the outbox (channel ``wechat``).

Claims due rows with a lease (``FOR UPDATE SKIP LOCKED``, as the portal worker does), sends
each through the WeChat adapter, records the outcome only while it still holds the lease:

- errcode 0: delivered;
- 43101 (no grant left / refused by the user) or a permanent error (bad openid or template):
  done, not retried — the grant is spent either way;
- anything else (network, 5xx, busy, rate limit): retried later with capped exponential
  backoff, dead-lettered (``failed``) after ``wechat_send_max_attempts``.

A row is only ever written for a used grant (src/identity/subscriptions.py), so a grant gives
at most one message; a reply lost after WeChat accepted a message makes the retry meet
WeChat's own quota (43101) instead of a second message.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.identity.wechat import REFUSED, HttpWeChatSender
from src.integrations.city_portal.worker import backoff_s

logger = logging.getLogger("lifecircle.wechat.worker")

_CLAIM = text(
    """
    WITH due AS (
        SELECT id FROM outbox
        WHERE channel = 'wechat' AND status = 'pending' AND next_attempt_at <= now()
          AND (claimed_until IS NULL OR claimed_until < now())
        ORDER BY next_attempt_at, id
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox SET claimed_until = now() + make_interval(secs => :lease_s),
                      claim_token = :token, attempts = outbox.attempts + 1
    FROM due WHERE outbox.id = due.id
    RETURNING outbox.id, outbox.payload, outbox.attempts
    """
)
_DONE = text(
    "UPDATE outbox SET status = CAST(:status AS varchar), "
    "delivered_at = CASE WHEN CAST(:status AS varchar) = 'delivered' "
    "THEN now() END, last_error = :error, claimed_until = NULL "
    "WHERE id = :id AND claim_token = :token"
)
_RETRY = text(
    "UPDATE outbox SET next_attempt_at = now() + make_interval(secs => :delay), "
    "last_error = :error, claimed_until = NULL WHERE id = :id AND claim_token = :token"
)


@dataclass
class SendStats:
    claimed: int = 0
    delivered: int = 0
    refused: int = 0
    retried: int = 0
    dead: int = 0


async def deliver_once(
    sessionmaker: async_sessionmaker[AsyncSession], sender: HttpWeChatSender, settings: Settings
) -> SendStats:
    """Claim one batch and deliver it; the network calls run outside any transaction."""
    stats = SendStats()
    token = uuid.uuid4()
    async with sessionmaker() as session, session.begin():
        rows = (
            await session.execute(
                _CLAIM,
                {
                    "batch": settings.wechat_send_batch,
                    "lease_s": settings.wechat_send_lease_s,
                    "token": token,
                },
            )
        ).all()
    stats.claimed = len(rows)
    for row in rows:
        result = await sender.send(row.payload["message"])
        error = None if result.errcode == 0 else f"{result.errcode} {result.errmsg}"[:500]
        async with sessionmaker() as session, session.begin():
            if result.errcode == 0:
                stats.delivered += 1
                await session.execute(
                    _DONE, {"status": "delivered", "error": None, "id": row.id, "token": token}
                )
            elif not result.retry or row.attempts >= settings.wechat_send_max_attempts:
                refused = result.errcode in REFUSED
                stats.refused += refused
                stats.dead += not refused
                await session.execute(
                    _DONE,
                    {
                        "status": "delivered" if refused else "failed",
                        "error": error,
                        "id": row.id,
                        "token": token,
                    },
                )
            else:
                stats.retried += 1
                delay = backoff_s(row.attempts, 1.0, 300.0)
                await session.execute(
                    _RETRY, {"delay": delay, "error": error, "id": row.id, "token": token}
                )
    return stats


async def run(
    sessionmaker: async_sessionmaker[AsyncSession],
    sender: HttpWeChatSender,
    settings: Settings,
    *,
    poll_s: float = 1.0,
) -> None:
    """Deliver until cancelled."""
    while True:
        try:
            stats = await deliver_once(sessionmaker, sender, settings)
        except Exception:  # a broken database connection must not end the loop
            logger.exception("wechat delivery failed")
            stats = SendStats()
        if stats.claimed < settings.wechat_send_batch:
            await asyncio.sleep(poll_s)
