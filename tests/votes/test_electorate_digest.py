"""The electorate (residents who may vote, on the app or not) bounds paper voters and turnout;
after close the results carry the digest of the published receipts, which a recount checks."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.events.helpers import create_event, make_world
from tests.votes.helpers import OPTIONS, coordination, vote


async def test_electorate_is_validated_per_field(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    for bad in (0, -3, 1.5, "7", True, 10_000_001):
        response = await client.post(
            "/api/v1/events",
            json={
                "kind": "coordination",
                "title": "协调会",
                "community_id": str(w.a.id),
                "starts_at": "2026-12-10T09:00:00+08:00",
                "ends_at": "2026-12-10T11:00:00+08:00",
                "voting": {"electorate": bad},
            },
            headers=w.h["committee"],
        )
        assert response.status_code == 422, (bad, response.text)
        problem = response.json()
        assert problem["code"] == "validation_failed"
        assert [e["field"] for e in problem["errors"]] == ["voting.electorate"], problem
    event = await create_event(client, w.h["committee"], w.a, voting={"electorate": 120})
    assert event["voting"]["electorate"] == 120


async def test_turnout_and_paper_voters_follow_the_electorate(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)  # two eligible app users: resident and neighbour
    # Without an electorate the eligible app users bound it: 7 paper voters are refused.
    eid, opts = await coordination(client, w, results_visibility="live")
    assert (await vote(client, w.h["resident"], eid, [opts[0]])).status_code == 201
    paper = f"/api/v1/events/{eid}/paper-counts"
    refused = await client.post(
        paper, json={"counts": {opts[0]: 3, opts[1]: 4}}, headers=w.h["committee"]
    )
    assert refused.status_code == 422 and refused.json()["code"] == "paper_exceeds_electorate"
    assert refused.json()["errors"] == [{"field": "voters", "message": "at most 1"}]
    english = await client.post(
        paper,
        json={"counts": {opts[0]: 7}},
        headers={**w.h["committee"], "Accept-Language": "en"},
    )
    assert "electorate" in english.json()["detail"]
    results = (await client.get(f"/api/v1/events/{eid}/results", headers=w.h["resident"])).json()
    assert results["paper_voters"] == 0 and results["turnout"] == 0.5  # nothing was written
    fits = await client.post(paper, json={"counts": {opts[1]: 1}}, headers=w.h["committee"])
    assert fits.status_code == 201 and fits.json()["turnout"] == 1.0

    # With an electorate of 40 (most residents not on the app): 30 on paper fit, 40 do not.
    eid, opts = await coordination(client, w, results_visibility="live", electorate=40)
    assert (await vote(client, w.h["resident"], eid, [opts[0]])).status_code == 201
    paper = f"/api/v1/events/{eid}/paper-counts"
    entered = await client.post(
        paper, json={"counts": {opts[0]: 10, opts[1]: 20}}, headers=w.h["committee"]
    )
    assert entered.status_code == 201, entered.text
    body = entered.json()
    assert body["electorate"] == 40 and body["eligible_count"] == 2
    assert body["participants"] == 31 and body["turnout"] == round(31 / 40, 4)
    too_many = await client.post(
        paper, json={"counts": {opts[0]: 20, opts[1]: 20}}, headers=w.h["committee"]
    )
    assert too_many.status_code == 422 and too_many.json()["code"] == "paper_exceeds_electorate"
    multiple = await coordination(
        client, w, results_visibility="live", method="multiple", max_choices=2, electorate=5
    )
    over = await client.post(
        f"/api/v1/events/{multiple[0]}/paper-counts",
        json={"counts": {multiple[1][0]: 4, multiple[1][1]: 4}, "voters": 6},
        headers=w.h["committee"],
    )
    assert over.status_code == 422 and over.json()["code"] == "paper_exceeds_electorate"

    # A burst of concurrent entries never takes turnout past 100 %.
    eid, opts = await coordination(client, w, results_visibility="live", electorate=10)
    replies = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/events/{eid}/paper-counts",
                json={"counts": {opts[0]: n}},
                headers=w.h["committee"],
            )
            for n in (4, 8, 12, 16)
        )
    )
    assert sorted(r.status_code for r in replies) == [201, 201, 422, 422]
    final = (await client.get(f"/api/v1/events/{eid}/results", headers=w.h["committee"])).json()
    assert final["paper_voters"] in (4, 8) and final["turnout"] <= 1.0


async def _all_receipts(
    client: httpx.AsyncClient, event_id: str, headers: dict[str, str]
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await client.get(
            f"/api/v1/events/{event_id}/receipts", params=params, headers=headers
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


async def test_digest_of_the_published_receipts_recounts(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(
        client, w, results_visibility="live", method="multiple", max_choices=3
    )
    assert (await vote(client, w.h["resident"], eid, [opts[2], opts[0]])).status_code == 201
    assert (await vote(client, w.h["neighbour"], eid, [opts[1]])).status_code == 201
    running = (await client.get(f"/api/v1/events/{eid}/results", headers=w.h["resident"])).json()
    assert running["digest"] is None  # not before close
    assert (
        await client.post(f"/api/v1/events/{eid}/close", headers=w.h["committee"])
    ).status_code == 200
    results = (await client.get(f"/api/v1/events/{eid}/results", headers=w.h["neighbour"])).json()

    receipts = await _all_receipts(client, eid, w.h["neighbour"])
    assert len(receipts) == results["voters"] == 2
    assert [r["receipt"] for r in receipts] == sorted(r["receipt"] for r in receipts)
    # The recount: each option's online votes from the receipts alone.
    recount = {o: sum(o in r["option_ids"] for r in receipts) for o in opts}
    assert recount == {o["id"]: o["online_votes"] for o in results["options"]}
    # The digest, recomputed as src/votes/digest.py documents it.
    lines = "".join(f"{r['receipt']} {','.join(sorted(r['option_ids']))}\n" for r in receipts)
    assert results["digest"] == hashlib.sha256(lines.encode()).hexdigest()
    # A changed list would not match: one choice moved.
    elsewhere = next(o for o in opts if o not in receipts[0]["option_ids"])
    moved = lines.replace(receipts[0]["option_ids"][0], elsewhere, 1)
    assert hashlib.sha256(moved.encode()).hexdigest() != results["digest"]

    empty_id, _ = await coordination(client, w, results_visibility="live")
    await client.post(f"/api/v1/events/{empty_id}/close", headers=w.h["committee"])
    empty = (await client.get(f"/api/v1/events/{empty_id}/results", headers=w.h["resident"])).json()
    assert empty["digest"] == hashlib.sha256(b"").hexdigest()
    assert OPTIONS  # the three options of the helper
