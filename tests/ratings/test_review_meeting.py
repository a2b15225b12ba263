"""A committee runs a review meeting end to end through the API."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.system import AuditEntry, OutboxItem
from tests.builders import login, make_user
from tests.ratings.helpers import make_world, rate


async def test_review_meeting_end_to_end(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    committee = w.h["committee"]
    project = await client.post(
        "/api/v1/projects",
        json={"title": "杏山路口袋公园", "community_id": str(w.a.id), "category": "public_space"},
        headers=committee,
    )
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    now = dt.datetime.now(dt.UTC)
    created = await client.post(
        "/api/v1/events",
        json={
            "kind": "review",
            "title": "口袋公园竣工评议会",
            "community_id": str(w.a.id),
            "project_id": project_id,
            "starts_at": now.isoformat(),
            "ends_at": (now + dt.timedelta(hours=2)).isoformat(),
            "venue": "居委会活动室",
        },
        headers=committee,
    )
    assert created.status_code == 201, created.text
    event = created.json()["id"]
    base = f"/api/v1/events/{event}/ratings"

    # The committee names the meeting's criteria while it is a draft.
    criteria = [
        {"code": "overall", "name_zh": "总体满意度", "name_en": "Overall"},
        {"code": "design", "name_zh": "设计", "name_en": "Design"},
        {"code": "greenery", "name_zh": "绿化", "name_en": "Greenery"},
    ]
    missing_overall = await client.put(
        f"{base}/criteria", json={"criteria": criteria[1:]}, headers=committee
    )
    assert missing_overall.status_code == 422
    put = await client.put(f"{base}/criteria", json={"criteria": criteria}, headers=committee)
    assert put.status_code == 200, put.text
    shown = await client.get(
        f"{base}/criteria", headers={**w.h["resident"], "Accept-Language": "en"}
    )
    assert [c["name"] for c in shown.json()["criteria"]] == ["Overall", "Design", "Greenery"]
    early = await rate(client, w.h["resident"], event, {"overall": 5, "design": 5, "greenery": 5})
    assert early.status_code == 409 and early.json()["code"] == "event_not_open"

    assert (await client.post(f"/api/v1/events/{event}/open", headers=committee)).status_code == 200

    # Residents rate, with a comment and a photo.
    upload = await client.post(
        "/api/v1/uploads",
        files={"file": ("park.png", _png(), "image/png")},
        headers=w.h["resident"],
    )
    assert upload.status_code == 201, upload.text
    mine = await rate(
        client,
        w.h["resident"],
        event,
        {"overall": 4, "design": 3, "greenery": 5},
        comment="座椅太少，老人没地方歇脚",
        photo_ids=[upload.json()["id"]],
    )
    assert mine.status_code == 201, mine.text
    rating = mine.json()
    assert rating["photos"][0]["id"] == upload.json()["id"]
    default_four = await rate(client, w.h["neighbour"], event)
    assert default_four.status_code == 422 and default_four.json()["code"] == "unknown_criterion"
    neighbour = await rate(
        client,
        w.h["neighbour"],
        event,
        {"overall": 2, "design": 2, "greenery": 3},
        comment="一派胡言的广告留言",
    )
    assert neighbour.status_code == 201
    again = await rate(client, w.h["resident"], event, {"overall": 1, "design": 1, "greenery": 1})
    assert again.status_code == 409 and again.json()["code"] == "already_rated"

    # The resident changes their mind while the meeting is open; the history is kept.
    changed = await client.put(
        f"{base}/mine",
        json={"scores": {"overall": 5, "design": 4, "greenery": 5}, "comment": rating["comment"]},
        headers=w.h["resident"],
    )
    assert changed.status_code == 200, changed.text
    got = (await client.get(f"{base}/mine", headers=w.h["resident"])).json()
    assert got["scores"] == {"overall": 5, "design": 4, "greenery": 5}
    assert got["revision"] == 2
    assert [h["scores"]["overall"] for h in got["history"]] == [4]
    assert got["photos"] == []  # the change sent no photos

    # Moderation: the committee hides the advert; its author still sees it, with the reason.
    hidden = await client.post(
        f"{base}/{neighbour.json()['id']}/hide", json={"reason": "广告内容"}, headers=committee
    )
    assert hidden.status_code == 200 and hidden.json()["comment_hidden"] is True
    own = (await client.get(f"{base}/mine", headers=w.h["neighbour"])).json()
    assert own["comment"] == "一派胡言的广告留言" and own["hidden_reason"] == "广告内容"
    staff_list = (await client.get(f"{base}/comments", headers=committee)).json()["items"]
    assert {c["hidden"] for c in staff_list} == {True, False}
    assert all(c["author_name"] for c in staff_list)

    # Staff turn the resident's comment into a suggestion, keeping the link.
    proposal = await client.post(
        f"{base}/{rating['id']}/proposal",
        json={"title": "口袋公园增加座椅", "category": "public_space"},
        headers=committee,
    )
    assert proposal.status_code == 201, proposal.text
    assert proposal.json()["body"] == "座椅太少，老人没地方歇脚"
    assert proposal.json()["event_id"] == event
    twice = await client.post(
        f"{base}/{rating['id']}/proposal",
        json={"title": "口袋公园增加座椅", "category": "public_space"},
        headers=committee,
    )
    assert twice.status_code == 409 and twice.json()["code"] == "already_converted"
    own_view = (await client.get(f"{base}/mine", headers=w.h["resident"])).json()
    assert own_view["proposal_id"] == proposal.json()["id"]
    # The resident is its (anonymous) author and finds it among their suggestions.
    my_proposals = await client.get("/api/v1/me/proposals", headers=w.h["resident"])
    assert proposal.json()["id"] in {p["id"] for p in my_proposals.json()["items"]}

    # Paper sheets collected at the venue.
    paper = await client.post(
        f"{base}/paper-counts",
        json={
            "counts": {"overall": {"5": 2, "4": 1}, "design": {"4": 3}, "greenery": {"3": 3}},
            "note": "纸质评分表 3 份",
        },
        headers=committee,
    )
    assert paper.status_code == 201, paper.text

    # Before the close residents see no results; staff do.
    hidden_summary = await client.get(f"{base}/summary", headers=w.h["resident"])
    assert hidden_summary.status_code == 403
    live = (await client.get(f"{base}/summary", headers=w.h["street_staff"])).json()
    assert live["count"] == 5 and live["app"]["count"] == 2 and live["paper"]["count"] == 3
    assert live["final"] is False

    closed = await client.post(f"/api/v1/events/{event}/close", headers=committee)
    assert closed.status_code == 200
    late = await client.put(
        f"{base}/mine",
        json={"scores": {"overall": 1, "design": 1, "greenery": 1}},
        headers=w.h["resident"],
    )
    assert late.status_code == 409 and late.json()["code"] == "event_not_open"

    summary = (await client.get(f"{base}/summary", headers=w.h["resident"])).json()
    assert summary["final"] is True
    assert summary["count"] == 5
    assert summary["criteria"] == ["overall", "design", "greenery"]
    # overall: app 5 and 2, paper 5, 5, 4 → (5+2+5+5+4)/5; satisfied 4 of 5
    assert summary["means"]["overall"] == 21 / 5
    assert summary["satisfaction_rate"] == 0.8
    assert summary["distribution"]["overall"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 3}
    # Residents see visible comments only; the hidden one is not among them.
    public = (await client.get(f"{base}/comments", headers=w.h["resident"])).json()["items"]
    assert [c["comment"] for c in public] == ["座椅太少，老人没地方歇脚"]
    assert public[0]["author_name"] is None

    project_view = (
        await client.get(f"/api/v1/projects/{project_id}/satisfaction", headers=w.h["resident"])
    ).json()
    assert project_view["count"] == 5 and project_view["meetings"] == 1
    street = (
        await client.get(
            f"/api/v1/areas/{w.street.id}/satisfaction",
            params={"min_ratings": 5},
            headers=w.h["street_staff"],
        )
    ).json()
    assert street["ranking"][0]["project_id"] == project_id
    assert street["ranking"][0]["satisfaction_rate"] == 0.8
    too_few = (
        await client.get(
            f"/api/v1/areas/{w.street.id}/satisfaction",
            params={"min_ratings": 6},
            headers=w.h["street_staff"],
        )
    ).json()
    assert too_few["ranking"] == [] and too_few["count"] == 5
    bad_param = await client.get(
        f"/api/v1/areas/{w.street.id}/satisfaction",
        params={"min_ratings": 0},
        headers=w.h["street_staff"],
    )
    assert bad_param.status_code == 400 or bad_param.status_code == 422
    district = await client.get(
        f"/api/v1/areas/{w.street.parent_id}/satisfaction", headers=w.h["street_staff"]
    )
    assert district.status_code in (404, 422)

    async with db() as session:
        actions = set(
            (
                await session.scalars(
                    select(AuditEntry.action).where(
                        AuditEntry.area_id == w.a.id, AuditEntry.action.like("rating.%")
                    )
                )
            ).all()
        )
        topics = set(
            (
                await session.scalars(
                    select(OutboxItem.topic).where(
                        OutboxItem.ordering_key == f"proposal:{proposal.json()['id']}"
                    )
                )
            ).all()
        )
        published = (
            await session.scalars(
                select(OutboxItem.payload).where(
                    OutboxItem.ordering_key == f"event:{event}",
                    OutboxItem.topic == "ratings.published",
                )
            )
        ).all()
    # The city portal is told the meeting's satisfaction once, at the close.
    assert len(published) == 1
    assert published[0]["count"] == 5 and published[0]["paper_count"] == 3
    assert published[0]["satisfaction_rate"] == 0.8
    assert published[0]["means"]["overall"] == 21 / 5
    assert published[0]["project_id"] == project_id
    assert {
        "rating.criteria",
        "rating.comment_hide",
        "rating.to_proposal",
        "rating.paper_counts",
    } <= actions
    assert topics == {"proposal.created"}


async def test_community_satisfaction_for_residents_and_other_streets(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    other = await make_world(db, client)
    url = f"/api/v1/areas/{w.a.id}/satisfaction"
    assert (await client.get(url, headers=w.h["resident"])).status_code == 200
    assert (
        await client.get(f"/api/v1/areas/{w.street.id}/satisfaction", headers=w.h["outsider"])
    ).status_code == 200
    assert (await client.get(url, headers=other.h["resident"])).status_code == 404
    assert (await client.get(url, headers=other.h["street_staff"])).status_code == 404
    stranger = await login(client, await make_user(db))
    assert (await client.get(url, headers=stranger)).status_code == 404


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 160, 60)).save(buffer, format="PNG")
    return buffer.getvalue()
