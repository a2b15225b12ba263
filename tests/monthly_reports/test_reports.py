"""Monthly street reports through HTTP: once a month, editable until the month after ends,
the district's view of who filed, and the reminders from the 25th."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.areas.service import create_area
from src.models.area import Area, AreaLevel
from src.models.user import Role
from src.monthly_reports import service
from tests import builders
from tests.builders import login, make_tree, make_user, unique_code

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class District:
    district: Area
    a: Area
    b: Area
    community: Area
    staff_a: builders.TestUser
    staff_b: builders.TestUser
    h: dict[str, dict[str, str]]


async def make_district(
    db: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> District:
    tree = await make_tree(db, communities=1)
    async with db() as session, session.begin():
        b = await create_area(
            session,
            code=unique_code("S"),
            name="第二街道",
            level=AreaLevel.street,
            parent=tree.district,
            lat=31.25,
            lng=121.42,
        )
    people = {
        "staff_a": await make_user(db, role=Role.street, area=tree.street),
        "staff_b": await make_user(db, role=Role.street, area=b),
        "admin": await make_user(db, role=Role.admin, area=tree.district),
        "committee": await make_user(db, role=Role.committee, area=tree.communities[0]),
        "resident": await make_user(db, community=tree.communities[0]),
    }
    h = {name: await login(client, user) for name, user in people.items()}
    return District(
        tree.district, tree.street, b, tree.communities[0], people["staff_a"], people["staff_b"], h
    )


def at(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    now = [at(2026, 12, 10)]
    monkeypatch.setattr(service, "now_local", lambda: now[0])
    return now


REPORT = {"period": "2026-12", "progress": "完成三个口袋公园设计", "problems": "资金到位慢"}


async def test_file_once_edit_and_the_district_sees_who_filed(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], clock: list[dt.datetime]
) -> None:
    d = await make_district(db, client)
    url = f"/api/v1/areas/{d.a.id}/reports"
    first = await client.post(url, json=REPORT, headers=d.h["staff_a"])
    assert first.status_code == 201, first.text
    assert first.json()["editable_until"].startswith("2027-02-01T00:00:00")
    again = await client.post(url, json=REPORT, headers=d.h["staff_a"])
    assert again.status_code == 409 and again.json()["code"] == "report_already_filed"
    edited = await client.put(
        f"{url}/2026-12", json={"progress": "四个", "problems": "无"}, headers=d.h["staff_a"]
    )
    assert edited.status_code == 200 and edited.json()["progress"] == "四个"
    view = await client.get(
        f"/api/v1/areas/{d.district.id}/reports?period=2026-12", headers=d.h["admin"]
    )
    assert view.status_code == 200, view.text
    body = view.json()
    assert (body["filed"], body["missing"]) == (1, 1)
    by_street = {s["street_id"]: s for s in body["streets"]}
    assert by_street[str(d.a.id)]["filed"] and by_street[str(d.a.id)]["report"]["problems"] == "无"
    assert not by_street[str(d.b.id)]["filed"] and by_street[str(d.b.id)]["report"] is None
    # The current month by default; a street sees its own.
    own = await client.get(f"/api/v1/areas/{d.b.id}/reports", headers=d.h["staff_b"])
    assert own.json()["period"] == "2026-12" and own.json()["missing"] == 1


async def test_double_taps_file_once(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], clock: list[dt.datetime]
) -> None:
    d = await make_district(db, client)
    url = f"/api/v1/areas/{d.a.id}/reports"
    replies = await asyncio.gather(
        *(client.post(url, json=REPORT, headers=d.h["staff_a"]) for _ in range(6))
    )
    assert sorted(r.status_code for r in replies) == [201] + [409] * 5
    async with db() as session:
        n = await session.scalar(
            text("SELECT count(*) FROM monthly_reports WHERE street_id = :s"), {"s": d.a.id}
        )
    assert n == 1


async def test_editable_until_the_month_after_ends(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], clock: list[dt.datetime]
) -> None:
    d = await make_district(db, client)
    url_a, url_b = (f"/api/v1/areas/{s.id}/reports" for s in (d.a, d.b))
    nov = {**REPORT, "period": "2026-11"}
    assert (await client.post(url_a, json=nov, headers=d.h["staff_a"])).status_code == 201
    clock[0] = at(2026, 12, 31, 23)  # the last hour of the month after
    edit = {"progress": "改", "problems": "改"}
    assert (
        await client.put(f"{url_a}/2026-11", json=edit, headers=d.h["staff_a"])
    ).status_code == 200
    clock[0] = at(2027, 1, 1, 0)  # the month after has ended
    late = await client.put(f"{url_a}/2026-11", json=edit, headers=d.h["staff_a"])
    assert late.status_code == 409 and late.json()["code"] == "report_closed"
    late_first = await client.post(url_b, json=nov, headers=d.h["staff_b"])
    assert late_first.status_code == 409 and late_first.json()["code"] == "report_closed"
    # December is still open in January; February is not yet begun.
    assert (await client.post(url_b, json=REPORT, headers=d.h["staff_b"])).status_code == 201
    future = await client.post(url_b, json={**REPORT, "period": "2027-02"}, headers=d.h["staff_b"])
    assert future.status_code == 422 and future.json()["code"] == "validation_failed"
    missing = await client.put(f"{url_a}/2026-12", json=edit, headers=d.h["staff_a"])
    assert missing.status_code == 404


async def test_who_may_file_and_read_and_bad_input(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], clock: list[dt.datetime]
) -> None:
    d = await make_district(db, client)
    url = f"/api/v1/areas/{d.a.id}/reports"
    for who, code in (
        ("staff_b", "area_forbidden"),
        ("committee", "area_forbidden"),
        ("resident", "role_required"),
    ):
        r = await client.post(url, json=REPORT, headers=d.h[who])
        assert r.status_code == 403 and r.json()["code"] == code, (who, r.text)
    r = await client.get(f"/api/v1/areas/{d.district.id}/reports", headers=d.h["staff_a"])
    assert r.status_code == 403
    r = await client.post(
        f"/api/v1/areas/{d.community.id}/reports", json=REPORT, headers=d.h["admin"]
    )
    assert r.status_code == 422
    for body in (
        {**REPORT, "period": "2026-13"},
        {**REPORT, "progress": ""},
        {"period": "2026-12", "progress": "x"},
        {**REPORT, "extra": 1},
    ):
        r = await client.post(url, json=body, headers=d.h["staff_a"])
        assert r.status_code in (400, 422) and r.json()["code"] == "validation_failed", body
    r = await client.get(f"{url}?period=12-2026", headers=d.h["staff_a"])
    assert r.status_code in (400, 422)
    # The district admin files for a street too (admins above it may).
    assert (await client.post(url, json=REPORT, headers=d.h["admin"])).status_code == 201


async def test_reminders_from_the_25th_once_to_the_streets_that_have_not_filed(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], clock: list[dt.datetime]
) -> None:
    d = await make_district(db, client)
    await client.post(f"/api/v1/areas/{d.a.id}/reports", json=REPORT, headers=d.h["staff_a"])
    async with db() as session, session.begin():
        assert await service.send_reminders(session, at(2026, 12, 24)) == 0
    async with db() as session, session.begin():
        await service.send_reminders(session, at(2026, 12, 25, 9))
    async with db() as session, session.begin():
        assert await service.send_reminders(session, at(2026, 12, 26)) == 0  # once
    async with db() as session:
        reminded = (
            (
                await session.execute(
                    text(
                        "SELECT user_id FROM report_reminders WHERE street_id IN (:a, :b) "
                        "AND period = '2026-12-01'"
                    ),
                    {"a": d.a.id, "b": d.b.id},
                )
            )
            .scalars()
            .all()
        )
        messages = (
            (
                await session.execute(
                    text(
                        "SELECT payload FROM outbox WHERE topic = 'report.reminder' "
                        "AND payload ->> 'street_id' IN (:a, :b)"
                    ),
                    {"a": str(d.a.id), "b": str(d.b.id)},
                )
            )
            .scalars()
            .all()
        )
    assert reminded == [d.staff_b.id]
    assert [m["user_id"] for m in messages] == [str(d.staff_b.id)]
    assert messages[0]["period"] == "2026-12"
