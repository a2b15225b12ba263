"""好差评 through HTTP: once a month per resident (changeable, race-safe), summaries, the area
ranking, comments for the responsible unit only, and the share on nearby results."""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass

import httpx
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.areas.service import create_area
from src.facilities_nearby.demo import CENTER_GCJ
from src.models.area import Area, AreaLevel
from src.models.facility import Facility
from src.models.user import Role
from tests.builders import login, make_user, unique_code


@dataclass
class Place:
    street: Area
    community: Area
    other_street: Area
    facilities: list[uuid.UUID]


async def make_place(db: async_sessionmaker[AsyncSession]) -> Place:
    """Two streets far from every other test's areas, three facilities by the first one's
    community (its responsible area: the nearest community centroid)."""
    lat, lng = 30.5 + random.random() / 5, 121.0 + random.random() / 5
    async with db() as session, session.begin():
        district = await create_area(
            session,
            code=unique_code("D"),
            name="评价区",
            level=AreaLevel.district,
            parent=None,
            lat=lat,
            lng=lng,
        )
        street = await create_area(
            session,
            code=unique_code("S"),
            name="评价街道",
            level=AreaLevel.street,
            parent=district,
            lat=lat,
            lng=lng,
        )
        community = await create_area(
            session,
            code=unique_code("C"),
            name="评价村",
            level=AreaLevel.community,
            parent=street,
            lat=lat,
            lng=lng,
        )
        other = await create_area(
            session,
            code=unique_code("S"),
            name="别的街道",
            level=AreaLevel.street,
            parent=district,
            lat=lat + 0.5,
            lng=lng,
        )
        facilities = []
        for i, category in enumerate(["health_center", "health_center", "elderly_canteen"]):
            f = Facility(
                source="test-reviews",
                external_id=unique_code("F"),
                name=f"设施{i}",
                category=category,
                lat=lat + i / 10000,
                lng=lng,
            )
            session.add(f)
            await session.flush()
            facilities.append(f.id)
    return Place(street, community, other, facilities)


def url(facility_id: uuid.UUID, tail: str = "") -> str:
    return f"/api/v1/facilities/{facility_id}/reviews{tail}"


