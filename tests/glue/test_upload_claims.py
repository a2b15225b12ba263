"""One upload, one use: a rating's photo is no suggestion's or progress update's, and back."""

from __future__ import annotations

import asyncio
import io

import httpx
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.user import Role
from tests.builders import login, make_user
from tests.projects.helpers import create_project, progress
from tests.ratings.helpers import SCORES, make_meeting, make_world, rate


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 160, 60)).save(buffer, format="PNG")
    return buffer.getvalue()


async def _upload(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(
        "/api/v1/uploads", files={"file": ("p.png", _png(), "image/png")}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _proposal(photo: str) -> dict[str, object]:
    return {"title": "加装座椅", "body": "公园座椅太少", "category": "other", "photo_ids": [photo]}


async def test_rating_photos_are_not_reused(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    # A committee member who also lives in the community: may post progress and rate.
    member = await make_user(db, community=w.a, role=Role.committee, area=w.a)
    mh = await login(client, member)
    project = await create_project(client, mh, w.a)
    event = await make_meeting(db, w.a, w.committee, project_id=project["id"])

    # Rating photo → not usable for a suggestion, nor for a progress update.
    on_rating = await _upload(client, w.h["resident"])
    assert (await rate(client, w.h["resident"], event, photo_ids=[on_rating])).status_code == 201
    reused = await client.post(
        "/api/v1/proposals", json=_proposal(on_rating), headers=w.h["resident"]
    )
    assert reused.status_code == 422 and reused.json()["errors"][0]["field"] == "photo_ids"
    member_rating_photo = await _upload(client, mh)
    assert (await rate(client, mh, event, photo_ids=[member_rating_photo])).status_code == 201
    as_progress = await progress(client, mh, project["id"], 10, photo_ids=[member_rating_photo])
    assert as_progress.status_code == 422, as_progress.text

    # The rating keeps its own photo when changed.
    kept = await client.put(
        f"/api/v1/events/{event}/ratings/mine",
        json={"scores": SCORES, "photo_ids": [on_rating]},
        headers=w.h["resident"],
    )
    assert kept.status_code == 200, kept.text

    # Suggestion photo and progress photo → not usable for a rating.
    on_proposal = await _upload(client, w.h["resident"])
    made = await client.post(
        "/api/v1/proposals", json=_proposal(on_proposal), headers=w.h["resident"]
    )
    assert made.status_code == 201, made.text
    changed = await client.put(
        f"/api/v1/events/{event}/ratings/mine",
        json={"scores": SCORES, "photo_ids": [on_rating, on_proposal]},
        headers=w.h["resident"],
    )
    assert changed.status_code == 422 and changed.json()["errors"][0]["field"] == "photo_ids"
    on_progress = await _upload(client, mh)
    assert (
        await progress(client, mh, project["id"], 20, photo_ids=[on_progress])
    ).status_code == 201
    member_changed = await client.put(
        f"/api/v1/events/{event}/ratings/mine",
        json={"scores": SCORES, "photo_ids": [on_progress]},
        headers=mh,
    )
    assert member_changed.status_code == 422

    # What the residents see did not change behind the refusals.
    mine = (
        await client.get(f"/api/v1/events/{event}/ratings/mine", headers=w.h["resident"])
    ).json()
    assert [p["id"] for p in mine["photos"]] == [on_rating]


async def test_racing_claims_attach_an_upload_once(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    event = await make_meeting(db, w.a, w.committee)
    photo = await _upload(client, w.h["resident"])
    as_rating, as_proposal = await asyncio.gather(
        rate(client, w.h["resident"], event, photo_ids=[photo]),
        client.post("/api/v1/proposals", json=_proposal(photo), headers=w.h["resident"]),
    )
    codes = sorted([as_rating.status_code, as_proposal.status_code])
    assert codes == [201, 422], (as_rating.text, as_proposal.text)
