"""Meetings: who creates and sees them, and the legal moves draft → open → closed/cancelled."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.system import AuditEntry, OutboxItem
from tests.events.helpers import create_event, make_world, times


async def test_committee_creates_and_residents_see(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    event = await create_event(client, w.h["committee"], w.a, kind="coordination")
    assert event["status"] == "draft"
    assert event["voting"] == {
        "method": "single",
        "max_choices": 1,
        "eligibility": "community_residents",
        "results_visibility": "after_close",
        "quorum": None,
        "electorate": None,
    }
    assert event["check_in_count"] == 0 and event["options"] == []

    seen = await client.get(f"/api/v1/events/{event['id']}", headers=w.h["resident"])
    assert seen.status_code == 200 and seen.json()["title"] == event["title"]
    listed = await client.get("/api/v1/events", headers=w.h["resident"])
    assert [e["id"] for e in listed.json()["items"]] == [event["id"]]

    # Another community's resident and committee do not see it at all.
    for who in ("outsider", "committee_b"):
        hidden = await client.get(f"/api/v1/events/{event['id']}", headers=w.h[who])
        assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    # The street's staff see all its communities' meetings.
    street = await client.get(
        "/api/v1/events", params={"street_id": str(w.street.id)}, headers=w.h["street_staff"]
    )
    assert [e["id"] for e in street.json()["items"]] == [event["id"]]


async def test_only_staff_of_the_community_create(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    starts_at, ends_at = times()
    body = {
        "kind": "consultation",
        "title": "加装电梯征询会",
        "community_id": str(w.a.id),
        "starts_at": starts_at,
        "ends_at": ends_at,
    }
    as_resident = await client.post("/api/v1/events", json=body, headers=w.h["resident"])
    assert as_resident.status_code == 403 and as_resident.json()["code"] == "role_required"
    other = await client.post("/api/v1/events", json=body, headers=w.h["committee_b"])
    assert other.status_code == 404
    by_street = await client.post("/api/v1/events", json=body, headers=w.h["street_staff"])
    assert by_street.status_code == 201 and by_street.json()["voting"] is None


async def test_bad_meeting_input(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    starts_at, ends_at = times()
    base = {
        "kind": "coordination",
        "title": "方案协调会",
        "community_id": str(w.a.id),
        "starts_at": starts_at,
        "ends_at": ends_at,
    }
    cases = [
        {**base, "ends_at": starts_at},
        {**base, "kind": "party"},
        {**base, "voting": {"method": "single", "max_choices": 2}},
        {**base, "voting": {"eligibility": "everyone"}},
        {**base, "kind": "consultation", "voting": {"method": "single"}},
        {**base, "project_id": str(uuid.uuid4())},
        {**base, "starts_at": "2026-12-01T10:00:00"},
        {**base, "surprise": 1},
    ]
    for body in cases:
        response = await client.post("/api/v1/events", json=body, headers=w.h["committee"])
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "validation_failed"
    english = await client.post(
        "/api/v1/events",
        json=cases[0],
        headers={**w.h["committee"], "Accept-Language": "en"},
    )
    assert english.json()["detail"] == "The request is not valid"


async def test_lifecycle_moves(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    h = w.h["committee"]
    event = await create_event(client, h, w.a)
    eid = event["id"]

    too_few = await client.post(f"/api/v1/events/{eid}/open", headers=h)
    assert too_few.status_code == 409 and too_few.json()["code"] == "not_enough_options"
    for title in ("方案一：保留大树", "方案二：增加座椅"):
        added = await client.post(f"/api/v1/events/{eid}/options", json={"title": title}, headers=h)
        assert added.status_code == 201
    by_resident = await client.post(f"/api/v1/events/{eid}/open", headers=w.h["resident"])
    assert by_resident.status_code == 403

    opened = await client.post(f"/api/v1/events/{eid}/open", headers=h)
    assert opened.status_code == 200
    assert opened.json()["status"] == "open" and opened.json()["opened_at"]
    assert [o["title"] for o in opened.json()["options"]] == [
        "方案一：保留大树",
        "方案二：增加座椅",
    ]

    late = await client.post(f"/api/v1/events/{eid}/options", json={"title": "方案三"}, headers=h)
    assert late.status_code == 409 and late.json()["code"] == "event_not_draft"
    again = await client.post(f"/api/v1/events/{eid}/open", headers=h)
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"

    closed = await client.post(f"/api/v1/events/{eid}/close", headers=w.h["street_staff"])
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    for move in ("open", "close", "cancel"):
        after = await client.post(f"/api/v1/events/{eid}/{move}", headers=h)
        assert after.status_code == 409 and after.json()["code"] == "illegal_transition"

    draft = await create_event(client, h, w.a, kind="review")
    cancelled = await client.post(f"/api/v1/events/{draft['id']}/cancel", headers=h)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    reopen = await client.post(f"/api/v1/events/{draft['id']}/open", headers=h)
    assert reopen.status_code == 409

    async with db() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_id.in_([eid, draft["id"]]))
                .order_by(AuditEntry.id)
            )
        ).all()
        topics = (
            await session.scalars(
                select(OutboxItem.topic)
                .where(OutboxItem.ordering_key == f"event:{eid}")
                .order_by(OutboxItem.id)
            )
        ).all()
    assert actions == [
        "event.create",
        "event.option_add",
        "event.option_add",
        "event.open",
        "event.close",
        "event.create",
        "event.cancel",
    ]
    assert topics == ["event.created", "event.status_changed", "event.status_changed"]


async def test_list_filters_and_pages(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    h = w.h["committee"]
    made = []
    for hours in (1, 2, 3):
        starts_at, ends_at = times(hours_from_now=hours)
        made.append(
            await create_event(
                client, h, w.a, kind="consultation", starts_at=starts_at, ends_at=ends_at
            )
        )
    past_start, past_end = times(hours_from_now=-5)
    past = await create_event(client, h, w.a, kind="review", starts_at=past_start, ends_at=past_end)
    ids: list[str] = []
    cursor = None
    while True:
        params = {"community_id": str(w.a.id), "limit": "2"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/events", params=params, headers=w.h["resident"])).json()
        ids += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert ids == [e["id"] for e in reversed(made)] + [past["id"]]

    upcoming = await client.get(
        "/api/v1/events", params={"when": "upcoming"}, headers=w.h["resident"]
    )
    assert past["id"] not in [e["id"] for e in upcoming.json()["items"]]
    reviews = await client.get(
        "/api/v1/events", params={"kind": "review", "status": "draft"}, headers=w.h["resident"]
    )
    assert [e["id"] for e in reviews.json()["items"]] == [past["id"]]
    bad = await client.get("/api/v1/events", params={"status": "maybe"}, headers=h)
    assert bad.status_code in (400, 422)
    bad_cursor = await client.get(
        "/api/v1/events", params={"cursor": "!!", "community_id": str(w.a.id)}, headers=h
    )
    assert bad_cursor.status_code == 400 and bad_cursor.json()["code"] == "invalid_cursor"
    no_area = await client.get("/api/v1/events", headers=h)
    assert no_area.status_code == 422 and no_area.json()["code"] == "area_required"
