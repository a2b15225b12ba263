from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.system import AuditEntry, OutboxItem
from tests.projects.helpers import create_project, move_to, patch, progress, shanghai_today
from tests.proposals.helpers import make_world


async def test_status_machine_from_plan_to_done(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    project = await create_project(client, w.h["committee"], w.a, planned_start="2026-01-01")
    pid = project["id"]
    assert project["progress_percent"] == 0 and project["actual_start"] is None

    for to in ("building", "done"):
        skipped = await patch(client, w.h["committee"], pid, status=to)
        assert skipped.status_code == 409, (to, skipped.text)
        assert skipped.json()["code"] == "illegal_transition"
    same = await patch(client, w.h["committee"], pid, status="planned")
    assert same.status_code == 200 and same.json()["status"] == "planned"

    designing = await patch(client, w.h["committee"], pid, status="designing")
    assert designing.status_code == 200 and designing.json()["status"] == "designing"
    back = await patch(client, w.h["committee"], pid, status="planned")
    assert back.status_code == 409 and back.json()["code"] == "illegal_transition"

    building = await patch(client, w.h["street_staff"], pid, status="building")
    assert building.status_code == 200
    today = shanghai_today().isoformat()
    assert building.json()["actual_start"] == today
    assert (await progress(client, w.h["committee"], pid, 60)).status_code == 201

    done = await patch(client, w.h["committee"], pid, status="done")
    assert done.status_code == 200
    body = done.json()
    assert body["status"] == "done" and body["actual_end"] == today
    assert body["progress_percent"] == 100 and body["overdue"] is False

    # Closed: no way back, no edits, no progress.
    for to in ("building", "cancelled", "planned"):
        response = await patch(client, w.h["committee"], pid, status=to)
        assert response.status_code == 409 and response.json()["code"] == "illegal_transition"
    edit = await patch(client, w.h["committee"], pid, title="改个名字")
    assert edit.status_code == 409 and edit.json()["code"] == "project_closed"
    late = await progress(client, w.h["committee"], pid, 100)
    assert late.status_code == 409 and late.json()["code"] == "project_closed"

    seen = await client.get(f"/api/v1/projects/{pid}", headers=w.h["resident"])
    assert seen.json()["status"] == "done" and seen.json()["progress_percent"] == 100

    async with db() as session:
        audit = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.object_type == "project", AuditEntry.object_id == pid)
                .order_by(AuditEntry.id)
            )
        ).all()
        topics = (
            await session.scalars(
                select(OutboxItem.topic)
                .where(OutboxItem.ordering_key == f"project:{pid}")
                .order_by(OutboxItem.id)
            )
        ).all()
    assert [a.action for a in audit] == [
        "project.create",
        "project.transition",
        "project.transition",
        "project.progress",
        "project.transition",
    ]
    assert audit[-1].details["from"] == "building" and audit[-1].details["to"] == "done"
    assert topics == [
        "project.created",
        "project.status_changed",
        "project.status_changed",
        "project.progress",
        "project.status_changed",
    ]


async def test_cancel_from_any_open_status(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    for path in ((), ("designing",), ("designing", "building")):
        project = await create_project(client, w.h["committee"], w.a)
        await move_to(client, w.h["committee"], project["id"], *path, "cancelled")
        closed = await progress(client, w.h["committee"], project["id"], 10)
        assert closed.status_code == 409 and closed.json()["code"] == "project_closed"
        reopen = await patch(client, w.h["committee"], project["id"], status="designing")
        assert reopen.json()["code"] == "illegal_transition"


async def test_edit_facts_and_bad_input(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    project = await create_project(
        client, w.h["committee"], w.a, planned_start="2026-03-01", planned_end="2026-12-31"
    )
    pid = project["id"]
    edited = await patch(
        client,
        w.h["street_staff"],
        pid,
        title="曹杨一村口袋公园（二期）",
        budget_source="市级补贴",
        responsible_unit=None,
        planned_end="2027-03-31",
        year=2027,
        category="greenery",
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["title"] == "曹杨一村口袋公园（二期）" and body["budget_source"] == "市级补贴"
    assert body["responsible_unit"] is None and body["planned_end"] == "2027-03-31"
    assert body["year"] == 2027 and body["category"] == "greenery"
    assert body["updated_at"] >= project["updated_at"]

    future = (shanghai_today() + dt.timedelta(days=3)).isoformat()
    bad = [
        ({}, "validation_failed"),
        ({"title": None}, "validation_failed"),
        ({"title": "x"}, "validation_failed"),
        ({"status": "finished"}, "validation_failed"),
        ({"status": None}, "validation_failed"),
        ({"year": 1999}, "validation_failed"),
        ({"planned_start": "2027-06-01"}, "validation_failed"),  # after the planned end
        ({"planned_end": "not-a-date"}, "validation_failed"),
        ({"actual_start": future}, "validation_failed"),
        ({"actual_start": "2026-05-01", "actual_end": "2026-04-01"}, "validation_failed"),
        ({"category": "nope"}, "validation_failed"),
        ({"progress_percent": 50}, "validation_failed"),
        ({"budget_source": "x" * 101}, "validation_failed"),
    ]
    for fields, code in bad:
        response = await patch(client, w.h["committee"], pid, **fields)
        assert response.status_code == 422, (fields, response.text)
        assert response.json()["code"] == code, fields
    unchanged = await client.get(f"/api/v1/projects/{pid}", headers=w.h["committee"])
    assert unchanged.json()["planned_start"] == "2026-03-01"
    assert unchanged.json()["actual_start"] is None

    # Who may change it: committee of the community and street staff; not residents,
    # planners, or staff of another community (who cannot see it at all).
    for who, status in (
        ("resident", 403),
        ("planner", 403),
        ("committee_b", 404),
        ("outsider", 404),
    ):
        response = await patch(client, w.h[who], pid, status="designing")
        assert response.status_code == status, (who, response.text)
    missing = await patch(
        client, w.h["street_staff"], "01900000-0000-7000-8000-000000000000", title="不存在"
    )
    assert missing.status_code == 404
    assert (
        await client.patch(f"/api/v1/projects/{pid}", json={"title": "匿名"})
    ).status_code == 401
    still = await client.get(f"/api/v1/projects/{pid}", headers=w.h["committee"])
    assert still.json()["status"] == "planned"
