"""Two districts, each with a street and communities, and the people who run them."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.area import Area
from src.models.user import Role
from tests.builders import TestUser, login, make_tree, make_user


@dataclass
class Org:
    district: Area
    street: Area
    a: Area
    b: Area
    other_district: Area
    other_street: Area
    other_community: Area
    people: dict[str, TestUser]
    h: dict[str, dict[str, str]]  # auth headers by the names of ``people``


async def make_org(db: async_sessionmaker[AsyncSession], client: httpx.AsyncClient) -> Org:
    tree = await make_tree(db, communities=2)
    other = await make_tree(db, communities=1)
    a, b = tree.communities
    people = {
        "admin": await make_user(db, role=Role.admin, area=tree.district),
        "street": await make_user(db, role=Role.street, area=tree.street),
        "planner": await make_user(db, role=Role.planner, area=tree.street),
        "committee": await make_user(db, role=Role.committee, area=a),
        "resident": await make_user(db, community=a),
        "other_admin": await make_user(db, role=Role.admin, area=other.district),
        "other_street": await make_user(db, role=Role.street, area=other.street),
    }
    headers = {name: await login(client, user) for name, user in people.items()}
    return Org(
        district=tree.district,
        street=tree.street,
        a=a,
        b=b,
        other_district=other.district,
        other_street=other.street,
        other_community=other.communities[0],
        people=people,
        h=headers,
    )


def problem_code(response: httpx.Response) -> tuple[int, str | None]:
    code = response.json().get("code") if response.status_code >= 400 else None
    return response.status_code, code
