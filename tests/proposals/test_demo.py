from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.area import Area
from src.models.user import Role, RoleGrant, User


async def test_demo_has_suggestions_in_several_statuses_with_replies(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    async with db() as session:
        community = await session.scalar(select(Area).where(Area.code == "310107012001"))
        assert community is not None
        phone = await session.scalar(
            select(User.phone)
            .where(User.home_community_id == community.id, User.verified.is_(True))
            .order_by(User.phone)
        )
    token = (await client.post("/api/v1/auth/dev-login", json={"phone": phone})).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    page = await client.get("/api/v1/proposals?limit=100", headers=headers)
    assert page.status_code == 200
    items = page.json()["items"]
    assert {p["status"] for p in items} >= {
        "submitted",
        "under_review",
        "accepted",
        "adopted",
        "rejected",
        "merged",
    }
    lift = next(p for p in items if p["title"] == "3号楼加装电梯")
    detail = (await client.get(f"/api/v1/proposals/{lift['id']}", headers=headers)).json()
    assert detail["replies"] and detail["project_id"]
    assert [h["to_status"] for h in detail["history"]] == ["under_review", "accepted", "adopted"]
    project = await client.get(f"/api/v1/projects/{detail['project_id']}", headers=headers)
    assert lift["id"] in [s["id"] for s in project.json()["suggestions"]]


async def test_demo_suggestions_carry_their_streets_short_numbers(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """曹杨新村街道 numbers CY-<year>-000001 and so on; a lower-case one is found by ``q=``."""
    async with db() as session:
        street = await session.scalar(select(Area).where(Area.code == "310107012"))
        assert street is not None and street.reference_prefix == "CY"
        phone = await session.scalar(
            select(User.phone)
            .join(RoleGrant, RoleGrant.user_id == User.id)
            .where(RoleGrant.role == Role.street, RoleGrant.area_id == street.id)
        )
    token = (await client.post("/api/v1/auth/dev-login", json={"phone": phone})).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    params = {"street_id": str(street.id), "limit": "100"}
    page = await client.get("/api/v1/proposals", params=params, headers=headers)
    assert page.status_code == 200, page.text
    references = [p["reference"] for p in page.json()["items"]]
    assert references and all(re.fullmatch(r"CY-\d{4}-\d{6}", r) for r in references)
    first = min(references)
    assert first.endswith("-000001")
    found = await client.get(
        "/api/v1/proposals", params={**params, "q": first.lower()}, headers=headers
    )
    assert [p["reference"] for p in found.json()["items"]] == [first]
