"""Every privileged action writes an audit row (who, what, which area), and the audit log
cannot be changed afterwards: UPDATE, DELETE and TRUNCATE are refused by the database."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.system import AuditEntry, OutboxItem
from src.models.user import Role
from tests.builders import login, make_user, unique_code
from tests.events.helpers import create_event
from tests.projects.helpers import create_project
from tests.proposals.helpers import make_world, move, submit
from tests.security.test_route_scope import RATING_SCORES


async def _audit(db: async_sessionmaker[AsyncSession], object_id: str) -> list[tuple[str, str]]:
    """(action, actor id) of an object's audit rows, oldest first."""
    async with db() as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.actor_id)
            .where(AuditEntry.object_id == object_id)
            .order_by(AuditEntry.id)
        )
        return [(action, str(actor)) for action, actor in rows]


async def test_privileged_actions_are_audited(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    committee, street = str(w.committee.id), str(w.street_staff.id)
    admin_user = await make_user(db, role=Role.admin, city_admin=True)
    admin = await login(client, admin_user)

    # A meeting: created, options put on it, opened, paper ballots entered, closed.
    event = await create_event(
        client, w.h["committee"], w.a, options=["方案一", "方案二"], voting={"electorate": 50}
    )
    opened = await client.post(f"/api/v1/events/{event['id']}/open", headers=w.h["committee"])
    assert opened.status_code == 200, opened.text
    option = opened.json()["options"][0]["id"]
    paper = await client.post(
        f"/api/v1/events/{event['id']}/paper-counts",
        json={"counts": {option: 3}, "note": "现场举手"},
        headers=w.h["committee"],
    )
    assert paper.status_code in (200, 201), paper.text
    closed = await client.post(f"/api/v1/events/{event['id']}/close", headers=w.h["street_staff"])
    assert closed.status_code == 200, closed.text
    assert await _audit(db, event["id"]) == [
        ("event.create", committee),
        ("event.option_add", committee),
        ("event.option_add", committee),
        ("event.open", committee),
        ("event.paper_counts", committee),
        ("event.close", street),
    ]
    other = await create_event(client, w.h["committee"], w.a)
    cancelled = await client.post(f"/api/v1/events/{other['id']}/cancel", headers=w.h["committee"])
    assert cancelled.status_code == 200
    assert (await _audit(db, other["id"]))[-1] == ("event.cancel", committee)

    # A suggestion: a reply and a transition by staff; the resident's own acts are not audited.
    proposal = await submit(client, w.h["resident"])
    replied = await client.post(
        f"/api/v1/proposals/{proposal['id']}/replies",
        json={"body": "已收到"},
        headers=w.h["committee"],
    )
    assert replied.status_code == 201, replied.text
    assert (
        await move(client, w.h["street_staff"], proposal["id"], "under_review")
    ).status_code == 200
    assert await _audit(db, proposal["id"]) == [
        ("proposal.reply", committee),
        ("proposal.transition", street),
    ]

    # An export of the community's suggestions.
    export = await client.get(
        "/api/v1/exports/proposals",
        params={"community_id": str(w.a.id)},
        headers=w.h["street_staff"],
    )
    assert export.status_code == 200, export.text
    assert await _audit(db, export.headers["x-export-id"]) == [("export.proposals", street)]

    # A dead-lettered portal message retried by an admin.
    async with db() as session, session.begin():
        item = OutboxItem(
            topic="audit.test", ordering_key=f"audit:{proposal['id']}", payload={}, status="failed"
        )
        session.add(item)
        await session.flush()
        item_id = item.id
    retried = await client.post(
        f"/api/v1/integrations/portal/outbox/{item_id}/retry", headers=admin
    )
    assert retried.status_code == 200, retried.text
    assert await _audit(db, str(item_id)) == [("portal.outbox.retry", str(admin_user.id))]

    # A staff role granted and revoked.
    helper = await make_user(db, community=w.a)
    granted = await client.post(
        f"/api/v1/areas/{w.a.id}/staff",
        json={"user_id": str(helper.id), "role": "committee"},
        headers=w.h["street_staff"],
    )
    assert granted.status_code == 201, granted.text
    revoked = await client.delete(
        f"/api/v1/areas/{w.a.id}/staff/{helper.id}",
        params={"role": "committee"},
        headers=w.h["street_staff"],
    )
    assert revoked.status_code in (200, 204), revoked.text
    assert await _audit(db, str(helper.id)) == [("staff.grant", street), ("staff.revoke", street)]
    async with db() as session:
        areas = await session.scalars(
            select(AuditEntry.area_id).where(AuditEntry.object_id == str(helper.id))
        )
        assert set(areas) == {w.a.id}


async def test_the_audit_log_is_append_only(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session, session.begin():
        entry = AuditEntry(action="test.entry", object_type="test", object_id="append-only")
        session.add(entry)
        await session.flush()
        entry_id = entry.id
    for statement in (
        update(AuditEntry).where(AuditEntry.id == entry_id).values(action="test.forged"),
        text("DELETE FROM audit_log WHERE id = :id").bindparams(id=entry_id),
        text("TRUNCATE audit_log"),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db() as session, session.begin():
                await session.execute(statement)
    async with db() as session:
        kept = await session.get(AuditEntry, entry_id)
        assert kept is not None and kept.action == "test.entry"
        assert await session.scalar(text("SELECT count(*) FROM audit_log")) > 1


async def test_moderation_and_administration_are_audited(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    committee = str(w.committee.id)
    admin_user = await make_user(db, role=Role.admin, city_admin=True)
    admin = await login(client, admin_user)

    # A rating's comment hidden and shown again at a review meeting.
    project = await create_project(client, w.h["committee"], w.a)
    review = await create_event(
        client, w.h["committee"], w.a, kind="review", project_id=project["id"], open_it=True
    )
    rated = await client.post(
        f"/api/v1/events/{review['id']}/ratings",
        json={"scores": RATING_SCORES, "comment": "施工噪音太大"},
        headers=w.h["resident"],
    )
    assert rated.status_code == 201, rated.text
    rating = rated.json()["id"]
    base = f"/api/v1/events/{review['id']}/ratings/{rating}"
    hidden = await client.post(
        f"{base}/hide", json={"reason": "含个人信息"}, headers=w.h["committee"]
    )
    assert hidden.status_code == 200, hidden.text
    shown = await client.post(f"{base}/restore", headers=w.h["committee"])
    assert shown.status_code == 200, shown.text
    assert await _audit(db, rating) == [
        ("rating.comment_hide", committee),
        ("rating.comment_restore", committee),
    ]

    # A resident's home moved by an admin, with the reason kept.
    moved = await client.patch(
        f"/api/v1/users/{w.neighbour.id}",
        json={"home_community_id": str(w.b.id), "reason": "搬家"},
        headers=admin,
    )
    assert moved.status_code == 200, moved.text
    assert await _audit(db, str(w.neighbour.id)) == [("user.home_change", str(admin_user.id))]

    # A category created by an admin.
    code = unique_code("au").lower()
    made = await client.post(
        "/api/v1/categories",
        json={"code": code, "name_zh": "审计分类", "name_en": "Audited", "group": "care"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    entries = await _audit(db, code)
    assert len(entries) == 1 and entries[0][0].startswith("category.")
    assert entries[0][1] == str(admin_user.id)
