"""WeChat subscribe messages: grants, one outbox row per used grant, delivery through the WeChat
adapter to the fake WeChat server on loopback (retries, refusals, never twice per grant)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.core.servers import BackgroundServer
from src.identity import subscribe_worker
from src.identity.wechat import HttpWeChatSender
from src.models.subscription import WeChatSubscription
from src.models.system import OutboxItem
from tests import builders
from tests.proposals.helpers import make_world, move, submit

URL = "/api/v1/me/subscriptions"


@pytest.fixture
async def sender(settings: Settings) -> AsyncIterator[HttpWeChatSender]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield HttpWeChatSender(
            http, settings.wechat_api_base, settings.wechat_app_id, settings.wechat_app_secret
        )


async def link_wechat(db: async_sessionmaker[AsyncSession], user: builders.TestUser) -> str:
    openid = f"o-{uuid.uuid4().hex[:20]}"
    async with db() as session, session.begin():
        await session.execute(
            text("UPDATE users SET wechat_openid = :o WHERE id = :id"), {"o": openid, "id": user.id}
        )
    return openid


async def received(fake_wechat: BackgroundServer, openid: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=fake_wechat.url) as http:
        response = await http.get("/fake/messages", params={"touser": openid})
        result: list[dict[str, Any]] = response.json()
        return result


async def deliver(
    db: async_sessionmaker[AsyncSession], sender: HttpWeChatSender, settings: Settings
) -> None:
    # Due now: the retry delays are the worker's business, not the test's.
    async with db() as session, session.begin():
        await session.execute(
            text(
                "UPDATE outbox SET next_attempt_at = now() "
                "WHERE channel = 'wechat' AND status = 'pending'"
            )
        )
    await subscribe_worker.deliver_once(db, sender, settings)


async def test_grants_are_one_per_kind_and_need_wechat(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    await link_wechat(db, w.resident)
    before = await client.get(URL, headers=w.h["resident"])
    assert before.status_code == 200 and before.json()["wechat_linked"] is True
    assert not any(t["granted"] for t in before.json()["templates"])
    body = {"templates": ["reply", "status_changed"]}
    replies = await asyncio.gather(
        *(client.put(URL, json=body, headers=w.h["resident"]) for _ in range(4))
    )
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    granted = {t["kind"]: t for t in replies[-1].json()["templates"]}
    assert granted["reply"]["granted"] and granted["status_changed"]["granted"]
    assert not granted["event_reminder"]["granted"]
    assert granted["reply"]["template_id"] == "tmpl-proposal-reply"
    async with db() as session:
        unused = await session.scalar(
            select(func.count()).where(
                WeChatSubscription.user_id == w.resident.id, WeChatSubscription.used_at.is_(None)
            )
        )
    assert unused == 2
    # Listing fewer kinds withdraws the others.
    fewer = await client.put(URL, json={"templates": ["reply"]}, headers=w.h["resident"])
    assert [t["kind"] for t in fewer.json()["templates"] if t["granted"]] == ["reply"]
    bad = await client.put(URL, json={"templates": ["love_letter"]}, headers=w.h["resident"])
    assert bad.status_code == 422
    unlinked = await client.put(URL, json=body, headers=w.h["neighbour"])
    assert unlinked.status_code == 409 and unlinked.json()["code"] == "wechat_not_linked"
    assert (
        await client.put(URL, json={"templates": []}, headers=w.h["neighbour"])
    ).status_code == 200
    assert (await client.put(URL, json=body)).status_code == 401


async def test_each_grant_sends_one_message(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    sender: HttpWeChatSender,
    fake_wechat: BackgroundServer,
) -> None:
    w = await make_world(db, client)
    openid = await link_wechat(db, w.resident)
    pid = (await submit(client, w.h["resident"], title="楼道灯坏了"))["id"]
    grant = await client.put(
        URL, json={"templates": ["reply", "status_changed"]}, headers=w.h["resident"]
    )
    assert grant.status_code == 200
    # Two replies at once: two notifications in the feed, one grant, one message.
    replies = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/proposals/{pid}/replies",
                json={"body": f"已派电工 {i}"},
                headers=w.h["committee"],
            )
            for i in range(2)
        )
    )
    assert all(r.status_code == 201 for r in replies)
    feed = await client.get("/api/v1/me/notifications", headers=w.h["resident"])
    assert [n["kind"] for n in feed.json()["items"]].count("reply") == 2
    async with db() as session:
        rows = (
            await session.scalars(
                select(OutboxItem).where(
                    OutboxItem.channel == "wechat",
                    OutboxItem.payload["message"]["touser"].astext == openid,
                )
            )
        ).all()
    assert len(rows) == 1 and rows[0].payload["kind"] == "reply"
    await deliver(db, sender, settings)
    await deliver(db, sender, settings)  # nothing left to send twice
    messages = await received(fake_wechat, openid)
    assert len(messages) == 1
    [message] = messages
    assert message["template_id"] == "tmpl-proposal-reply"
    assert message["page"] == f"pages/proposals/detail?id={pid}"
    assert message["data"]["thing1"]["value"] == "楼道灯坏了"
    # A status change uses the other grant; the next one has none left.
    assert (await move(client, w.h["committee"], pid, "under_review")).status_code == 200
    assert (await move(client, w.h["committee"], pid, "accepted")).status_code == 200
    await deliver(db, sender, settings)
    messages = await received(fake_wechat, openid)
    assert [m["template_id"] for m in messages] == ["tmpl-proposal-reply", "tmpl-proposal-status"]
    assert messages[1]["data"]["phrase2"]["value"] == "审核中"
    again = await client.get(URL, headers=w.h["resident"])
    assert not any(t["granted"] for t in again.json()["templates"])


async def test_delivery_retries_and_refusals(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    sender: HttpWeChatSender,
    fake_wechat: BackgroundServer,
) -> None:
    w = await make_world(db, client)
    openid = await link_wechat(db, w.resident)
    pid = (await submit(client, w.h["resident"]))["id"]
    await client.put(URL, json={"templates": ["reply"]}, headers=w.h["resident"])
    # WeChat fails twice (HTTP 500): the message waits in the outbox and goes out once.
    async with httpx.AsyncClient(base_url=fake_wechat.url) as http:
        await http.post("/fake/failures", json={"count": 2})
    await client.post(
        f"/api/v1/proposals/{pid}/replies", json={"body": "收到"}, headers=w.h["committee"]
    )
    for _ in range(3):
        await deliver(db, sender, settings)
    messages = await received(fake_wechat, openid)
    assert len(messages) == 1
    async with db() as session:
        row = await session.scalar(
            select(OutboxItem).where(
                OutboxItem.channel == "wechat",
                OutboxItem.payload["message"]["touser"].astext == openid,
            )
        )
    assert row is not None and row.status == "delivered" and row.attempts == 3
    # The user refused in WeChat (43101): the grant is spent, nothing is retried.
    await client.put(URL, json={"templates": ["reply"]}, headers=w.h["resident"])
    async with httpx.AsyncClient(base_url=fake_wechat.url) as http:
        await http.post("/fake/failures", json={"count": 1, "errcode": 43101})
    await client.post(
        f"/api/v1/proposals/{pid}/replies", json={"body": "再次答复"}, headers=w.h["committee"]
    )
    await deliver(db, sender, settings)
    await deliver(db, sender, settings)
    assert len(await received(fake_wechat, openid)) == 1
    async with db() as session:
        rows = (
            await session.scalars(
                select(OutboxItem)
                .where(
                    OutboxItem.channel == "wechat",
                    OutboxItem.payload["message"]["touser"].astext == openid,
                )
                .order_by(OutboxItem.id)
            )
        ).all()
    assert [(r.status, r.attempts) for r in rows] == [("delivered", 3), ("delivered", 1)]
    assert rows[1].last_error is not None and rows[1].last_error.startswith("43101")
