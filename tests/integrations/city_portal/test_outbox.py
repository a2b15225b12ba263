"""The worker against the fake portal over loopback HTTP, and the admin's outbox view."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core import outbox
from src.core.servers import free_port
from src.integrations.city_portal import repository
from src.integrations.city_portal.fake import FakePortal, Faults
from src.integrations.city_portal.worker import CircuitBreaker, backoff_s
from src.models.system import AuditEntry, OutboxItem
from src.models.user import Role
from tests.builders import login, make_tree, make_user
from tests.integrations.city_portal.conftest import drain
from tests.proposals.helpers import make_world, move, submit

ROOT = Path(__file__).resolve().parents[3]
_keys = itertools.count(1)
_run = uuid.uuid4().hex[:8]


def new_key() -> str:
    return f"test:{_run}:{next(_keys)}"


async def enqueue(db: async_sessionmaker[AsyncSession], key: str, n: int) -> list[int]:
    async with db() as session, session.begin():
        for seq in range(n):
            await outbox.enqueue(session, "test.changed", key, {"seq": seq})
    async with db() as session:
        ids = await session.scalars(
            select(OutboxItem.id).where(OutboxItem.ordering_key == key).order_by(OutboxItem.id)
        )
        return list(ids)


async def row(db: async_sessionmaker[AsyncSession], item_id: int) -> OutboxItem:
    async with db() as session:
        item = await session.get(OutboxItem, item_id)
        assert item is not None
        return item


def seqs(fake: FakePortal, key: str) -> list[int]:
    return [e.payload["seq"] for e in fake.events() if e.ordering_key == key]


async def test_suggestion_changes_reach_the_portal_in_order(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    fake_portal: FakePortal,
    make_worker: Any,
) -> None:
    world = await make_world(db, client)
    pid = (await submit(client, world.h["resident"]))["id"]
    await move(client, world.h["street_staff"], pid, "under_review")
    await client.post(
        f"/api/v1/proposals/{pid}/replies", json={"body": "已受理"}, headers=world.h["committee"]
    )
    await move(client, world.h["street_staff"], pid, "accepted")
    key = f"proposal:{pid}"

    await drain(make_worker(), db, [key])

    received = [e for e in fake_portal.events() if e.ordering_key == key]
    assert [e.topic for e in received] == [
        "proposal.created",
        "proposal.status_changed",
        "proposal.replied",
        "proposal.status_changed",
    ]
    assert received[0].payload["title"] == "加装电梯"
    assert [e.payload.get("to") for e in received[1::2]] == ["under_review", "accepted"]
    assert len({e.key for e in received}) == 4
    assert all(e.key.startswith("lc-outbox-") for e in received)


async def test_failures_are_retried_until_delivered_once(
    db: async_sessionmaker[AsyncSession], fake_portal: FakePortal, make_worker: Any
) -> None:
    key = new_key()
    ids = await enqueue(db, key, 30)
    fake_portal.set_faults(
        Faults(error_rate=0.3, drop_rate=0.2, rate_limit_rate=0.1, retry_after_s=0)
    )

    await drain(make_worker(max_attempts=100), db, [key])

    assert seqs(fake_portal, key) == list(range(30))
    items = [await row(db, i) for i in ids]
    assert {i.status for i in items} == {"delivered"}
    assert sum(i.attempts for i in items) > 30  # some were retried
    assert fake_portal.stats.duplicates > 0  # dropped replies were sent again, and deduped


async def test_retry_after_is_honoured_and_persisted(
    db: async_sessionmaker[AsyncSession], fake_portal: FakePortal, make_worker: Any
) -> None:
    key = new_key()
    [item_id] = await enqueue(db, key, 1)
    fake_portal.set_faults(Faults(rate_limit_rate=1.0, retry_after_s=120))
    before = dt.datetime.now(dt.UTC)

    await make_worker().run_once()

    item = await row(db, item_id)
    assert item.status == "pending"
    assert item.attempts == 1
    assert item.next_attempt_at >= before + dt.timedelta(seconds=119)
    assert "429" in (item.last_error or "")
    assert item.claimed_until is None


async def test_dead_letter_holds_its_key_until_an_admin_retries(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    fake_portal: FakePortal,
    make_worker: Any,
) -> None:
    key = new_key()
    first, second = await enqueue(db, key, 2)
    fake_portal.set_faults(Faults(down=True))
    worker = make_worker(max_attempts=2)
    for _ in range(20):
        await worker.run_once()
        if (await row(db, first)).status == "failed":
            break
    assert (await row(db, first)).status == "failed"
    # The second change must not overtake the dead first one.
    fake_portal.set_faults(Faults())
    for _ in range(3):
        await worker.run_once()
    assert (await row(db, second)).status == "pending"
    assert seqs(fake_portal, key) == []

    admin = await make_user(db, role=Role.admin, city_admin=True)
    resident = await make_user(db)
    h_admin, h_resident = await login(client, admin), await login(client, resident)
    listed = await client.get(
        "/api/v1/integrations/portal/outbox",
        params={"status": "failed", "ordering_key": key},
        headers=h_admin,
    )
    assert [i["id"] for i in listed.json()["items"]] == [first]
    metrics = (await client.get("/api/v1/integrations/portal/metrics", headers=h_admin)).json()
    assert metrics["failed"] >= 1
    assert metrics["blocked_keys"] >= 1
    assert metrics["oldest_age_s"] is not None

    forbidden = await client.post(
        f"/api/v1/integrations/portal/outbox/{first}/retry", headers=h_resident
    )
    tree = await make_tree(db, communities=1)
    district_admin = await make_user(db, role=Role.admin, area=tree.district)
    h_district = await login(client, district_admin)
    not_city = await client.post(
        f"/api/v1/integrations/portal/outbox/{first}/retry", headers=h_district
    )
    not_city_list = await client.get("/api/v1/integrations/portal/outbox", headers=h_district)
    not_failed = await client.post(
        f"/api/v1/integrations/portal/outbox/{second}/retry", headers=h_admin
    )
    retried = await client.post(
        f"/api/v1/integrations/portal/outbox/{first}/retry", headers=h_admin
    )
    missing = await client.post(
        "/api/v1/integrations/portal/outbox/999999999/retry", headers=h_admin
    )

    assert forbidden.status_code == 403
    assert not_city.status_code == not_city_list.status_code == 403
    assert not_city.json()["code"] == "city_admin_required"
    assert not_failed.status_code == 409
    assert not_failed.json()["code"] == "outbox_not_failed"
    assert missing.status_code == 404
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending"
    assert retried.json()["attempts"] == 0
    async with db() as session:
        audited = await session.scalar(
            select(func.count()).where(
                AuditEntry.action == "portal.outbox.retry", AuditEntry.object_id == str(first)
            )
        )
    assert audited == 1

    await drain(worker, db, [key])
    assert seqs(fake_portal, key) == [0, 1]


async def test_a_refused_event_is_dead_lettered_at_once(
    db: async_sessionmaker[AsyncSession], make_worker: Any, settings: Any, portal_url: str
) -> None:
    key = new_key()
    [item_id] = await enqueue(db, key, 1)
    worker = make_worker(max_attempts=10)
    worker.client.secret = "a-wrong-secret-0123456789"  # the portal answers 401

    await worker.run_once()

    item = await row(db, item_id)
    assert item.status == "failed"
    assert item.attempts == 1
    assert "401" in (item.last_error or "")


async def test_an_unreachable_portal_opens_the_circuit(
    db: async_sessionmaker[AsyncSession], make_worker: Any
) -> None:
    key = new_key()
    [item_id] = await enqueue(db, key, 1)
    worker = make_worker(
        f"http://127.0.0.1:{free_port()}", breaker_threshold=1, breaker_cooldown_s=3600
    )
    handled = [await worker.run_once() for _ in range(3)]
    # Other tests' rows may be in the first batch; after it, the circuit stays open.
    assert handled[0] >= 1
    assert handled[1:] == [0, 0]
    assert worker.breaker.state == "open"
    item = await row(db, item_id)
    assert item.status == "pending"
    assert item.attempts == 1


async def test_a_lease_keeps_others_off_until_it_ends(
    db: async_sessionmaker[AsyncSession],
) -> None:
    key = new_key()
    [item_id] = await enqueue(db, key, 1)
    first, second = uuid.uuid4(), uuid.uuid4()
    async with db() as session, session.begin():
        mine = await repository.claim(session, batch=1000, lease_s=60, token=first)
    assert item_id in [c.id for c in mine]
    async with db() as session, session.begin():
        others = await repository.claim(session, batch=1000, lease_s=60, token=second)
    assert item_id not in [c.id for c in others]
    # The first worker "dies": its lease ends, the row is taken over.
    async with db() as session, session.begin():
        await session.execute(
            text("UPDATE outbox SET claimed_until = now() - interval '1 second' WHERE id = :id"),
            {"id": item_id},
        )
        taken = await repository.claim(session, batch=1000, lease_s=60, token=second)
    assert item_id in [c.id for c in taken]
    async with db() as session, session.begin():
        late = await repository.mark_delivered(session, item_id, first)
        current = await repository.mark_delivered(session, item_id, second)
    assert (late, current) == (False, True)
    assert (await row(db, item_id)).attempts == 2
    # Hand back the other tests' rows these claims leased.
    async with db() as session, session.begin():
        await session.execute(
            text(
                "UPDATE outbox SET claimed_until = NULL, claim_token = NULL "
                "WHERE claim_token = ANY(:tokens)"
            ),
            {"tokens": [first, second]},
        )


def test_backoff_is_capped_full_jitter() -> None:
    for attempt in range(1, 30):
        value = backoff_s(attempt, 1.0, 300.0)
        assert 0.0 <= value <= min(300.0, 2 ** (attempt - 1))


def test_circuit_breaker_probes_after_cooldown() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown_s=10, clock=lambda: now[0])
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open"
    now[0] = 10.0
    assert breaker.state == "half_open"
    breaker.record_failure()  # the probe failed
    assert breaker.state == "open"
    now[0] = 25.0
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.times_opened == 1


async def test_outbox_admin_list_filters_and_pages(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    key = new_key()
    ids = await enqueue(db, key, 5)
    admin = await make_user(db, role=Role.admin, city_admin=True)
    h = await login(client, admin)
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"ordering_key": key, "limit": 2, "status": "pending"}
        if cursor:
            params["cursor"] = cursor
        page = await client.get("/api/v1/integrations/portal/outbox", params=params, headers=h)
        assert page.status_code == 200, page.text
        seen += [i["id"] for i in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(ids, reverse=True)
    bad = await client.get(
        "/api/v1/integrations/portal/outbox", params={"status": "lost"}, headers=h
    )
    assert bad.status_code == 422
    anonymous = await client.get("/api/v1/integrations/portal/outbox")
    assert anonymous.status_code == 401
    # Deliver them so later tests start from a quiet outbox.
    async with db() as session, session.begin():
        await session.execute(
            text("UPDATE outbox SET status = 'delivered' WHERE ordering_key = :k"), {"k": key}
        )


@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [
        ("redirect", "failed", "status 302"),  # never followed: the portal refused it
        ("huge", "pending", "reply too large"),
        ("not_json", "pending", "malformed reply"),
        ("slow", "pending", "timeout"),
    ],
)
async def test_bad_delivery_replies_fail_cleanly(
    kind: str,
    status: str,
    error: str,
    db: async_sessionmaker[AsyncSession],
    make_worker: Any,
    hostile: tuple[dict[str, str], str],
    fake_portal: FakePortal,
    portal_url: str,
) -> None:
    mode, url = hostile
    mode["kind"] = kind
    mode["location"] = f"{portal_url}/api/events"
    key = new_key()
    [item_id] = await enqueue(db, key, 1)
    worker = make_worker(url, timeout_s=1.0, max_attempts=10)

    for _ in range(5):  # other tests' rows may come first
        await worker.run_once()
        if (await row(db, item_id)).attempts:
            break

    item = await row(db, item_id)
    assert item.status == status
    assert item.attempts == 1
    assert error in (item.last_error or "")
    assert item.claimed_until is None
    assert seqs(fake_portal, key) == []


async def test_the_worker_command_delivers_and_sums_up(
    db: async_sessionmaker[AsyncSession],
    settings: Any,
    fake_portal: FakePortal,
    portal_url: str,
) -> None:
    key = new_key()
    await enqueue(db, key, 3)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "src.cli",
        "worker",
        "--until-empty",
        cwd=ROOT,
        env={
            **os.environ,
            "LIFECIRCLE_ENV": "test",
            "LIFECIRCLE_DATABASE_URL": str(settings.database_url),
            "LIFECIRCLE_PORTAL_API_BASE": portal_url,
            "LIFECIRCLE_PORTAL_APP_SECRET": settings.portal_app_secret,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)

    assert process.returncode == 0, output.decode()
    assert "✓ worker stopped" in output.decode()
    assert seqs(fake_portal, key) == [0, 1, 2]
