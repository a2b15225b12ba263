"""Builders for the ratings tests: a street, its people, projects and review meetings."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.area import Area
from src.models.event import Event, EventKind, EventStatus
from src.models.project import Project, ProjectStatus
from src.models.user import Role
from tests.builders import TestUser, login, make_tree, make_user

SCORES = {"overall": 5, "design": 4, "construction": 4, "usefulness": 3}


@dataclass
class World:
    street: Area
    a: Area
    b: Area
    resident: TestUser  # verified, of a
    neighbour: TestUser  # verified, of a
    outsider: TestUser  # verified, of b
    unverified: TestUser  # of a
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
        "outsider": await make_user(db, community=b),
        "unverified": await make_user(db, community=a, verified=False),
        "committee": await make_user(db, role=Role.committee, area=a),
        "committee_b": await make_user(db, role=Role.committee, area=b),
        "street_staff": await make_user(db, role=Role.street, area=tree.street),
    }
    headers = {name: await login(client, user) for name, user in people.items()}
    return World(street=tree.street, a=a, b=b, h=headers, **people)


async def make_project(
    db: async_sessionmaker[AsyncSession], community: Area, by: TestUser, title: str = "口袋公园"
) -> uuid.UUID:
    async with db() as session, session.begin():
        project = Project(
            community_id=community.id,
            street_id=community.parent_id,
            title=title,
            category="public_space",
            year=2026,
            status=ProjectStatus.done,
            created_by=by.id,
        )
        session.add(project)
        await session.flush()
        return project.id


async def make_meeting(
    db: async_sessionmaker[AsyncSession],
    community: Area,
    by: TestUser,
    *,
    project_id: uuid.UUID | None = None,
    kind: EventKind = EventKind.review,
    status: EventStatus = EventStatus.open,
    voting: dict[str, Any] | None = None,
) -> uuid.UUID:
    """A meeting stored directly in a given state (the HTTP lifecycle is tested in the
    end-to-end test and in the events suite)."""
    now = dt.datetime.now(dt.UTC)
    assert community.parent_id is not None
    async with db() as session, session.begin():
        event = Event(
            kind=kind,
            status=status,
            community_id=community.id,
            street_id=community.parent_id,
            project_id=project_id,
            title="竣工评议会",
            starts_at=now - dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(hours=1),
            voting=voting,
            created_by=by.id,
        )
        session.add(event)
        await session.flush()
        return event.id


async def set_status(
    db: async_sessionmaker[AsyncSession], event_id: uuid.UUID, status: EventStatus
) -> None:
    async with db() as session, session.begin():
        event = await session.get(Event, event_id)
        assert event is not None
        event.status = status


async def rate(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    event_id: uuid.UUID | str,
    scores: dict[str, int] | None = None,
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        f"/api/v1/events/{event_id}/ratings",
        json={"scores": scores or SCORES, **extra},
        headers=headers,
    )
