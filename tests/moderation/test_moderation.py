"""Moderation through HTTP: the sensitive-word list (matching through spaces, full-width forms,
punctuation and traditional characters; refuse or hold; reloaded without restart), residents'
reports, and the queue committees and streets work."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.models.moderation import ModerationItem
from src.models.system import AuditEntry, OutboxItem
from tests.builders import login, make_user
from tests.proposals.helpers import make_world, submit

BASE = {"title": "加装电梯", "category": "accessibility"}


async def post(client: httpx.AsyncClient, headers: dict[str, str], **fields: str) -> httpx.Response:
    body = {**BASE, "body": "老人上下楼困难", **fields}
    return await client.post("/api/v1/proposals", json=body, headers=headers)


@pytest.mark.parametrize(
    "text",
    [
        "楼下有人代开发票",
        "楼下有人代 开 发 票",  # spaces
        "楼下有人代-开.发/票",  # punctuation inserted
        "楼下有人代　开　发　票",  # full-width spaces
        "楼下有人代開發票",  # traditional characters
        "楼下有人代\u200b开\u200b发\u200b票",  # zero-width spaces
        "傻　逼",
        "加微信，领，红，包",
    ],
)
async def test_refused_words_through_obfuscation(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], text: str
) -> None:
    w = await make_world(db, client)
    refused = await post(client, w.h["resident"], body=text)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "sensitive_content"
    assert [e["field"] for e in refused.json()["errors"]] == ["body"]
    english = await post(client, {**w.h["resident"], "Accept-Language": "en"}, title=text)
    assert english.json()["code"] == "sensitive_content"
    assert "not allowed" in english.json()["detail"]


async def test_clean_text_is_not_caught(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    for body in ["发票丢了怎么补办", "楼下开了家发廊，代收快递", "USB充电口坏了", "去年死了两棵树"]:
        response = await post(client, w.h["resident"], body=body)
        assert response.status_code == 201, (body, response.text)
        assert response.json()["status"] == "submitted"


async def test_held_suggestion_and_the_queue_keep(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    held = await post(client, w.h["resident"], body="物业就是一群废 物，电梯坏了没人修")
    assert held.status_code == 201 and held.json()["status"] == "pending_review"
    pid = held.json()["id"]
    # Only the author and the area's staff see it.
    assert (
        await client.get(f"/api/v1/proposals/{pid}", headers=w.h["neighbour"])
    ).status_code == 404
    listed = await client.get("/api/v1/proposals", headers=w.h["neighbour"])
    assert pid not in [i["id"] for i in listed.json()["items"]]
    assert (
        await client.get(f"/api/v1/proposals/{pid}", headers=w.h["resident"])
    ).status_code == 200
    support = await client.put(f"/api/v1/proposals/{pid}/support", headers=w.h["neighbour"])
    assert support.status_code == 404
    async with db() as session:
        created = await session.scalar(
            select(func.count()).where(
                OutboxItem.ordering_key == f"proposal:{pid}", OutboxItem.topic == "proposal.created"
            )
        )
    assert created == 0  # the portal hears of it only once kept

    queue = await client.get(
        "/api/v1/moderation/queue", params={"area_id": str(w.a.id)}, headers=w.h["committee"]
    )
    assert queue.status_code == 200, queue.text
    [item] = [i for i in queue.json()["items"] if i["proposal"]["id"] == pid]
    assert item["source"] == "sensitive_words" and item["words"] == ["废物"]
    assert item["status"] == "open" and item["proposal"]["status"] == "pending_review"
    # The street sees its communities' queue; another community's committee and residents don't.
    street_queue = await client.get(
        "/api/v1/moderation/queue",
        params={"area_id": str(w.street.id)},
        headers=w.h["street_staff"],
    )
    assert item["id"] in [i["id"] for i in street_queue.json()["items"]]
    for name in ("committee_b", "resident", "planner"):
        denied = await client.get(
            "/api/v1/moderation/queue", params={"area_id": str(w.a.id)}, headers=w.h[name]
        )
        assert denied.status_code == 403, name

    url = f"/api/v1/moderation/queue/{item['id']}/decision"
    no_reason = await client.post(url, json={"action": "keep"}, headers=w.h["committee"])
    assert no_reason.status_code == 422
    assert (
        await client.post(url, json={"action": "keep", "reason": "x"}, headers=w.h["committee_b"])
    ).status_code in (403, 404)
    kept = await client.post(
        url, json={"action": "keep", "reason": "批评物业，未违规"}, headers=w.h["committee"]
    )
    assert kept.status_code == 200, kept.text
    assert kept.json()["status"] == "kept" and kept.json()["proposal"]["status"] == "submitted"
    again = await client.post(
        url, json={"action": "hide", "reason": "x"}, headers=w.h["street_staff"]
    )
    assert again.status_code == 409 and again.json()["code"] == "already_decided"
    # Now public; the author is told; the portal hears of it; the decision is audited.
    assert (
        await client.get(f"/api/v1/proposals/{pid}", headers=w.h["neighbour"])
    ).status_code == 200
    feed = await client.get("/api/v1/me/notifications", headers=w.h["resident"])
    assert [(n["proposal_id"], n["status"]) for n in feed.json()["items"]][:1] == [
        (pid, "submitted")
    ]
    async with db() as session:
        topics = (
            await session.scalars(
                select(OutboxItem.topic).where(OutboxItem.ordering_key == f"proposal:{pid}")
            )
        ).all()
        actions = (
            await session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == pid))
        ).all()
    assert list(topics) == ["proposal.created"]
    assert "moderation.keep" in actions
    decided = await client.get(
        "/api/v1/moderation/queue",
        params={"area_id": str(w.a.id), "status": "kept"},
        headers=w.h["committee"],
    )
    [done] = [i for i in decided.json()["items"] if i["id"] == item["id"]]
    assert done["decision_reason"] == "批评物业，未违规"


async def test_reports_join_one_item_and_hide(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    pid = (await submit(client, w.h["resident"], title="卖房广告", body="联系我买房"))["id"]
    url = f"/api/v1/proposals/{pid}/reports"
    reporters = [await make_user(db, community=w.a) for _ in range(4)]
    headers = [await login(client, u) for u in reporters]
    reasons = ["spam", "spam", "abusive", "duplicate"]
    # Every reporter taps twice at once: one report each, one queue item.
    responses = await asyncio.gather(
        *(
            client.post(url, json={"reason": r}, headers=h)
            for r, h in zip(reasons * 2, headers * 2, strict=True)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 4 + [409] * 4, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"already_reported"}
    bad = await client.post(url, json={"reason": "ugly"}, headers=w.h["neighbour"])
    assert bad.status_code == 422
    assert (
        await client.post(url, json={"reason": "spam"}, headers=w.h["outsider"])
    ).status_code == 404
    async with db() as session:
        items = (
            await session.scalars(select(ModerationItem).where(ModerationItem.proposal_id == pid))
        ).all()
    assert len(items) == 1 and items[0].reports == 4 and items[0].source == "report"
    queue = await client.get(
        "/api/v1/moderation/queue", params={"area_id": str(w.a.id)}, headers=w.h["committee"]
    )
    [item] = [i for i in queue.json()["items"] if i["proposal"]["id"] == pid]
    assert item["report_reasons"] == {"spam": 2, "abusive": 1, "duplicate": 1}
    # Two staff decide at once: one decision wins.
    decision = f"/api/v1/moderation/queue/{item['id']}/decision"
    both = await asyncio.gather(
        client.post(decision, json={"action": "hide", "reason": "广告"}, headers=w.h["committee"]),
        client.post(decision, json={"action": "keep", "reason": "无"}, headers=w.h["street_staff"]),
    )
    assert sorted(r.status_code for r in both) == [200, 409]
    winner = next(r for r in both if r.status_code == 200).json()
    detail = await client.get(f"/api/v1/proposals/{pid}", headers=w.h["resident"])
    if winner["status"] == "hidden":
        assert detail.json()["status"] == "hidden"
        assert (
            await client.get(f"/api/v1/proposals/{pid}", headers=w.h["neighbour"])
        ).status_code == 404
        feed = await client.get("/api/v1/me/notifications", headers=w.h["resident"])
        assert (feed.json()["items"][0]["proposal_id"], feed.json()["items"][0]["status"]) == (
            pid,
            "hidden",
        )
    else:
        assert detail.json()["status"] == "submitted"
    # A report after the decision opens a new item.
    late = await make_user(db, community=w.a)
    if winner["status"] == "kept":
        assert (
            await client.post(url, json={"reason": "spam"}, headers=await login(client, late))
        ).status_code == 201
        async with db() as session:
            open_items = await session.scalar(
                select(func.count()).where(
                    ModerationItem.proposal_id == pid, ModerationItem.status == "open"
                )
            )
        assert open_items == 1


async def test_replies_are_screened(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    pid = (await submit(client, w.h["resident"]))["id"]
    url = f"/api/v1/proposals/{pid}/replies"
    refused = await client.post(url, json={"body": "你 个 废 物"}, headers=w.h["committee"])
    assert refused.status_code == 422 and refused.json()["code"] == "sensitive_content"
    assert (
        await client.post(url, json={"body": "已转物业处理"}, headers=w.h["committee"])
    ).status_code == 201


async def test_word_list_reloads_and_default_mode(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    w = await make_world(db, client)
    words = tmp_path / "words.txt"
    words.write_text("# test list\n黑心物业\n", encoding="utf-8")
    monkeypatch.setattr(settings, "moderation_words_file", str(words))
    monkeypatch.setattr(settings, "moderation_reload_s", 0.0)
    monkeypatch.setattr(settings, "moderation_mode", "hold")
    held = await post(client, w.h["resident"], body="黑 心 物 业")
    assert held.status_code == 201 and held.json()["status"] == "pending_review"
    assert (await post(client, w.h["resident"], body="电梯噪音")).json()["status"] == "submitted"
    # Edit the file while the API runs: the new word counts, the removed one no longer does.
    words.write_text("电梯噪音\trefuse\n", encoding="utf-8")
    future = time.time() + 5
    os.utime(words, (future, future))
    refused = await post(client, w.h["resident"], body="电梯 噪音")
    assert refused.status_code == 422 and refused.json()["code"] == "sensitive_content"
    assert (await post(client, w.h["resident"], body="黑心物业")).json()["status"] == "submitted"
    monkeypatch.setattr(settings, "moderation_mode", "refuse")
    words.write_text("黑心物业\n", encoding="utf-8")
    os.utime(words, (future + 5, future + 5))
    assert (await post(client, w.h["resident"], body="黑心物业")).status_code == 422


async def test_rating_comments_are_screened(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    from tests.ratings import helpers as ratings

    w = await ratings.make_world(db, client)
    event = await ratings.make_meeting(db, w.a, w.committee)
    refused = await ratings.rate(client, w.h["resident"], event, comment="施工队一群 废-物")
    assert refused.status_code == 422 and refused.json()["code"] == "sensitive_content"
    assert refused.json()["errors"][0]["field"] == "comment"
    fine = await ratings.rate(client, w.h["resident"], event, comment="做得不错")
    assert fine.status_code == 201
    changed = await client.put(
        f"/api/v1/events/{event}/ratings/mine",
        json={"scores": ratings.SCORES, "comment": "代开發票"},
        headers=w.h["resident"],
    )
    assert changed.status_code == 422 and changed.json()["code"] == "sensitive_content"
