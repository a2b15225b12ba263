"""The project page ties the domains together: its meetings and its satisfaction."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.event import EventKind, EventStatus
from tests.projects.helpers import create_project
from tests.ratings.helpers import make_meeting, make_world, rate, set_status


async def test_detail_lists_meetings_and_satisfaction(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    project = await create_project(client, w.h["committee"], w.a)
    pid = project["id"]
    url = f"/api/v1/projects/{pid}"

    fresh = (await client.get(url, headers=w.h["resident"])).json()
    assert fresh["meetings"] == [] and fresh["satisfaction"] is None

    coordination = await make_meeting(
        db,
        w.a,
        w.committee,
        project_id=pid,
        kind=EventKind.coordination,
        status=EventStatus.closed,
    )
    review = await make_meeting(db, w.a, w.committee, project_id=pid)
    other = await make_meeting(db, w.a, w.committee, kind=EventKind.consultation)
    for who in ("resident", "neighbour"):
        assert (await rate(client, w.h[who], review)).status_code == 201

    # While the review meeting is open, staff see the running figures, residents not yet:
    # the same rule as GET /projects/{id}/satisfaction.
    staff = (await client.get(url, headers=w.h["street_staff"])).json()
    assert {m["id"] for m in staff["meetings"]} == {str(coordination), str(review)}
    assert str(other) not in {m["id"] for m in staff["meetings"]}
    by_id = {m["id"]: m for m in staff["meetings"]}
    assert by_id[str(coordination)]["kind"] == "coordination"
    assert by_id[str(coordination)]["status"] == "closed"
    assert by_id[str(review)]["title"] == "竣工评议会"
    dt.datetime.fromisoformat(by_id[str(review)]["starts_at"])
    standalone = await client.get(f"{url}/satisfaction", headers=w.h["street_staff"])
    assert staff["satisfaction"] == standalone.json()
    assert staff["satisfaction"]["count"] == 2 and staff["satisfaction"]["meetings"] == 1

    resident = (await client.get(url, headers=w.h["resident"])).json()
    assert len(resident["meetings"]) == 2
    assert resident["satisfaction"] is None

    await set_status(db, review, EventStatus.closed)
    resident = (await client.get(url, headers=w.h["resident"])).json()
    mine = await client.get(f"{url}/satisfaction", headers=w.h["resident"])
    assert resident["satisfaction"] == mine.json()
    assert resident["satisfaction"]["count"] == 2
    assert resident["satisfaction"]["satisfaction_rate"] == 1.0
    assert resident["satisfaction"]["project_id"] == pid

    # Another community's resident still does not see the project at all.
    assert (await client.get(url, headers=w.h["outsider"])).status_code == 404
