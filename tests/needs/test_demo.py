from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.area import Area
from tests.exports.helpers import read_csv


async def test_demo_needs_list_and_2027_project_list(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    async with db() as session:
        street = await session.scalar(select(Area).where(Area.code == "310107012"))
        district = await session.scalar(select(Area).where(Area.code == "310107"))
        assert street is not None and district is not None
    login = await client.post("/api/v1/auth/dev-login", json={"phone": "13900000011"})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    listed = await client.get(
        f"/api/v1/areas/{street.id}/needs", params={"year": 2026, "limit": 100}, headers=headers
    )
    assert listed.status_code == 200, listed.text
    needs = listed.json()["items"]
    assert len(needs) >= 4
    scores = [n["score"] for n in needs]
    assert scores == sorted(scores, reverse=True) and needs[0]["rank"] == 1
    planned = [n for n in needs if n["status"] == "planned"]
    assert len(planned) == 3 and all(len(n["project_ids"]) == 1 for n in planned)
    assert any(n["status"] == "declined" and n["reason"] for n in needs)
    file = await client.get(
        "/api/v1/exports/project-list",
        params={"street_id": str(street.id), "year": 2027, "format": "csv"},
        headers=headers,
    )
    header, *rows = read_csv(file)
    assert len(rows) == 3
    kind = header.index("项目类型")
    assert sorted(r[kind] for r in rows) == ["一般项目", "人民坊", "嵌入式服务设施"]
    assert all(r[header.index("对应需求")] for r in rows)
    admin = await client.post("/api/v1/auth/dev-login", json={"phone": "13900000001"})
    stats = await client.get(
        f"/api/v1/areas/{district.id}/project-stats",
        params={"year": 2027},
        headers={"Authorization": f"Bearer {admin.json()['access_token']}"},
    )
    row = next(c for c in stats.json()["children"] if c["area_id"] == str(street.id))
    assert row["total"] >= 3 and row["renmin_fang"] >= 1
