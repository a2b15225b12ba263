"""Builders for the suggestions tests: a street with two communities and people in it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.area import Area
from src.models.user import Role
from tests.builders import TestUser, login, make_tree, make_user


@dataclass
class World:
    street: Area
    a: Area
    b: Area
    resident: TestUser  # of a
    neighbour: TestUser  # of a
    outsider: TestUser  # of b
    committee: TestUser  # of a
    committee_b: TestUser  # of b
    street_staff: TestUser
    planner: TestUser
    h: dict[str, dict[str, str]]  # auth headers by the names above


async def make_world(db: async_sessionmaker[AsyncSession], client: httpx.AsyncClient) -> World:
    tree = await make_tree(db, communities=2)
    a, b = tree.communities
    people = {
        "resident": await make_user(db, community=a),
        "neighbour": await make_user(db, community=a),
        "outsider": await make_user(db, community=b),
        "committee": await make_user(db, role=Role.committee, area=a),
        "committee_b": await make_user(db, role=Role.committee, area=b),
        "street_staff": await make_user(db, role=Role.street, area=tree.street),
        "planner": await make_user(db, role=Role.planner, area=tree.street),
    }
    headers = {name: await login(client, user) for name, user in people.items()}
    return World(street=tree.street, a=a, b=b, h=headers, **people)


async def submit(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {
        "title": "加装电梯",
        "body": "老公房没有电梯，老人上下楼困难",
        "category": "accessibility",
    }
    body.update(fields)
    response = await client.post("/api/v1/proposals", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def move(
    client: httpx.AsyncClient, headers: dict[str, str], proposal_id: str, to: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/api/v1/proposals/{proposal_id}/transitions", json={"to": to, **extra}, headers=headers
    )
