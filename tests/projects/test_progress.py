from __future__ import annotations

import asyncio
import random

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.pagination import encode_cursor
from src.models.project import ProjectProgress
from tests.projects.helpers import create_project, move_to, patch, progress
from tests.proposals.helpers import make_world
from tests.proposals.test_uploads import jpeg_with_gps, upload


async def test_progress_goes_forward_with_photos_and_residents_see_it(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    project = await create_project(client, w.h["committee"], w.a)
    pid = project["id"]
    await move_to(client, w.h["committee"], pid, "designing", "building")

    photo = (await upload(client, w.h["committee"], jpeg_with_gps())).json()
    first = await progress(
        client, w.h["committee"], pid, 30, text="完成地面铺装", photo_ids=[photo["id"]]
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["seq"] == 1 and body["percent"] == 30 and body["author_role"] == "committee"
    assert body["photos"] == [{"id": photo["id"], "url": photo["url"]}]

    backwards = await progress(client, w.h["street_staff"], pid, 20)
    assert backwards.status_code == 409 and backwards.json()["code"] == "progress_backwards"
    assert "30%" in backwards.json()["detail"]
    same = await progress(client, w.h["street_staff"], pid, 30, text="雨天停工两日")
    assert same.status_code == 201 and same.json()["seq"] == 2
    assert same.json()["author_role"] == "street"
    reused = await progress(client, w.h["committee"], pid, 40, photo_ids=[photo["id"]])
    assert reused.status_code == 422 and reused.json()["errors"][0]["field"] == "photo_ids"
    theirs = (await upload(client, w.h["resident"], jpeg_with_gps())).json()
    stolen = await progress(client, w.h["committee"], pid, 40, photo_ids=[theirs["id"]])
    assert stolen.status_code == 422
    # A photo on a progress update cannot then be put on a suggestion either.
    resubmitted = await client.post(
        "/api/v1/proposals",
        json={"title": "借用照片", "body": "x", "category": "other", "photo_ids": [photo["id"]]},
        headers=w.h["committee"],
    )
    assert resubmitted.status_code == 422
    assert (await progress(client, w.h["committee"], pid, 55)).status_code == 201

    for bad in (
        {"text": "x", "percent": 101},
        {"text": "x", "percent": -1},
        {"text": "x", "percent": 50.5},
        {"text": "", "percent": 60},
        {"text": "x" * 2001, "percent": 60},
        {"percent": 60},
        {"text": "x", "percent": 60, "photo_ids": ["not-an-id"]},
        {"text": "x", "percent": 60, "photo_ids": [photo["id"]] * 10},
        {"text": "x", "percent": 60, "when": "yesterday"},
    ):
        response = await client.post(
            f"/api/v1/projects/{pid}/progress", json=bad, headers=w.h["committee"]
        )
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["code"] == "validation_failed"

    # Residents follow it; only staff of the community or street write it.
    detail = await client.get(f"/api/v1/projects/{pid}", headers=w.h["resident"])
    assert detail.status_code == 200
    shown = detail.json()
    assert shown["progress_percent"] == 55
    assert [(p["seq"], p["percent"]) for p in shown["progress"]] == [(3, 55), (2, 30), (1, 30)]
    assert shown["progress"][2]["photos"][0]["id"] == photo["id"]
    assert shown["meetings"] == [] and shown["satisfaction"] is None
    for who, status in (
        ("resident", 403),
        ("planner", 403),
        ("committee_b", 404),
        ("outsider", 404),
    ):
        response = await progress(client, w.h[who], pid, 90)
        assert response.status_code == status, (who, response.text)
    assert (await client.get(f"/api/v1/projects/{pid}", headers=w.h["outsider"])).status_code == 404

    first_page = await client.get(
        f"/api/v1/projects/{pid}/progress?limit=2", headers=w.h["neighbour"]
    )
    assert [p["seq"] for p in first_page.json()["items"]] == [3, 2]
    rest = await client.get(
        f"/api/v1/projects/{pid}/progress?limit=2&cursor={first_page.json()['next_cursor']}",
        headers=w.h["neighbour"],
    )
    assert [p["seq"] for p in rest.json()["items"]] == [1]
    assert rest.json()["next_cursor"] is None
    hidden = await client.get(f"/api/v1/projects/{pid}/progress", headers=w.h["outsider"])
    assert hidden.status_code == 404
    bad_cursor = await client.get(
        f"/api/v1/projects/{pid}/progress?cursor=%%%", headers=w.h["neighbour"]
    )
    assert bad_cursor.status_code == 400 and bad_cursor.json()["code"] == "invalid_cursor"
    for values in ([2**40], ["x"], [1, 2]):
        huge = await client.get(
            f"/api/v1/projects/{pid}/progress?cursor={encode_cursor(values)}",
            headers=w.h["neighbour"],
        )
        assert huge.status_code == 400 and huge.json()["code"] == "invalid_cursor", values


async def test_concurrent_progress_is_ordered_and_never_backwards(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    project = await create_project(client, w.h["committee"], w.a)
    pid = project["id"]
    percents = [5 * n for n in range(1, 13)]  # 5 … 60
    random.Random(7).shuffle(percents)
    headers = [w.h["committee"], w.h["street_staff"]]
    responses = await asyncio.gather(
        *(progress(client, headers[i % 2], pid, p) for i, p in enumerate(percents))
    )
    statuses = {r.status_code for r in responses}
    assert statuses <= {201, 409}, [r.text for r in responses]
    accepted = sorted(
        (r.json()["seq"], r.json()["percent"]) for r in responses if r.status_code == 201
    )
    refused = [r.json()["code"] for r in responses if r.status_code == 409]
    assert set(refused) <= {"progress_backwards"}
    # Numbered 1..n without gaps, and each accepted update is at least the one before it.
    assert [seq for seq, _ in accepted] == list(range(1, len(accepted) + 1))
    in_order = [percent for _, percent in accepted]
    assert in_order == sorted(in_order)
    assert 60 in in_order  # the highest can never be refused
    assert len(accepted) + len(refused) == len(percents)

    detail = (await client.get(f"/api/v1/projects/{pid}", headers=w.h["resident"])).json()
    assert detail["progress_percent"] == 60
    async with db() as session:
        rows = (
            await session.scalars(
                select(ProjectProgress.percent)
                .where(ProjectProgress.project_id == project["id"])
                .order_by(ProjectProgress.seq)
            )
        ).all()
    assert list(rows) == in_order


async def test_closing_races_with_progress(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    project = await create_project(client, w.h["committee"], w.a)
    pid = project["id"]
    await move_to(client, w.h["committee"], pid, "designing", "building")
    close, update = await asyncio.gather(
        patch(client, w.h["street_staff"], pid, status="done"),
        progress(client, w.h["committee"], pid, 80),
    )
    assert close.status_code == 200
    assert update.status_code in (201, 409)
    if update.status_code == 409:
        assert update.json()["code"] == "project_closed"
    detail = (await client.get(f"/api/v1/projects/{pid}", headers=w.h["resident"])).json()
    # Whatever the order, the closed project is at 100 % and no update follows the close.
    assert detail["status"] == "done" and detail["progress_percent"] == 100
    assert len(detail["progress"]) == (1 if update.status_code == 201 else 0)
