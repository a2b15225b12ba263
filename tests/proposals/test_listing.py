from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.proposals.helpers import make_world, submit
from tests.proposals.test_uploads import jpeg_with_gps, upload


async def test_chinese_search_finds_two_and_one_character_words(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    lift = await submit(client, w.h["resident"], title="加装电梯", body="五号楼需要电梯")
    park = await submit(client, w.h["resident"], title="口袋公园", body="希望增加健身器材 Fitness")
    await submit(client, w.h["resident"], title="停车难", body="晚上没有车位")
    url = f"/api/v1/proposals?community_id={w.a.id}"

    async def found(q: str) -> list[str]:
        response = await client.get(url, params={"q": q}, headers=w.h["neighbour"])
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    assert await found("电梯") == [lift["id"]]
    assert await found("加装电梯") == [lift["id"]]
    assert await found("梯") == [lift["id"]]
    assert await found("健身器材") == [park["id"]]
    assert await found("fitness") == [park["id"]]
    assert await found("公园 器材") == [park["id"]]
    assert await found("电梯公园") == []
    assert await found("%") == []
    assert await found("_") == []


async def test_filters_status_and_category(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    lift = await submit(client, w.h["resident"])
    parking = await submit(client, w.h["resident"], title="停车难", category="parking")
    await client.post(
        f"/api/v1/proposals/{parking['id']}/transitions",
        json={"to": "under_review"},
        headers=w.h["committee"],
    )
    base = f"/api/v1/proposals?community_id={w.a.id}"
    by_cat = await client.get(f"{base}&category=accessibility", headers=w.h["neighbour"])
    assert [p["id"] for p in by_cat.json()["items"]] == [lift["id"]]
    by_status = await client.get(f"{base}&status=under_review", headers=w.h["neighbour"])
    assert [p["id"] for p in by_status.json()["items"]] == [parking["id"]]
    event_id = "0190d7a4-1b2c-7d3e-8f40-123456789abc"
    at_meeting = await submit(client, w.h["neighbour"], event_id=event_id)
    by_event = await client.get(f"{base}&event_id={event_id}", headers=w.h["resident"])
    assert [p["id"] for p in by_event.json()["items"]] == [at_meeting["id"]]


async def test_cursor_pages_are_stable_while_suggestions_arrive(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    ids = [(await submit(client, w.h["resident"], title=f"建议{i}"))["id"] for i in range(5)]
    url = f"/api/v1/proposals?community_id={w.a.id}&limit=2"
    first = (await client.get(url, headers=w.h["neighbour"])).json()
    assert [p["id"] for p in first["items"]] == ids[::-1][:2]
    await submit(client, w.h["neighbour"], title="新来的")
    second = (
        await client.get(f"{url}&cursor={first['next_cursor']}", headers=w.h["neighbour"])
    ).json()
    third = (
        await client.get(f"{url}&cursor={second['next_cursor']}", headers=w.h["neighbour"])
    ).json()
    seen = [p["id"] for p in first["items"] + second["items"] + third["items"]]
    assert seen == ids[::-1]
    assert third["next_cursor"] is None


async def test_most_supported_order_and_pages(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    few = await submit(client, w.h["resident"], title="一票")
    many = await submit(client, w.h["resident"], title="两票")
    none = await submit(client, w.h["resident"], title="零票")
    for who in ("resident", "neighbour"):
        await client.put(f"/api/v1/proposals/{many['id']}/support", headers=w.h[who])
    await client.put(f"/api/v1/proposals/{few['id']}/support", headers=w.h["neighbour"])
    url = f"/api/v1/proposals?community_id={w.a.id}&sort=most_supported&limit=2"
    page = (await client.get(url, headers=w.h["resident"])).json()
    assert [(p["id"], p["support_count"]) for p in page["items"]] == [
        (many["id"], 2),
        (few["id"], 1),
    ]
    assert [p["supported_by_me"] for p in page["items"]] == [True, False]
    rest = (await client.get(f"{url}&cursor={page['next_cursor']}", headers=w.h["resident"])).json()
    assert [p["id"] for p in rest["items"]] == [none["id"]]


async def test_area_scope(client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]) -> None:
    w = await make_world(db, client)
    in_a = await submit(client, w.h["resident"])
    in_b = await submit(client, w.h["outsider"], title="B社区的建议")

    async def status(path: str, who: str) -> int:
        return (await client.get(path, headers=w.h[who])).status_code

    # Residents: their own community only.
    assert await status(f"/api/v1/proposals?community_id={w.b.id}", "resident") == 404
    assert await status(f"/api/v1/proposals/{in_b['id']}", "resident") == 404
    assert await status(f"/api/v1/proposals?street_id={w.street.id}", "resident") == 404
    # A committee: its community only.
    assert await status(f"/api/v1/proposals?community_id={w.a.id}", "committee") == 200
    assert await status(f"/api/v1/proposals?community_id={w.b.id}", "committee") == 404
    assert await status(f"/api/v1/proposals/{in_b['id']}", "committee") == 404
    assert await status(f"/api/v1/proposals?street_id={w.street.id}", "committee") == 404
    reply = await client.post(
        f"/api/v1/proposals/{in_b['id']}/replies", json={"body": "收到"}, headers=w.h["committee"]
    )
    assert reply.status_code == 404
    # The street and its planner: every community of the street.
    for who in ("street_staff", "planner"):
        page = await client.get(f"/api/v1/proposals?street_id={w.street.id}", headers=w.h[who])
        assert {p["id"] for p in page.json()["items"]} == {in_a["id"], in_b["id"]}
    # Unknown ids: 404 as well.
    missing = "0190d7a4-1b2c-7d3e-8f40-123456789abc"
    assert await status(f"/api/v1/proposals/{missing}", "street_staff") == 404
    assert await status(f"/api/v1/proposals?community_id={missing}", "street_staff") == 404


async def test_street_counts_per_status_category_and_community(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    first = await submit(client, w.h["resident"])
    await submit(client, w.h["neighbour"], category="parking", title="停车")
    await submit(client, w.h["outsider"])
    await client.put(f"/api/v1/proposals/{first['id']}/support", headers=w.h["neighbour"])
    await client.post(
        f"/api/v1/proposals/{first['id']}/transitions",
        json={"to": "under_review"},
        headers=w.h["committee"],
    )
    url = f"/api/v1/proposals/stats?street_id={w.street.id}"
    stats = (await client.get(url, headers=w.h["street_staff"])).json()
    assert stats["total"] == 3 and stats["supports"] == 1
    assert stats["by_status"] == {"submitted": 2, "under_review": 1}
    assert stats["by_category"] == {"accessibility": 2, "parking": 1}
    assert stats["by_community"] == {str(w.a.id): 2, str(w.b.id): 1}
    filtered = (await client.get(f"{url}&category=parking", headers=w.h["street_staff"])).json()
    assert filtered["total"] == 1
    assert (await client.get(url, headers=w.h["committee"])).status_code == 404
    own = await client.get("/api/v1/proposals/stats", headers=w.h["resident"])
    assert own.json()["total"] == 2


async def test_a_listed_suggestion_reads_as_its_detail(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """Lists build their items from their own rows; what they show must not drift from the
    detail: author (anonymous to others), location in the asked system, photos in order, the
    viewer's support."""
    w = await make_world(db, client)
    photos = [(await upload(client, w.h["resident"], jpeg_with_gps())).json() for _ in range(2)]
    created = await submit(
        client,
        w.h["resident"],
        anonymous=True,
        location={"lat": 31.2436, "lng": 121.4072, "coord_sys": "gcj02"},
        photo_ids=[photos[1]["id"], photos[0]["id"]],
    )
    supported = await client.put(
        f"/api/v1/proposals/{created['id']}/support", headers=w.h["neighbour"]
    )
    assert supported.status_code == 200, supported.text
    lists = [
        ("neighbour", f"/api/v1/proposals?community_id={w.a.id}&coord_sys=wgs84"),
        ("neighbour", f"/api/v1/proposals?community_id={w.a.id}&sort=most_supported"),
        ("street_staff", f"/api/v1/proposals?street_id={w.street.id}&q=电梯"),
        ("resident", "/api/v1/me/proposals?coord_sys=bd09"),
    ]
    for who, url in lists:
        listed = await client.get(url, headers=w.h[who])
        assert listed.status_code == 200, listed.text
        [item] = [p for p in listed.json()["items"] if p["id"] == created["id"]]
        coord_sys = url.partition("coord_sys=")[2] or "gcj02"
        detail = await client.get(
            f"/api/v1/proposals/{created['id']}?coord_sys={coord_sys}", headers=w.h[who]
        )
        expected = detail.json()
        del expected["replies"], expected["history"]
        assert item == expected, (who, url)
        assert item["photos"] == [{"id": p["id"], "url": p["url"]} for p in photos[::-1]]
        assert item["supported_by_me"] is (who == "neighbour")
        assert (item["author"]["id"] is None) is (who != "resident")
