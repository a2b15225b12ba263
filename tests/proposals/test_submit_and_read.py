from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.models.system import OutboxItem
from tests.proposals.helpers import make_world, submit


async def test_categories_in_both_languages(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    zh = (await client.get("/api/v1/proposals/categories", headers=w.h["resident"])).json()
    codes = {c["code"]: c for c in zh}
    assert codes["accessibility"]["name"] == "无障碍与加装电梯"
    assert codes["elderly_care"]["group"] == "care"
    en = await client.get(
        "/api/v1/proposals/categories", headers={**w.h["resident"], "Accept-Language": "en"}
    )
    assert {c["code"]: c["name"] for c in en.json()}["parking"] == "Parking and bicycles"


async def test_submit_defaults_to_home_community_and_reads_back(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    created = await submit(
        client,
        w.h["resident"],
        location={"lat": 31.2436, "lng": 121.4072, "coord_sys": "gcj02"},
    )
    assert created["community_id"] == str(w.a.id)
    assert created["street_id"] == str(w.street.id)
    assert created["status"] == "submitted"
    assert created["support_count"] == 0 and created["supported_by_me"] is False
    assert created["replies"] == [] and created["history"] == []
    assert created["location"]["lat"] == pytest.approx(31.2436, abs=1e-6)
    # The same point in WGS-84 is a few hundred metres away.
    wgs = await client.get(
        f"/api/v1/proposals/{created['id']}?coord_sys=wgs84", headers=w.h["neighbour"]
    )
    assert wgs.status_code == 200
    assert abs(wgs.json()["location"]["lng"] - 121.4072) > 0.003
    async with db() as session:
        topics = (
            await session.scalars(
                select(OutboxItem.topic).where(
                    OutboxItem.ordering_key == f"proposal:{created['id']}"
                )
            )
        ).all()
    assert topics == ["proposal.created"]


async def test_anonymous_author_is_hidden_from_others_only(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    created = await submit(client, w.h["resident"], anonymous=True)
    mine = await client.get(f"/api/v1/proposals/{created['id']}", headers=w.h["resident"])
    assert mine.json()["author"]["id"] == str(w.resident.id)
    assert mine.json()["is_mine"] is True
    other = await client.get(f"/api/v1/proposals/{created['id']}", headers=w.h["neighbour"])
    assert other.json()["author"] == {"id": None, "display_name": "匿名居民"}
    staff = await client.get(f"/api/v1/proposals/{created['id']}", headers=w.h["committee"])
    assert staff.json()["author"]["display_name"] == "匿名居民"
    listed = await client.get(f"/api/v1/proposals?community_id={w.a.id}", headers=w.h["neighbour"])
    assert listed.json()["items"][0]["author"]["id"] is None


async def test_bad_input_is_a_clear_4xx(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    url = "/api/v1/proposals"
    base = {"title": "加装电梯", "body": "内容", "category": "accessibility"}
    cases = [
        ({**base, "category": "nope"}, 422, "category"),
        ({**base, "title": "长" * 81}, 422, "title"),
        ({**base, "body": "长" * 2001}, 422, "body"),
        ({**base, "location": {"lat": 100, "lng": 121.4}}, 422, "location"),
        ({**base, "location": {"lat": 31, "lng": 121.4, "coord_sys": "mars"}}, 422, "location"),
        ({**base, "community_id": "not-a-uuid"}, 422, "community_id"),
        ({**base, "photo_ids": ["0190d7a4-1b2c-7d3e-8f40-123456789abc"]}, 422, "photo_ids"),
        ({**base, "extra": 1}, 422, "extra"),
    ]
    for body, status, field in cases:
        response = await client.post(url, json=body, headers=w.h["resident"])
        assert response.status_code == status, (body, response.text)
        problem = response.json()
        assert problem["code"] == "validation_failed"
        assert any(field in e["field"] for e in problem["errors"]), problem
    # English on request, with the reason.
    response = await client.post(
        url, json={**base, "body": "x" * 2001}, headers={**w.h["resident"], "Accept-Language": "en"}
    )
    assert response.json()["detail"] == "The request is not valid"
    assert "2000" in response.json()["errors"][0]["message"]
    # A street is not a community; another street's community does not exist for a resident.
    street = await client.post(
        url, json={**base, "community_id": str(w.street.id)}, headers=w.h["resident"]
    )
    assert street.status_code == 422
    foreign = await client.post(
        url, json={**base, "community_id": str(w.b.id)}, headers=w.h["resident"]
    )
    assert foreign.status_code == 404
    assert (await client.post(url, json=base)).status_code == 401
    bad_cursor = await client.get(f"{url}?cursor=%%%", headers=w.h["resident"])
    assert bad_cursor.status_code == 400 and bad_cursor.json()["code"] == "invalid_cursor"
    bad_sort = await client.get(f"{url}?sort=random", headers=w.h["resident"])
    assert bad_sort.status_code == 422
    too_long_q = await client.get(f"{url}?q={'电' * 51}", headers=w.h["resident"])
    assert too_long_q.status_code == 422


async def test_submission_rate_limit(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = await make_world(db, client)
    monkeypatch.setattr(settings, "proposal_submit_limit", 2)
    await submit(client, w.h["resident"])
    await submit(client, w.h["resident"])
    third = await client.post(
        "/api/v1/proposals",
        json={"title": "第三条", "body": "内容", "category": "other"},
        headers=w.h["resident"],
    )
    assert third.status_code == 429
    assert third.json()["code"] == "rate_limited"
    # Another resident is not affected.
    await submit(client, w.h["neighbour"])


async def test_idempotent_submission(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    body = {"title": "增加长椅", "body": "小区花园缺少座椅", "category": "public_space"}
    headers = {**w.h["resident"], "Idempotency-Key": "proposal-retry-1"}
    first = await client.post("/api/v1/proposals", json=body, headers=headers)
    again = await client.post("/api/v1/proposals", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    mine = await client.get("/api/v1/me/proposals", headers=w.h["resident"])
    assert [p["id"] for p in mine.json()["items"]] == [first.json()["id"]]
