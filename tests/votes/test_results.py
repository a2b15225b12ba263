"""Results: the visibility rules, paper and hand counts apart and in the totals, audit."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.system import AuditEntry
from tests.events.helpers import make_world
from tests.votes.helpers import coordination, vote


async def test_results_after_close(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="after_close")
    assert (await vote(client, w.h["resident"], eid, [opts[0]])).status_code == 201
    hidden = await client.get(f"/api/v1/events/{eid}/results", headers=w.h["resident"])
    assert hidden.status_code == 403 and hidden.json()["code"] == "results_hidden"
    for staff in ("committee", "street_staff"):
        seen = await client.get(f"/api/v1/events/{eid}/results", headers=w.h[staff])
        assert seen.status_code == 200 and seen.json()["options"][0]["votes"] == 1
    await client.post(f"/api/v1/events/{eid}/close", headers=w.h["committee"])
    shown = await client.get(f"/api/v1/events/{eid}/results", headers=w.h["neighbour"])
    assert shown.status_code == 200 and shown.json()["final"] is True


async def test_results_after_vote_and_live(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="after_vote")
    before = await client.get(f"/api/v1/events/{eid}/results", headers=w.h["resident"])
    assert before.status_code == 403 and before.json()["code"] == "results_hidden"
    assert (await vote(client, w.h["resident"], eid, [opts[1]])).status_code == 201
    after = await client.get(f"/api/v1/events/{eid}/results", headers=w.h["resident"])
    assert after.status_code == 200 and after.json()["options"][1]["votes"] == 1
    still_hidden = await client.get(f"/api/v1/events/{eid}/results", headers=w.h["neighbour"])
    assert still_hidden.status_code == 403

    live_id, _ = await coordination(client, w, results_visibility="live")
    live = await client.get(f"/api/v1/events/{live_id}/results", headers=w.h["neighbour"])
    assert live.status_code == 200 and live.json()["voters"] == 0
    outsider = await client.get(f"/api/v1/events/{live_id}/results", headers=w.h["outsider"])
    assert outsider.status_code == 404


async def test_paper_counts(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="live", quorum=10, electorate=20)
    assert (await vote(client, w.h["resident"], eid, [opts[0]])).status_code == 201
    url = f"/api/v1/events/{eid}/paper-counts"
    entered = await client.post(
        url,
        json={"counts": {opts[0]: 3, opts[1]: 5}, "note": "现场举手"},
        headers=w.h["committee"],
    )
    assert entered.status_code == 201, entered.text
    results = entered.json()
    assert results["voters"] == 1 and results["paper_voters"] == 8
    assert results["participants"] == 9 and results["quorum_met"] is False
    assert [(o["online_votes"], o["paper_votes"], o["votes"]) for o in results["options"]] == [
        (1, 3, 4),
        (0, 5, 5),
        (0, 0, 0),
    ]
    assert results["total_votes"] == 9 and results["options"][1]["share"] == round(5 / 9, 4)

    # A correction replaces the count of that option.
    fixed = await client.post(url, json={"counts": {opts[1]: 9}}, headers=w.h["committee"])
    assert fixed.json()["options"][1]["paper_votes"] == 9 and fixed.json()["quorum_met"] is True

    bad = [
        ({"counts": {opts[0]: -1}}, "invalid_count"),
        ({"counts": {opts[0]: 1.5}}, "invalid_count"),
        ({"counts": {opts[0]: "3"}}, "invalid_count"),
        ({"counts": {opts[0]: True}}, "invalid_count"),
        ({"counts": {opts[0]: 10_000_001}}, "invalid_count"),
        ({"counts": {"nonsense": 1}}, "unknown_option"),
        ({"counts": {}}, "validation_failed"),
    ]
    for body, code in bad:
        response = await client.post(url, json=body, headers=w.h["committee"])
        assert response.status_code == 422 and response.json()["code"] == code, body
    by_resident = await client.post(url, json={"counts": {opts[0]: 1}}, headers=w.h["resident"])
    assert by_resident.status_code == 403

    await client.post(f"/api/v1/events/{eid}/close", headers=w.h["committee"])
    late = await client.post(url, json={"counts": {opts[0]: 1}}, headers=w.h["committee"])
    assert late.status_code == 409 and late.json()["code"] == "event_not_open"
    async with db() as session:
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.object_id == eid, AuditEntry.action == "event.paper_counts")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert len(entries) == 2 and entries[0].details["note"] == "现场举手"


async def test_multiple_choice_paper_needs_voters(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, method="multiple", max_choices=3, electorate=10)
    url = f"/api/v1/events/{eid}/paper-counts"
    missing = await client.post(url, json={"counts": {opts[0]: 2}}, headers=w.h["committee"])
    assert missing.status_code == 422 and missing.json()["code"] == "invalid_count"
    given = await client.post(
        url, json={"counts": {opts[0]: 2, opts[1]: 2}, "voters": 3}, headers=w.h["committee"]
    )
    assert given.status_code == 201 and given.json()["paper_voters"] == 3
