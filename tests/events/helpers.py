"""Builders for meetings and votes tests: a street with two communities, people, meetings."""

from __future__ import annotations

import datetime as dt
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
    resident: TestUser  # verified, of a
    neighbour: TestUser  # verified, of a
    unverified: TestUser  # of a
    outsider: TestUser  # verified, of b
    committee: TestUser  # of a
    committee_b: TestUser  # of b
    street_staff: TestUser
    h: dict[str, dict[str, str]]  # auth headers by the names above


async def make_world(db: async_sessionmaker[AsyncSession], client: httpx.AsyncClient) -> World:
    tree = await make_tree(db, communities=2)
    a, b = tree.communities
    people = {
        "resident": await make_user(db, community=a),
        "neighbour": await make_user(db, community=a),
        "unverified": await make_user(db, community=a, verified=False),
        "outsider": await make_user(db, community=b),
        "committee": await make_user(db, role=Role.committee, area=a),
        "committee_b": await make_user(db, role=Role.committee, area=b),
        "street_staff": await make_user(db, role=Role.street, area=tree.street),
    }
    headers = {name: await login(client, user) for name, user in people.items()}
    return World(street=tree.street, a=a, b=b, h=headers, **people)


def times(hours_from_now: float = 1.0, length_h: float = 2.0) -> tuple[str, str]:
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours_from_now)
    return start.isoformat(), (start + dt.timedelta(hours=length_h)).isoformat()


async def create_event(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    community: Area,
    *,
    kind: str = "coordination",
    options: list[str] | None = None,
    voting: dict[str, Any] | None = None,
    open_it: bool = False,
    **fields: Any,
) -> dict[str, Any]:
    starts_at, ends_at = times()
    body: dict[str, Any] = {
        "kind": kind,
        "title": "口袋公园设计方案协调会",
        "community_id": str(community.id),
        "starts_at": starts_at,
        "ends_at": ends_at,
        "venue": "居委会二楼会议室",
    }
    if voting is not None:
        body["voting"] = voting
    body.update(fields)
    response = await client.post("/api/v1/events", json=body, headers=headers)
    assert response.status_code == 201, response.text
    event: dict[str, Any] = response.json()
    for title in options or []:
        added = await client.post(
            f"/api/v1/events/{event['id']}/options",
            json={"title": title, "description": f"{title}的说明"},
            headers=headers,
        )
        assert added.status_code == 201, added.text
    if open_it:
        opened = await client.post(f"/api/v1/events/{event['id']}/open", headers=headers)
        assert opened.status_code == 200, opened.text
    detail = await client.get(f"/api/v1/events/{event['id']}", headers=headers)
    assert detail.status_code == 200, detail.text
    result: dict[str, Any] = detail.json()
    return result
