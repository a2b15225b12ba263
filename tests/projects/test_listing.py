from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.pagination import encode_cursor
from src.models.user import Role
from tests.builders import login, make_tree, make_user
from tests.projects.helpers import create_project, move_to, shanghai_today
from tests.proposals.helpers import make_world


async def ids(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[str]:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()["items"]]


async def walk(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], size: int = 2
) -> list[str]:
    """Every page of ``url`` with ``size`` items a page."""
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await client.get(
            f"{url}&limit={size}" + (f"&cursor={cursor}" if cursor else ""), headers=headers
        )
        assert page.status_code == 200, page.text
        seen += [p["id"] for p in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return seen


async def test_overdue_first_for_staff_and_filters(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    c, s = w.h["committee"], w.h["street_staff"]
    future = (shanghai_today() + dt.timedelta(days=200)).isoformat()
    current = shanghai_today().year

    def p(year: int, end: str) -> dict[str, Any]:
        return {"year": year, "planned_start": f"{year}-01-01", "planned_end": end}

    on_time = await create_project(client, c, w.a, title="按期项目", **p(current, future))
    late_plan = await create_project(client, c, w.a, title="逾期未开工", **p(2025, "2025-06-30"))
    late_build = await create_project(client, s, w.b, title="逾期施工中", **p(2024, "2024-12-31"))
    finished = await create_project(client, c, w.a, title="已完工", **p(2023, "2023-10-31"))
    dropped = await create_project(client, s, w.b, title="已取消", **p(2024, "2024-05-31"))
    undated = await create_project(client, c, w.a, title="未定日期", year=2022)
    await move_to(client, s, late_build["id"], "designing", "building")
    await move_to(client, c, finished["id"], "designing", "building", "done")
    await move_to(client, s, dropped["id"], "cancelled")

    street = f"/api/v1/projects?street_id={w.street.id}"
    expected_staff = [
        late_plan["id"],  # overdue, 2025
        late_build["id"],  # overdue, 2024
        on_time["id"],  # then newest year first
        dropped["id"],
        finished["id"],
        undated["id"],
    ]
    # The two 2024 projects order by id (newest first) after the flag and year.
    assert await ids(client, street, s) == expected_staff
    for size in (1, 2, 3, 5):  # pages that end on, before and after the overdue ones
        assert await walk(client, street, s, size) == expected_staff
    listed = (await client.get(street, headers=s)).json()["items"]
    assert [item["overdue"] for item in listed] == [True, True, False, False, False, False]

    assert await ids(client, f"{street}&overdue=true", s) == [late_plan["id"], late_build["id"]]
    assert await ids(client, f"{street}&overdue=false", s) == expected_staff[2:]
    assert await ids(client, f"{street}&status=cancelled", s) == [dropped["id"]]
    assert await ids(client, f"{street}&year=2024", s) == [late_build["id"], dropped["id"]]
    assert await ids(client, f"{street}&year=2024&overdue=true", s) == [late_build["id"]]

    # A committee sees its own community, overdue first too.
    own = f"/api/v1/projects?community_id={w.a.id}"
    assert await ids(client, own, c) == [
        late_plan["id"],
        on_time["id"],
        finished["id"],
        undated["id"],
    ]
    # Residents see their community's list newest year first, overdue marked.
    resident_view = (await client.get("/api/v1/projects", headers=w.h["resident"])).json()
    assert [i["id"] for i in resident_view["items"]] == [
        on_time["id"],
        late_plan["id"],
        finished["id"],
        undated["id"],
    ]
    assert resident_view["items"][1]["overdue"] is True
    assert await walk(client, "/api/v1/projects?year=2025", w.h["resident"]) == [late_plan["id"]]

    for url, code in (
        (f"{street}&status=finished", "validation_failed"),
        (f"{street}&year=1999", "validation_failed"),
        (f"{street}&overdue=maybe", "validation_failed"),
        (f"{street}&limit=0", "validation_failed"),
        (f"{street}&limit=101", "validation_failed"),
        (f"{street}&cursor=abc", "invalid_cursor"),
        (f"{street}&cursor={encode_cursor([1, 10**12, str(late_plan['id'])])}", "invalid_cursor"),
        (f"{street}&cursor={encode_cursor([7, 2024, str(late_plan['id'])])}", "invalid_cursor"),
        (f"{street}&cursor={encode_cursor([1, 2024, 'x'])}", "invalid_cursor"),
        ("/api/v1/projects?street_id=not-a-uuid", "validation_failed"),
        (f"/api/v1/projects?community_id={w.street.id}", "validation_failed"),
    ):
        response = await client.get(url, headers=s)
        assert response.status_code in (400, 422), (url, response.text)
        assert response.json()["code"] == code, url


async def test_list_scope(client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]) -> None:
    w = await make_world(db, client)
    project = await create_project(client, w.h["committee"], w.a)
    other = await make_tree(db, communities=1)
    foreign_street = await login(client, await make_user(db, role=Role.street, area=other.street))
    homeless = await login(client, await make_user(db))

    street = f"/api/v1/projects?street_id={w.street.id}"
    community = f"/api/v1/projects?community_id={w.a.id}"
    for headers, url in (
        (w.h["committee_b"], community),
        (w.h["committee"], street),  # a committee does not read the whole street
        (w.h["outsider"], community),
        (w.h["resident"], street),
        (foreign_street, street),
        (foreign_street, community),
    ):
        response = await client.get(url, headers=headers)
        assert response.status_code == 404, (url, response.text)
    needs_area = await client.get("/api/v1/projects", headers=homeless)
    assert needs_area.status_code == 422 and needs_area.json()["code"] == "area_required"
    assert (await client.get(community)).status_code == 401
    assert await ids(client, community, w.h["planner"]) == [project["id"]]
    assert (
        await client.get(f"/api/v1/projects/{project['id']}", headers=foreign_street)
    ).status_code == 404
