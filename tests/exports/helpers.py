"""Builders for the export tests: a street with people in it, suggestions written straight
into the database (many of them, with replies and status history), and file readers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import asyncpg
import httpx
import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.area import Area
from src.models.proposal import Proposal, ProposalReply, ProposalStatus, ProposalTransition
from src.models.user import Role
from tests.builders import TestUser, login, make_tree, make_user


@dataclass
class World:
    district: Area
    street: Area
    a: Area
    b: Area
    author: TestUser  # of a
    street_staff: TestUser
    h: dict[str, dict[str, str]]  # auth headers by role name


async def make_world(db: async_sessionmaker[AsyncSession], client: httpx.AsyncClient) -> World:
    tree = await make_tree(db, communities=2)
    other = await make_tree(db, communities=1)
    a, b = tree.communities
    people = {
        "author": await make_user(db, community=a),
        "resident": await make_user(db, community=a),
        "committee": await make_user(db, role=Role.committee, area=a),
        "planner": await make_user(db, role=Role.planner, area=tree.street),
        "street_staff": await make_user(db, role=Role.street, area=tree.street),
        "other_street": await make_user(db, role=Role.street, area=other.street),
        "district_admin": await make_user(db, role=Role.admin, area=tree.district),
        "other_admin": await make_user(db, role=Role.admin, area=other.district),
    }
    headers = {name: await login(client, user) for name, user in people.items()}
    return World(
        district=tree.district,
        street=tree.street,
        a=a,
        b=b,
        author=people["author"],
        street_staff=people["street_staff"],
        h=headers,
    )


async def add_proposal(
    db: async_sessionmaker[AsyncSession],
    community: Area,
    author: TestUser,
    *,
    title: str = "加装电梯",
    body: str = "老公房没有电梯",
    category: str = "accessibility",
    status: ProposalStatus = ProposalStatus.submitted,
    anonymous: bool = False,
    created_at: dt.datetime | None = None,
    lat: float | None = None,
    lng: float | None = None,
    supports: int = 0,
    replies: list[str] | None = None,
    moves: list[tuple[ProposalStatus, ProposalStatus]] | None = None,
    staff: TestUser | None = None,
) -> Proposal:
    async with db() as session, session.begin():
        assert community.parent_id is not None
        when = created_at or dt.datetime.now(dt.UTC)
        proposal = Proposal(
            community_id=community.id,
            street_id=community.parent_id,
            author_id=author.id,
            anonymous=anonymous,
            title=title,
            body=body,
            category=category,
            status=status,
            lat=lat,
            lng=lng,
            support_count=supports,
            created_at=when,
            updated_at=when,
        )
        session.add(proposal)
        await session.flush()
        for i, text in enumerate(replies or []):
            session.add(
                ProposalReply(
                    proposal_id=proposal.id,
                    author_id=(staff or author).id,
                    author_role="street",
                    body=text,
                    created_at=when + dt.timedelta(hours=i + 1),
                )
            )
        for i, (src, dst) in enumerate(moves or []):
            session.add(
                ProposalTransition(
                    proposal_id=proposal.id,
                    actor_id=(staff or author).id,
                    actor_role="street",
                    from_status=src,
                    to_status=dst,
                    at=when + dt.timedelta(days=i + 1),
                )
            )
    return proposal


async def copy_proposals(database_url: str, community: Area, author: TestUser, count: int) -> None:
    """``count`` plain suggestions through COPY (fast)."""
    assert community.parent_id is not None
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.copy_records_to_table(
            "proposals",
            columns=[
                "id",
                "community_id",
                "street_id",
                "author_id",
                "anonymous",
                "title",
                "body",
                "category",
                "status",
                "support_count",
                "created_at",
                "updated_at",
            ],
            records=(
                (
                    uuid.uuid4(),
                    community.id,
                    community.parent_id,
                    author.id,
                    i % 7 == 0,
                    f"建议{i}",
                    f"第{i}条，内容\n第二行",
                    "other",
                    "submitted",
                    i % 50,
                    base + dt.timedelta(seconds=i),
                    base + dt.timedelta(seconds=i),
                )
                for i in range(count)
            ),
        )
    finally:
        await conn.close()


def read_csv(response: httpx.Response) -> list[list[str]]:
    assert response.content.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for Excel and WPS"
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def read_xlsx(response: httpx.Response, *, read_only: bool = False) -> Any:
    return openpyxl.load_workbook(io.BytesIO(response.content), read_only=read_only)


def utf8_filename(response: httpx.Response) -> str:
    header = response.headers["content-disposition"]
    marker = "filename*=UTF-8''"
    assert marker in header, header
    return unquote(header.split(marker, 1)[1].split(";", 1)[0])
