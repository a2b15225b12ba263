"""Every way to rate wrongly is a 4xx with its own code, and changes nothing."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.event import EventKind, EventStatus
from src.models.rating import Rating
from tests.ratings.helpers import SCORES, make_meeting, make_project, make_world, rate


async def _count(db: async_sessionmaker[AsyncSession], event_id: object) -> int:
    async with db() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Rating).where(Rating.event_id == event_id)
            )
            or 0
        )


@pytest.mark.parametrize(
    ("scores", "status", "code"),
    [
        ({**SCORES, "overall": 6}, 422, "score_out_of_range"),
        ({**SCORES, "design": 0}, 422, "score_out_of_range"),
        ({**SCORES, "design": -3}, 422, "score_out_of_range"),
        ({**SCORES, "beauty": 4}, 422, "unknown_criterion"),
        ({"overall": 4, "design": 4, "construction": 4}, 422, "missing_criterion"),
        ({**SCORES, "overall": "5"}, 422, "validation_failed"),
        ({**SCORES, "overall": 4.5}, 422, "validation_failed"),
        ({**SCORES, "overall": True}, 422, "validation_failed"),
        ({**SCORES, "overall": None}, 422, "validation_failed"),
        ({}, 422, "validation_failed"),
    ],
)
async def test_bad_scores(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    scores: dict[str, object],
    status: int,
    code: str,
) -> None:
    w = await make_world(db, client)
    project = await make_project(db, w.a, w.committee)
    event = await make_meeting(db, w.a, w.committee, project_id=project)
    response = await client.post(
        f"/api/v1/events/{event}/ratings", json={"scores": scores}, headers=w.h["resident"]
    )
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await _count(db, event) == 0


async def test_malformed_bodies(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    event = await make_meeting(db, w.a, w.committee)
    url = f"/api/v1/events/{event}/ratings"
    cases = [
        {"scores": SCORES, "extra": 1},
        {"scores": SCORES, "comment": "x" * 1001},
        {"scores": SCORES, "photo_ids": ["not-a-uuid"]},
        {"scores": [5, 4, 4, 3]},
        {"comment": "没有评分"},
    ]
    for body in cases:
        response = await client.post(url, json=body, headers=w.h["resident"])
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "validation_failed"
    raw = await client.post(url, content=b"{not json", headers=w.h["resident"])
    assert raw.status_code == 400 and raw.json()["code"] == "malformed_body"
    foreign = await client.post(
        url,
        json={"scores": SCORES, "photo_ids": ["0191c5a0-0000-7000-8000-000000000001"]},
        headers=w.h["resident"],
    )
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "photo_ids"
    assert await _count(db, event) == 0


async def test_meeting_kind_state_and_eligibility(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    coordination = await make_meeting(db, w.a, w.committee, kind=EventKind.coordination)
    response = await rate(client, w.h["resident"], coordination)
    assert response.status_code == 409 and response.json()["code"] == "not_review_event"
    for status in (EventStatus.closed, EventStatus.cancelled, EventStatus.draft):
        event = await make_meeting(db, w.a, w.committee, status=status)
        response = await rate(client, w.h["resident"], event)
        assert response.status_code == 409 and response.json()["code"] == "event_not_open"
    draft = await make_meeting(db, w.a, w.committee, status=EventStatus.draft)
    response = await rate(client, w.h["resident"], draft)
    assert response.status_code == 409 and response.json()["code"] == "event_not_open"
    event = await make_meeting(db, w.a, w.committee)
    other = await rate(client, w.h["outsider"], event)
    assert other.status_code == 403 and other.json()["code"] == "not_eligible"
    unverified = await rate(client, w.h["unverified"], event)
    assert unverified.status_code == 403 and unverified.json()["code"] == "not_eligible"
    # Staff rate nothing in the name of residents (they have no home community here).
    staff = await rate(client, w.h["committee"], event)
    assert staff.status_code == 403 and staff.json()["code"] == "not_eligible"
    checked_in_only = await make_meeting(db, w.a, w.committee, voting={"eligibility": "checked_in"})
    absent = await rate(client, w.h["resident"], checked_in_only)
    assert absent.status_code == 403 and absent.json()["code"] == "not_eligible"
    missing = await rate(client, w.h["resident"], "0191c5a0-0000-7000-8000-000000000002")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    no_token = await client.post(f"/api/v1/events/{event}/ratings", json={"scores": SCORES})
    assert no_token.status_code == 401
    english = await rate(client, {**w.h["outsider"], "Accept-Language": "en"}, event)
    assert "residents of this community" in english.json()["detail"]
    assert await _count(db, event) == 0


async def test_change_and_read_errors(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    event = await make_meeting(db, w.a, w.committee)
    mine = f"/api/v1/events/{event}/ratings/mine"
    assert (await client.get(mine, headers=w.h["resident"])).status_code == 404
    never = await client.put(mine, json={"scores": SCORES}, headers=w.h["resident"])
    assert never.status_code == 404
    assert (await rate(client, w.h["resident"], event)).status_code == 201
    bad = await client.put(
        mine, json={"scores": {**SCORES, "usefulness": 9}}, headers=w.h["resident"]
    )
    assert bad.status_code == 422 and bad.json()["code"] == "score_out_of_range"
    assert (await client.get(mine, headers=w.h["resident"])).json()["revision"] == 1


async def test_staff_only_actions(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    event = await make_meeting(db, w.a, w.committee)
    created = await rate(client, w.h["resident"], event, comment="座椅太少")
    rating_id = created.json()["id"]
    base = f"/api/v1/events/{event}/ratings"
    paper = {"counts": {"overall": {"5": 3}}}
    for who in ("resident", "committee_b"):
        r = await client.post(f"{base}/paper-counts", json=paper, headers=w.h[who])
        assert r.status_code in (403, 404), r.text
        r = await client.post(f"{base}/{rating_id}/hide", json={"reason": "x"}, headers=w.h[who])
        assert r.status_code in (403, 404)
    out_of_range = await client.post(
        f"{base}/paper-counts", json={"counts": {"overall": {"6": 1}}}, headers=w.h["committee"]
    )
    assert out_of_range.status_code == 422 and out_of_range.json()["code"] == "score_out_of_range"
    negative = await client.post(
        f"{base}/paper-counts", json={"counts": {"overall": {"5": -1}}}, headers=w.h["committee"]
    )
    assert negative.status_code == 422
    unknown = await client.post(
        f"{base}/paper-counts", json={"counts": {"beauty": {"5": 1}}}, headers=w.h["committee"]
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_criterion"
    no_reason = await client.post(f"{base}/{rating_id}/hide", json={}, headers=w.h["committee"])
    assert no_reason.status_code == 422
    criteria = await client.put(
        f"{base}/criteria",
        json={"criteria": [{"code": "overall", "name_zh": "总体", "name_en": "Overall"}]},
        headers=w.h["committee"],
    )
    assert criteria.status_code == 409 and criteria.json()["code"] == "event_not_draft"
