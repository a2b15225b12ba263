from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.models.proposal import ProposalSupport
from src.models.system import AuditEntry, OutboxItem
from tests.builders import login, make_user
from tests.proposals.helpers import make_world, move, submit


async def test_support_once_and_exact_under_concurrent_taps(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    created = await submit(client, w.h["resident"])
    url = f"/api/v1/proposals/{created['id']}/support"
    supporters = [await make_user(db, community=w.a) for _ in range(12)]
    headers = [await login(client, u) for u in supporters]
    # Every supporter taps three times at once.
    responses = await asyncio.gather(*(client.put(url, headers=h) for h in headers * 3))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    detail = await client.get(f"/api/v1/proposals/{created['id']}", headers=headers[0])
    assert detail.json()["support_count"] == 12
    assert detail.json()["supported_by_me"] is True
    # Withdrawals, concurrent and repeated, count once each.
    withdrawals = await asyncio.gather(*(client.delete(url, headers=h) for h in headers[:5] * 2))
    assert all(r.status_code == 200 for r in withdrawals)
    assert withdrawals[-1].json()["supported_by_me"] is False
    async with db() as session:
        rows = await session.scalar(
            select(func.count()).where(ProposalSupport.proposal_id == created["id"])
        )
    after = await client.get(f"/api/v1/proposals/{created['id']}", headers=headers[0])
    assert after.json()["support_count"] == rows == 7
    assert after.json()["supported_by_me"] is False
    # Someone from another community cannot see it, so cannot support it.
    assert (await client.put(url, headers=w.h["outsider"])).status_code == 404


async def test_support_rate_limit(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = await make_world(db, client)
    created = await submit(client, w.h["resident"])
    monkeypatch.setattr(settings, "proposal_support_limit", 3)
    url = f"/api/v1/proposals/{created['id']}/support"
    codes = [(await client.put(url, headers=w.h["neighbour"])).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


async def test_state_machine(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    p = (await submit(client, w.h["resident"]))["id"]
    illegal = await move(client, w.h["committee"], p, "accepted")
    assert illegal.status_code == 409 and illegal.json()["code"] == "illegal_transition"
    assert (await move(client, w.h["resident"], p, "under_review")).status_code == 403
    assert (await move(client, w.h["planner"], p, "under_review")).status_code == 403
    assert (await move(client, w.h["committee_b"], p, "under_review")).status_code == 404
    assert (await move(client, w.h["committee"], p, "under_review")).status_code == 200
    no_reason = await move(client, w.h["committee"], p, "rejected")
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "reason_required"
    bad_status = await move(client, w.h["committee"], p, "approved")
    assert bad_status.status_code == 422
    assert (await move(client, w.h["street_staff"], p, "accepted")).status_code == 200
    no_project = await move(client, w.h["committee"], p, "adopted")
    assert no_project.status_code == 422
    other = await client.post(
        "/api/v1/projects",
        json={"title": "B社区项目", "community_id": str(w.b.id), "category": "accessibility"},
        headers=w.h["committee_b"],
    )
    assert other.status_code == 201, other.text
    wrong = await move(client, w.h["committee"], p, "adopted", project_id=other.json()["id"])
    assert wrong.status_code == 422 and wrong.json()["code"] == "invalid_project"
    project = await client.post(
        "/api/v1/projects",
        json={"title": "加装电梯试点", "community_id": str(w.a.id), "category": "accessibility"},
        headers=w.h["committee"],
    )
    adopted = await move(client, w.h["committee"], p, "adopted", project_id=project.json()["id"])
    assert adopted.status_code == 200
    assert adopted.json()["project_id"] == project.json()["id"]
    done = await move(client, w.h["committee"], p, "done")
    assert done.json()["status"] == "done"
    assert [(h["from_status"], h["to_status"]) for h in done.json()["history"]] == [
        ("submitted", "under_review"),
        ("under_review", "accepted"),
        ("accepted", "adopted"),
        ("adopted", "done"),
    ]
    assert done.json()["history"][1]["actor_role"] == "street"
    assert (await move(client, w.h["committee"], p, "submitted")).status_code == 409
    closed = await client.put(f"/api/v1/proposals/{p}/support", headers=w.h["neighbour"])
    assert closed.status_code == 409 and closed.json()["code"] == "proposal_closed"
    shown = await client.get(f"/api/v1/projects/{project.json()['id']}", headers=w.h["resident"])
    assert [s["id"] for s in shown.json()["suggestions"]] == [p]
    async with db() as session:
        actions = (
            await session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == p))
        ).all()
        topics = (
            await session.scalars(
                select(OutboxItem.topic).where(OutboxItem.ordering_key == f"proposal:{p}")
            )
        ).all()
    assert actions.count("proposal.transition") == 4
    assert topics.count("proposal.status_changed") == 4


async def test_merge_carries_supports_without_double_counting(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    dup = (await submit(client, w.h["resident"]))["id"]
    keep = (await submit(client, w.h["neighbour"], title="五号楼加装电梯"))["id"]
    third = await make_user(db, community=w.a)
    third_h = await login(client, third)
    for who, pid in ((w.h["resident"], dup), (w.h["neighbour"], dup), (w.h["neighbour"], keep)):
        assert (
            await client.put(f"/api/v1/proposals/{pid}/support", headers=who)
        ).status_code == 200
    await client.put(f"/api/v1/proposals/{keep}/support", headers=third_h)
    foreign = (await submit(client, w.h["outsider"]))["id"]
    for pid in (dup, keep):
        await move(client, w.h["committee"], pid, "under_review")
    into_self = await move(client, w.h["committee"], dup, "merged", merged_into=dup)
    assert into_self.status_code == 422
    across = await move(client, w.h["committee"], dup, "merged", merged_into=foreign)
    assert across.status_code == 422 and across.json()["code"] == "invalid_merge_target"
    merged = await move(client, w.h["committee"], dup, "merged", merged_into=keep)
    assert merged.status_code == 200, merged.text
    assert merged.json()["merged_into"] == keep
    target = await client.get(f"/api/v1/proposals/{keep}", headers=w.h["resident"])
    # neighbour supported both: counted once; resident and third: once each.
    assert target.json()["support_count"] == 3
    assert target.json()["supported_by_me"] is True


async def test_hidden_with_reason_author_still_sees(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    p = (await submit(client, w.h["resident"], title="不当内容"))["id"]
    hidden = await move(client, w.h["committee"], p, "hidden", reason="含有他人隐私信息")
    assert hidden.status_code == 200
    assert (await client.get(f"/api/v1/proposals/{p}", headers=w.h["neighbour"])).status_code == 404
    listed = await client.get(f"/api/v1/proposals?community_id={w.a.id}", headers=w.h["neighbour"])
    assert p not in [x["id"] for x in listed.json()["items"]]
    own = await client.get(f"/api/v1/proposals/{p}", headers=w.h["resident"])
    assert own.json()["status"] == "hidden"
    assert own.json()["history"][-1]["reason"] == "含有他人隐私信息"
    own_list = await client.get(f"/api/v1/proposals?community_id={w.a.id}", headers=w.h["resident"])
    assert p in [x["id"] for x in own_list.json()["items"]]
    staff_list = await client.get(
        f"/api/v1/proposals?community_id={w.a.id}", headers=w.h["committee"]
    )
    assert p in [x["id"] for x in staff_list.json()["items"]]
    async with db() as session:
        audit = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.object_id == p, AuditEntry.action == "proposal.hide"
            )
        )
    assert audit is not None and audit.details["reason"] == "含有他人隐私信息"
    restored = await move(client, w.h["committee"], p, "under_review")
    assert restored.status_code == 200


async def test_replies_and_notifications(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    p = (await submit(client, w.h["resident"]))["id"]
    await client.put(f"/api/v1/proposals/{p}/support", headers=w.h["neighbour"])
    denied = await client.post(
        f"/api/v1/proposals/{p}/replies", json={"body": "我也同意"}, headers=w.h["neighbour"]
    )
    assert denied.status_code == 403
    empty = await client.post(
        f"/api/v1/proposals/{p}/replies", json={"body": ""}, headers=w.h["committee"]
    )
    assert empty.status_code == 422
    reply = await client.post(
        f"/api/v1/proposals/{p}/replies",
        json={"body": "已转街道，下周现场踏勘"},
        headers=w.h["committee"],
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["author_role"] == "committee"
    planner = await client.post(
        f"/api/v1/proposals/{p}/replies", json={"body": "规划师意见"}, headers=w.h["planner"]
    )
    assert planner.json()["author_role"] == "planner"
    await move(client, w.h["committee"], p, "under_review")
    detail = await client.get(f"/api/v1/proposals/{p}", headers=w.h["resident"])
    assert [r["body"] for r in detail.json()["replies"]] == ["已转街道，下周现场踏勘", "规划师意见"]

    for who in ("resident", "neighbour"):
        feed = await client.get("/api/v1/me/notifications", headers=w.h[who])
        items = feed.json()["items"]
        assert [n["kind"] for n in items] == ["status_changed", "reply", "reply"]
        assert items[0]["status"] == "under_review" and items[0]["proposal_id"] == p
        assert not any(n["read"] for n in items)
    staff_feed = await client.get("/api/v1/me/notifications", headers=w.h["committee"])
    assert staff_feed.json()["items"] == []

    first = (await client.get("/api/v1/me/notifications", headers=w.h["resident"])).json()
    marked = await client.post(
        "/api/v1/me/notifications/read",
        json={"ids": [first["items"][0]["id"]]},
        headers=w.h["resident"],
    )
    assert marked.json() == {"marked": 1}
    unread = await client.get("/api/v1/me/notifications?unread=true", headers=w.h["resident"])
    assert len(unread.json()["items"]) == 2
    everything = await client.post(
        "/api/v1/me/notifications/read", json={"all": True}, headers=w.h["resident"]
    )
    assert everything.json() == {"marked": 2}
    nothing = await client.post("/api/v1/me/notifications/read", json={}, headers=w.h["resident"])
    assert nothing.status_code == 422
    # The neighbour's feed is their own.
    still = await client.get("/api/v1/me/notifications?unread=true", headers=w.h["neighbour"])
    assert len(still.json()["items"]) == 3
    paged = await client.get("/api/v1/me/notifications?limit=2", headers=w.h["neighbour"])
    rest = await client.get(
        f"/api/v1/me/notifications?limit=2&cursor={paged.json()['next_cursor']}",
        headers=w.h["neighbour"],
    )
    assert len(rest.json()["items"]) == 1
