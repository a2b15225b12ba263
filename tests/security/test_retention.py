"""Personal data retention: ``purge`` deletes what is past its time, and only that.

A fixed clock in the past (2021) is passed in, and rows are written on both sides of each
cutoff; every other test's rows are newer than any cutoff of that clock, so they stay.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import uuid
from pathlib import Path

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.models.portal import PortalInboundEvent, PortalWebhookNonce
from src.models.proposal import Notification, NotificationKind
from src.models.system import IdempotencyKey, OutboxItem
from src.models.user import AuthFamily, RefreshToken
from src.retention.service import RULES, purge
from tests.proposals.helpers import make_world, submit

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2021, 6, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


async def _seed(
    db: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, settings: Settings
) -> dict[str, list[str]]:
    """Rows just past and just within each rule; the names of those that must go."""
    w = await make_world(db, client)
    proposal = await submit(client, w.h["resident"])
    tag = uuid.uuid4().hex[:10]
    auth_grace = settings.retention_auth_days * DAY
    old_family, live_family, bare_old_family = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with db() as session, session.begin():
        idem_ttl = dt.timedelta(seconds=settings.idempotency_ttl_s)
        for name, at in (("old", NOW - idem_ttl - DAY), ("new", NOW - idem_ttl + DAY)):
            session.add(
                IdempotencyKey(
                    scope=f"ret-{tag}", key=name, fingerprint="f" * 64, state="done", created_at=at
                )
            )
        skew = dt.timedelta(seconds=settings.portal_webhook_max_skew_s)
        session.add(PortalWebhookNonce(nonce=f"old-{tag}", seen_at=NOW - 3 * skew))
        session.add(PortalWebhookNonce(nonce=f"new-{tag}", seen_at=NOW - skew))
        # A session whose tokens all expired long ago, one still refreshable, one empty.
        created = NOW - 60 * DAY
        session.add(
            AuthFamily(id=old_family, user_id=w.resident.id, method="dev", created_at=created)
        )
        session.add(
            AuthFamily(id=live_family, user_id=w.resident.id, method="dev", created_at=created)
        )
        session.add(
            AuthFamily(id=bare_old_family, user_id=w.resident.id, method="dev", created_at=created)
        )
        for family, expires, label in (
            (old_family, NOW - auth_grace - DAY, "old"),
            (live_family, NOW - auth_grace - DAY, "used-old"),
            (live_family, NOW + 10 * DAY, "live"),
        ):
            session.add(
                RefreshToken(
                    token_hash=f"{label}-{tag}".ljust(64, "0"),
                    family_id=family,
                    user_id=w.resident.id,
                    expires_at=expires,
                    created_at=created,
                )
            )
        outbox_age = settings.retention_outbox_days * DAY
        for status, delivered in (
            ("delivered", NOW - outbox_age - DAY),
            ("delivered", NOW - outbox_age + DAY),
            ("failed", None),
        ):
            session.add(
                OutboxItem(
                    topic="retention.test",
                    ordering_key=f"ret-{tag}",
                    payload={"phone": "13800000000"},
                    status=status,
                    created_at=NOW - 400 * DAY,
                    delivered_at=delivered,
                )
            )
        events_age = settings.retention_portal_events_days * DAY
        for name, at in (("old", NOW - events_age - DAY), ("new", NOW - events_age + DAY)):
            session.add(
                PortalInboundEvent(
                    event_id=f"{name}-{tag}",
                    type="x",
                    outcome="applied",
                    payload={},
                    received_at=at,
                )
            )
        read_age = settings.retention_notifications_days * DAY
        for read_at in (NOW - read_age - DAY, NOW - read_age + DAY, None):
            session.add(
                Notification(
                    user_id=w.neighbour.id,
                    kind=NotificationKind.reply,
                    proposal_id=uuid.UUID(proposal["id"]),
                    created_at=NOW - 400 * DAY,
                    read_at=read_at,
                )
            )
    return {
        "tag": [tag],
        "families": [str(old_family), str(live_family), str(bare_old_family)],
        "neighbour": [str(w.neighbour.id)],
        "resident": [str(w.resident.id)],
    }


async def test_purge_deletes_only_what_is_past_its_time(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    seeded = await _seed(db, client, settings)
    tag = seeded["tag"][0]
    progress: list[tuple[str, int]] = []
    summary = await purge(
        db, settings, NOW, batch_size=1, progress=lambda n, d: progress.append((n, d))
    )

    assert summary == {
        "idempotency_keys": 1,
        "portal_webhook_nonces": 1,
        "refresh_tokens": 2,
        "auth_families": 2,  # the expired one and the empty one; the refreshable one stays
        "outbox_delivered": 1,
        "portal_inbound_events": 1,
        "notifications_read": 1,
    }
    assert set(summary) == {rule.name for rule in RULES}
    # Batches of one: progress counts up rule by rule.
    assert ("refresh_tokens", 1) in progress and ("refresh_tokens", 2) in progress

    async with db() as session:
        keys = await session.scalars(
            select(IdempotencyKey.key).where(IdempotencyKey.scope == f"ret-{tag}")
        )
        assert list(keys) == ["new"]
        nonces = await session.scalars(
            select(PortalWebhookNonce.nonce).where(PortalWebhookNonce.nonce.like(f"%-{tag}"))
        )
        assert list(nonces) == [f"new-{tag}"]
        families = await session.scalars(
            select(AuthFamily.id).where(
                AuthFamily.id.in_([uuid.UUID(f) for f in seeded["families"]])
            )
        )
        assert [str(f) for f in families] == [seeded["families"][1]]
        tokens = await session.scalars(
            select(RefreshToken.token_hash).where(RefreshToken.token_hash.like(f"%-{tag}%"))
        )
        assert [t.split("-")[0] for t in tokens] == ["live"]
        outbox = (
            await session.execute(
                select(OutboxItem.status, OutboxItem.delivered_at).where(
                    OutboxItem.ordering_key == f"ret-{tag}"
                )
            )
        ).all()
        assert sorted(status for status, _ in outbox) == ["delivered", "failed"]
        events = await session.scalars(
            select(PortalInboundEvent.event_id).where(PortalInboundEvent.event_id.like(f"%-{tag}"))
        )
        assert list(events) == [f"new-{tag}"]
        notes = (
            await session.scalars(
                select(Notification.read_at).where(
                    Notification.user_id == uuid.UUID(seeded["neighbour"][0])
                )
            )
        ).all()
        assert len(notes) == 2 and None in notes  # the unread one and the recently read one

    # Running it again finds nothing more; today's rows of the other tests were never touched.
    again = await purge(db, settings, NOW)
    assert sum(again.values()) == 0
    async with db() as session:
        users_tokens = await session.scalar(
            text("SELECT count(*) FROM refresh_tokens WHERE expires_at > now()")
        )
    assert users_tokens and users_tokens > 0


async def test_cli_purge_shows_progress_and_a_summary(
    db: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    nonce = f"cli-{uuid.uuid4().hex[:12]}"
    async with db() as session, session.begin():
        session.add(PortalWebhookNonce(nonce=nonce, seen_at=NOW))
    env = {**os.environ, "LIFECIRCLE_DATABASE_URL": database_url, "LIFECIRCLE_ENV": "test"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "src.cli",
        "purge",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, stderr.decode()
    out = stdout.decode()
    assert "… portal_webhook_nonces:" in out
    assert "✓ purge done:" in out and "portal_webhook_nonces" in out.splitlines()[-1]
    async with db() as session:
        assert await session.get(PortalWebhookNonce, nonce) is None
