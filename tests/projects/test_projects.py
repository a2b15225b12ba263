from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.proposals.helpers import make_world


async def test_create_list_and_scope(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    body = {
        "title": "曹杨一村口袋公园",
        "description": "利用闲置空地建设口袋公园",
        "community_id": str(w.a.id),
        "category": "public_space",
        "year": 2025,
        "budget_source": "区级财政",
        "responsible_unit": "街道管理办",
        "planned_start": "2025-03-01",
        "planned_end": "2025-06-30",
    }
    created = await client.post("/api/v1/projects", json=body, headers=w.h["committee"])
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["status"] == "planned" and project["street_id"] == str(w.street.id)
    assert project["overdue"] is True  # planned to end in 2025, still planned
    current = await client.post(
        "/api/v1/projects",
        json={"title": "加装电梯", "community_id": str(w.b.id), "category": "accessibility"},
        headers=w.h["street_staff"],
    )
    assert current.status_code == 201
    assert current.json()["year"] == dt.date.today().year

    # Who may create.
    for who, status in (("resident", 403), ("planner", 403), ("committee_b", 404)):
        response = await client.post("/api/v1/projects", json=body, headers=w.h[who])
        assert response.status_code == status, (who, response.text)
    bad = [
        {**body, "category": "nope"},
        {**body, "planned_end": "2025-01-01"},
        {**body, "title": ""},
        {**body, "year": 1900},
        {**body, "community_id": str(w.street.id)},
    ]
    for item in bad:
        response = await client.post("/api/v1/projects", json=item, headers=w.h["committee"])
        assert response.status_code == 422, (item, response.text)

    street = await client.get(f"/api/v1/projects?street_id={w.street.id}", headers=w.h["planner"])
    assert {p["id"] for p in street.json()["items"]} == {project["id"], current.json()["id"]}
    mine = await client.get("/api/v1/projects", headers=w.h["resident"])
    assert [p["id"] for p in mine.json()["items"]] == [project["id"]]
    by_year = await client.get(
        f"/api/v1/projects?street_id={w.street.id}&year=2025", headers=w.h["street_staff"]
    )
    assert [p["id"] for p in by_year.json()["items"]] == [project["id"]]
    overdue = await client.get(
        f"/api/v1/projects?street_id={w.street.id}&overdue=true", headers=w.h["street_staff"]
    )
    assert [p["id"] for p in overdue.json()["items"]] == [project["id"]]
    paged = await client.get(
        f"/api/v1/projects?street_id={w.street.id}&limit=1", headers=w.h["street_staff"]
    )
    rest = await client.get(
        f"/api/v1/projects?street_id={w.street.id}&limit=1&cursor={paged.json()['next_cursor']}",
        headers=w.h["street_staff"],
    )
    # Street staff see the overdue project first, then the newest year.
    assert rest.status_code == 200, rest.text
    assert [p["id"] for p in paged.json()["items"] + rest.json()["items"]] == [
        project["id"],
        current.json()["id"],
    ]
    assert (
        await client.get(f"/api/v1/projects/{project['id']}", headers=w.h["outsider"])
    ).status_code == 404
    assert (
        await client.get(f"/api/v1/projects?community_id={w.a.id}", headers=w.h["outsider"])
    ).status_code == 404
    detail = await client.get(f"/api/v1/projects/{project['id']}", headers=w.h["resident"])
    assert detail.status_code == 200
    assert detail.json()["suggestions"] == [] and detail.json()["meetings"] == []
