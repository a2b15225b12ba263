from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.area import Area


async def test_demo_street_sees_its_overdue_project_first_with_progress(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    async with db() as session:
        street = await session.scalar(select(Area).where(Area.code == "310107012"))
        assert street is not None
    login = await client.post("/api/v1/auth/dev-login", json={"phone": "13900000011"})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    page = await client.get(f"/api/v1/projects?street_id={street.id}", headers=headers)
    assert page.status_code == 200
    items = page.json()["items"]
    assert items[0]["title"] == "桂巷小区非机动车棚改造" and items[0]["overdue"] is True
    assert sum(1 for p in items if p["overdue"]) == 1
    assert {p["status"] for p in items} >= {"designing", "building"}
    detail = (await client.get(f"/api/v1/projects/{items[0]['id']}", headers=headers)).json()
    assert [u["percent"] for u in detail["progress"]] == [70, 45, 20]
    assert detail["progress_percent"] == 70
    for item in items:
        if item["status"] == "done":
            assert item["progress_percent"] == 100 and item["actual_end"] is not None
