"""Builders for the needs tests: a street with staff of every kind and suggestions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.area import Area
from src.models.user import Role
from tests.builders import TestUser, login, make_tree, make_user

YEAR = 2026


@dataclass
class World:
    district: Area
    street: Area
    a: Area
    b: Area
    resident: TestUser
    h: dict[str, dict[str, str]]  # auth headers by role name


async def make_world(db: async_sessionmaker[AsyncSession], client: httpx.AsyncClient) -> World:
    tree = await make_tree(db, communities=2)
    other = await make_tree(db, communities=1)
    a, b = tree.communities
    people = {
        "resident": await make_user(db, community=a),
        "committee": await make_user(db, role=Role.committee, area=a),
        "committee_b": await make_user(db, role=Role.committee, area=b),
        "planner": await make_user(db, role=Role.planner, area=tree.street),
        "street": await make_user(db, role=Role.street, area=tree.street),
        "other_street": await make_user(db, role=Role.street, area=other.street),
        "district": await make_user(db, role=Role.admin, area=tree.district),
        "other_district": await make_user(db, role=Role.admin, area=other.district),
    }
    headers = {name: await login(client, user) for name, user in people.items()}
    return World(tree.district, tree.street, a, b, people["resident"], headers)


async def create_need(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    community: Area | None = None,
    street: Area | None = None,
    proposal_ids: list[Any] = (),  # type: ignore[assignment]
    expect: int = 201,
    **fields: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "加装电梯",
        "category": "accessibility",
        "year": YEAR,
        "sources": [{"kind": "proposal", "id": str(p)} for p in proposal_ids],
    }
    if community is not None:
        body["community_id"] = str(community.id)
    if street is not None:
        body["street_id"] = str(street.id)
    body.update(fields)
    response = await client.post("/api/v1/needs", json=body, headers=headers)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


async def plan(
    client: httpx.AsyncClient, headers: dict[str, str], need_id: str, reason: str = "列入明年计划"
) -> httpx.Response:
    return await client.patch(
        f"/api/v1/needs/{need_id}", json={"status": "planned", "reason": reason}, headers=headers
    )