async def test_one_review_a_month_changeable_and_summarised(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    place = await make_place(db)
    fid = place.facilities[0]
    resident = await login(client, await make_user(db, community=place.community))
    first = await client.post(
        url(fid),
        json={
            "verdict": "bad",
            "reasons": ["waiting_time", "cleanliness", "waiting_time"],
            "comment": "排队太久",
        },
        headers=resident,
    )
    assert first.status_code == 201, first.text
    assert first.json()["reasons"] == ["cleanliness", "waiting_time"]
    assert first.json()["created"] is True
    changed = await client.post(url(fid), json={"verdict": "good"}, headers=resident)
    assert changed.status_code == 201, changed.text  # API.md: → 201, new or changed
    assert changed.json()["created"] is False
    assert (changed.json()["verdict"], changed.json()["reasons"]) == ("good", [])
    assert changed.json()["comment"] is None  # the review as it now stands
    assert changed.json()["id"] == first.json()["id"]
    summary = (await client.get(url(fid, "/summary"), headers=resident)).json()
    assert (summary["count"], summary["good"], summary["bad"]) == (1, 1, 0)
    assert summary["good_share"] == 1.0 and summary["this_month"] == {"good": 1, "bad": 0}
    assert summary["responsible_area_id"] == str(place.community.id)
    others = [await login(client, await make_user(db, community=place.community)) for _ in range(3)]
    for h, verdict in zip(others, ["bad", "bad", "good"], strict=True):
        r = await client.post(
            url(fid), json={"verdict": verdict, "reasons": ["opening_hours"]}, headers=h
        )
        assert r.status_code == 201
    summary = (await client.get(url(fid, "/summary"), headers=resident)).json()
    assert (summary["count"], summary["good"], summary["bad"]) == (4, 2, 2)
    assert summary["reasons"]["bad"]["opening_hours"] == 2
    assert summary["reasons"]["good"]["opening_hours"] == 1
    assert summary["good_share"] == 0.5
    # Last month's review is a separate one; the summary counts both months.
    async with db() as session, session.begin():
        await session.execute(
            text(
                "UPDATE facility_reviews SET month = (month - interval '1 month')::date "
                "WHERE id = :id"
            ),
            {"id": first.json()["id"]},
        )
    again = await client.post(url(fid), json={"verdict": "bad"}, headers=resident)
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
    summary = (await client.get(url(fid, "/summary"), headers=resident)).json()
    assert summary["count"] == 5 and summary["this_month"] == {"good": 1, "bad": 3}


async def test_double_taps_write_one_review(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    place = await make_place(db)
    fid = place.facilities[1]
    resident = await login(client, await make_user(db, community=place.community))
    replies = await asyncio.gather(
        *(client.post(url(fid), json={"verdict": v}, headers=resident) for v in ["good", "bad"] * 5)
    )
    assert all(r.status_code == 201 for r in replies), [r.text for r in replies]
    assert sum(r.json()["created"] for r in replies) == 1  # one insert, the others changes
    assert len({r.json()["id"] for r in replies}) == 1
    summary = (await client.get(url(fid, "/summary"), headers=resident)).json()
    assert summary["count"] == 1


async def test_the_document_says_a_review_answers_201_new_or_changed(
    client: httpx.AsyncClient,
) -> None:
    doc = (await client.get("/schema/openapi.json")).json()
    responses = doc["paths"]["/api/v1/facilities/{facility_id}/reviews"]["post"]["responses"]
    assert [s for s in responses if s.startswith("2")] == ["201"]


async def test_bad_input_and_unknown_facility(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    place = await make_place(db)
    resident = await login(client, await make_user(db, community=place.community))
    fid = place.facilities[0]
    for body in (
        {"verdict": "meh"},
        {"verdict": "good", "reasons": ["smell"]},
        {"verdict": "good", "comment": "x" * 501},
        {},
        {"verdict": "good", "extra": 1},
    ):
        r = await client.post(url(fid), json=body, headers=resident)
        assert r.status_code in (400, 422), body
        assert r.json()["code"] == "validation_failed"
    r = await client.post(url(uuid.uuid4()), json={"verdict": "good"}, headers=resident)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert (await client.post(url(fid), json={"verdict": "good"})).status_code == 401


async def test_comments_for_the_responsible_unit_with_masked_authors(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    place = await make_place(db)
    fid = place.facilities[0]
    resident = await login(client, await make_user(db, community=place.community))
    await client.post(
        url(fid), json={"verdict": "bad", "comment": "门口台阶太高"}, headers=resident
    )
    await client.post(
        url(fid),
        json={"verdict": "good"},
        headers=await login(client, await make_user(db, community=place.community)),
    )
    street = await login(client, await make_user(db, role=Role.street, area=place.street))
    committee = await login(client, await make_user(db, role=Role.committee, area=place.community))
    other = await login(client, await make_user(db, role=Role.street, area=place.other_street))
    for h in (street, committee):
        page = await client.get(url(fid), headers=h)
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        assert [i["comment"] for i in items] == [
            "门口台阶太高"
        ]  # reviews without comment: not listed
        assert items[0]["author"] == "测***"  # 测试用户, masked
    for h in (other, resident):
        denied = await client.get(url(fid), headers=h)
        assert denied.status_code == 403 and denied.json()["code"] == "not_responsible_unit"


async def test_ranking_per_area_and_category_with_minimum(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    place = await make_place(db)
    a, b, canteen = place.facilities
    verdicts = {a: ["good", "good", "bad"], b: ["good", "good", "good"], canteen: ["good"]}
    residents = [
        await login(client, await make_user(db, community=place.community)) for _ in range(3)
    ]
    for fid, vs in verdicts.items():
        for h, v in zip(residents, vs, strict=False):
            assert (await client.post(url(fid), json={"verdict": v}, headers=h)).status_code == 201
    h = residents[0]
    ranking = await client.get(
        f"/api/v1/areas/{place.street.id}/facility-ranking?min_reviews=2", headers=h
    )
    assert ranking.status_code == 200, ranking.text
    items = ranking.json()["items"]
    assert [(i["facility_id"], i["count"], i["good"]) for i in items] == [
        (str(b), 3, 3),
        (str(a), 3, 2),
    ]
    only = await client.get(
        f"/api/v1/areas/{place.street.id}/facility-ranking?min_reviews=1&category=elderly_canteen",
        headers=h,
    )
    assert [i["facility_id"] for i in only.json()["items"]] == [str(canteen)]
    district = place.street.parent_id
    whole = await client.get(f"/api/v1/areas/{district}/facility-ranking?min_reviews=1", headers=h)
    assert len(whole.json()["items"]) == 3
    empty = await client.get(
        f"/api/v1/areas/{place.other_street.id}/facility-ranking?min_reviews=1", headers=h
    )
    assert empty.json()["items"] == []
    bad = await client.get(
        f"/api/v1/areas/{place.street.id}/facility-ranking?min_reviews=0", headers=h
    )
    assert bad.status_code in (400, 422) and bad.json()["code"] == "validation_failed"


async def test_nearby_results_carry_the_good_share(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], app: Litestar
) -> None:
    await app.state.facilities.refresh()  # the walking graph, up to date with the database
    lat, lng = CENTER_GCJ
    query = f"/api/v1/facilities/nearby?lat={lat}&lng={lng}&limit=5"
    items = (await client.get(query)).json()["items"]
    assert items, "the demo has facilities by the centre"
    target = items[-1]
    place_user = await make_user(db)
    h = await login(client, place_user)
    before = target["reviews"]
    await client.post(url(uuid.UUID(target["id"])), json={"verdict": "good"}, headers=h)
    after = {i["id"]: i for i in (await client.get(query)).json()["items"]}[target["id"]]
    assert after["reviews"] == before + 1
    summary = (await client.get(url(uuid.UUID(target["id"]), "/summary"), headers=h)).json()
    assert after["good_share"] == round(summary["good_share"], 4)
