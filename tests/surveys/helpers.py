"""Builders for the survey tests: a street with two communities, its people, a questionnaire
with every kind of question."""

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
    resident: TestUser  # of a
    neighbour: TestUser  # of a
    outsider: TestUser  # of b
    committee: TestUser  # of a
    committee_b: TestUser  # of b
    street_staff: TestUser
    h: dict[str, dict[str, str]]


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
    }
    headers = {name: await login(client, user) for name, user in people.items()}
    return World(street=tree.street, a=a, b=b, h=headers, **people)


QUESTIONS: list[dict[str, Any]] = [
    {
        "key": "need",
        "kind": "single",
        "title": "您最希望增加哪类设施？",
        "required": True,
        "options": [
            {"key": "elder", "label": "为老服务"},
            {"key": "kids", "label": "托育"},
            {"key": "sport", "label": "健身"},
        ],
    },
    {
        "key": "also",
        "kind": "multiple",
        "title": "还需要哪些服务？",
        "required": False,
        "options": [
            {"key": "meal", "label": "助餐"},
            {"key": "clinic", "label": "卫生站"},
            {"key": "park", "label": "口袋公园"},
            {"key": "market", "label": "菜场"},
        ],
        "max_choices": 2,
    },
    {
        "key": "satisfied",
        "kind": "scale",
        "title": "对社区环境的满意度",
        "required": True,
        "scale": {"min": 1, "max": 5, "labels": {"1": "很不满意", "5": "很满意"}},
    },
    {
        "key": "order",
        "kind": "ranking",
        "title": "请给以下项目排序",
        "required": False,
        "options": [
            {"key": "lift", "label": "加装电梯"},
            {"key": "parking", "label": "停车"},
            {"key": "green", "label": "绿化"},
        ],
    },
    {"key": "idea", "kind": "text", "title": "其他建议", "required": False},
    {"key": "where", "kind": "location", "title": "问题地点", "required": False},
]

ANSWERS: dict[str, Any] = {
    "need": "elder",
    "also": ["meal", "park"],
    "satisfied": 4,
    "order": ["lift", "green", "parking"],
    "idea": "希望增加电梯",
    "where": {"lat": 31.2435, "lng": 121.4152, "coord_sys": "gcj02"},
}


def survey_body(area: Area, *, anonymous: bool = False, **extra: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    body: dict[str, Any] = {
        "title": "2026年问需求计调研",
        "description": "请居民填写",
        "area_id": str(area.id),
        "year": 2026,
        "opens_at": (now - dt.timedelta(hours=1)).isoformat(),
        "closes_at": (now + dt.timedelta(days=7)).isoformat(),
        "anonymous": anonymous,
        "questions": QUESTIONS,
    }
    body.update(extra)
    return body


async def open_survey(
    client: httpx.AsyncClient, headers: dict[str, str], area: Area, **extra: Any
) -> dict[str, Any]:
    created = await client.post("/api/v1/surveys", json=survey_body(area, **extra), headers=headers)
    assert created.status_code == 201, created.text
    opened = await client.post(f"/api/v1/surveys/{created.json()['id']}/open", headers=headers)
    assert opened.status_code == 200, opened.text
    body: dict[str, Any] = opened.json()
    return body


async def respond(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    survey_id: str,
    answers: dict[str, Any],
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        f"/api/v1/surveys/{survey_id}/responses",
        json={"answers": answers, **extra},
        headers=headers,
    )
