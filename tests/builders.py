"""Plain builder functions for test data. Every call makes fresh rows (unique codes, phones)."""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.areas.service import create_area
from src.models.area import Area, AreaLevel
from src.models.user import Role, RoleGrant, User

_counter = itertools.count(1)
_run = random.randrange(10_000, 99_999)


def unique_code(prefix: str = "T") -> str:
    return f"{prefix}{_run}{next(_counter):05d}"


def unique_prefix() -> str:
    """A street's reference prefix (2–6 of A–Z, 0–9) no other street of this test run has."""
    n, letters = next(_counter), ""
    while n:
        n, digit = divmod(n, 26)
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[digit] + letters
    return "T" + letters.rjust(2, "A")


def unique_phone() -> str:
    return f"17{_run % 1000:03d}{next(_counter):06d}"


@dataclass
class Tree:
    district: Area
    street: Area
    communities: list[Area]


async def make_tree(
    db: async_sessionmaker[AsyncSession], communities: int = 2, *, prefixed: bool = True
) -> Tree:
    """A district with one street and ``communities`` communities, near 曹杨新村. The street
    heads its reference numbers with a prefix of its own, or (``prefixed=False``) its code."""
    async with db() as session, session.begin():
        district = await create_area(
            session,
            code=unique_code("D"),
            name="测试区",
            level=AreaLevel.district,
            parent=None,
            lat=31.24,
            lng=121.41,
        )
        street = await create_area(
            session,
            code=unique_code("S"),
            name="测试街道",
            level=AreaLevel.street,
            parent=district,
            lat=31.241,
            lng=121.411,
            reference_prefix=unique_prefix() if prefixed else None,
        )
        members = [
            await create_area(
                session,
                code=unique_code("C"),
                name=f"测试{i}村",
                level=AreaLevel.community,
                parent=street,
                lat=31.242 + i / 1000,
                lng=121.412,
            )
            for i in range(communities)
        ]
    return Tree(district, street, members)


@dataclass
class TestUser:
    id: uuid.UUID
    phone: str


async def make_user(
    db: async_sessionmaker[AsyncSession],
    *,
    community: Area | None = None,
    verified: bool = True,
    role: Role | None = None,
    area: Area | None = None,
    city_admin: bool = False,
) -> TestUser:
    """A resident of ``community``, optionally also holding ``role`` in ``area``."""
    phone = unique_phone()
    async with db() as session, session.begin():
        user = User(
            phone=phone,
            display_name="测试用户",
            verified=verified,
            home_community_id=community.id if community else None,
        )
        session.add(user)
        await session.flush()
        if role is not None:
            session.add(
                RoleGrant(
                    user_id=user.id,
                    role=role,
                    area_id=None if city_admin else area.id if area else None,
                )
            )
    return TestUser(user.id, phone)


async def login(client: httpx.AsyncClient, user: TestUser) -> dict[str, str]:
    """Authorization headers for ``user`` (through dev-login)."""
    response = await client.post("/api/v1/auth/dev-login", json={"phone": user.phone})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
