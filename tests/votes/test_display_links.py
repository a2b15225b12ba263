"""Display links for the venue's projector: made by the committee, stored hashed, read one
meeting's public view and nothing else, last until a day after the meeting, revocable."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.system import AuditEntry
from tests.events.helpers import make_world
from tests.votes.helpers import coordination, vote

HEADER = "X-Display-Link"


def secret_of(url: str) -> str:
    _, _, fragment = url.partition("#")
    assert fragment.startswith("display=")
    return fragment.removeprefix("display=")


async def make_link(
    client: httpx.AsyncClient, headers: dict[str, str], event_id: str, key: str | None = None
) -> httpx.Response:
    h = dict(headers)
    if key is not None:
        h["Idempotency-Key"] = key
    return await client.post(f"/api/v1/events/{event_id}/display-links", headers=h)


async def test_display_link_reads_the_public_view_only(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="after_close")
    assert (await vote(client, w.h["resident"], eid, [opts[0]])).status_code == 201

    made = await make_link(client, w.h["committee"], eid)
    assert made.status_code == 201, made.text
    body = made.json()
    assert f"/events/{eid}/live#display=" in body["url"]
    token = secret_of(body["url"])
    assert len(token) >= 40
    event = (await client.get(f"/api/v1/events/{eid}", headers=w.h["committee"])).json()
    ends_at = dt.datetime.fromisoformat(event["ends_at"])
    assert dt.datetime.fromisoformat(body["expires_at"]) == ends_at + dt.timedelta(days=1)

    # Who may make one: the committee and street staff of the meeting, nobody else.
    assert (await make_link(client, w.h["street_staff"], eid)).status_code == 201
    refused = await make_link(client, w.h["resident"], eid)
    assert refused.status_code == 403 and refused.json()["code"] == "role_required"
    assert (await make_link(client, w.h["committee_b"], eid)).status_code == 404
    anonymous = await client.post(f"/api/v1/events/{eid}/display-links")
    assert anonymous.status_code == 401

    # Stored hashed: the row holds the SHA-256, no column holds the secret.
    async with db() as session:
        rows = (
            (
                await session.execute(
                    text("SELECT * FROM event_display_links WHERE event_id = :e"), {"e": eid}
                )
            )
            .mappings()
            .all()
        )
    assert len(rows) == 2
    mine = next(r for r in rows if str(r["id"]) == body["id"])
    assert bytes(mine["token_hash"]) == hashlib.sha256(token.encode()).digest()
    for row in rows:
        assert not any(token in str(v) for v in row.values())

    # The view: what residents may see (figures hidden before close), the QR while open.
    url = f"/api/v1/events/{eid}/display"
    seen = await client.get(url, headers={HEADER: token})
    assert seen.status_code == 200, seen.text
    view = seen.json()
    assert view["title"] == event["title"] and view["time_zone"] == "Asia/Shanghai"
    results = view["results"]
    assert results["hidden"] is True and results["voters"] == 1
    assert [o["votes"] for o in results["options"]] == [None, None, None]
    assert results["total_votes"] is None
    assert len(view["check_in"]["code"]) == 8
    assert view["check_in"]["image"].startswith("data:image/png;base64,")
    assert "Authorization" not in seen.request.headers

    # Nothing else: no link, a made-up one, or this link on another meeting.
    missing = await client.get(url)
    assert missing.status_code == 401 and missing.json()["code"] == "display_link_required"
    made_up = await client.get(url, headers={HEADER: "x" * 43})
    assert made_up.status_code == 401 and made_up.json()["code"] == "display_link_invalid"
    other, _ = await coordination(client, w, results_visibility="live")
    elsewhere = await client.get(f"/api/v1/events/{other}/display", headers={HEADER: token})
    assert elsewhere.status_code == 401 and elsewhere.json()["code"] == "display_link_invalid"
    # …and it is no token for the API.
    as_bearer = await client.get(
        f"/api/v1/events/{eid}", headers={"Authorization": f"Bearer {token}"}
    )
    assert as_bearer.status_code == 401
    staff_only = await client.get(f"/api/v1/events/{eid}/check-in-code", headers={HEADER: token})
    assert staff_only.status_code == 401

    # After close the view shows the figures, and no QR any more.
    await client.post(f"/api/v1/events/{eid}/close", headers=w.h["committee"])
    final = (await client.get(url, headers={HEADER: token})).json()
    assert final["check_in"] is None and final["results"]["final"] is True
    assert [o["votes"] for o in final["results"]["options"]] == [1, 0, 0]
    assert len(final["results"]["digest"]) == 64


async def test_revoke_stops_the_link_and_is_audited(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    eid, _ = await coordination(client, w, results_visibility="live")
    body = (await make_link(client, w.h["committee"], eid)).json()
    token, link_id = secret_of(body["url"]), body["id"]
    url = f"/api/v1/events/{eid}/display"
    assert (await client.get(url, headers={HEADER: token})).status_code == 200

    listed = await client.get(f"/api/v1/events/{eid}/display-links", headers=w.h["committee"])
    assert [(i["id"], i["active"]) for i in listed.json()] == [(link_id, True)]
    assert "url" not in listed.json()[0]  # the secret is shown once, at creation

    gone = f"/api/v1/events/{eid}/display-links/{link_id}"
    assert (await client.delete(gone, headers=w.h["resident"])).status_code == 403
    assert (await client.delete(gone, headers=w.h["committee"])).status_code == 204
    assert (await client.delete(gone, headers=w.h["committee"])).status_code == 204  # once
    unknown = f"/api/v1/events/{eid}/display-links/{uuid.uuid4()}"
    assert (await client.delete(unknown, headers=w.h["committee"])).status_code == 404

    revoked = await client.get(url, headers={HEADER: token})
    assert revoked.status_code == 401 and revoked.json()["code"] == "display_link_revoked"
    assert "撤销" in revoked.json()["detail"]
    ticket = await client.post(
        f"/api/v1/events/{eid}/results/stream-tickets", headers={HEADER: token}
    )
    assert ticket.status_code == 401 and ticket.json()["code"] == "display_link_revoked"
    listed = await client.get(f"/api/v1/events/{eid}/display-links", headers=w.h["committee"])
    assert listed.json()[0]["active"] is False and listed.json()[0]["revoked_at"]

    async with db() as session:
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.object_id == eid, AuditEntry.action.like("event.display_link%"))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(e.action, e.details["link_id"]) for e in entries] == [
        ("event.display_link_create", link_id),
        ("event.display_link_revoke", link_id),
    ]
    assert all(token not in str(e.details) for e in entries)


async def test_link_lasts_a_day_after_the_meeting(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    eid, _ = await coordination(client, w, results_visibility="live")
    token = secret_of((await make_link(client, w.h["committee"], eid)).json()["url"])
    url = f"/api/v1/events/{eid}/display"

    # Still open two days past its planned end: the screen does not die mid-meeting.
    async with db() as session, session.begin():
        await session.execute(
            text(
                "UPDATE events SET starts_at = now() - interval '3 days', "
                "ends_at = now() - interval '2 days' WHERE id = :e"
            ),
            {"e": eid},
        )
    assert (await client.get(url, headers={HEADER: token})).status_code == 200

    await client.post(f"/api/v1/events/{eid}/close", headers=w.h["committee"])
    assert (await client.get(url, headers={HEADER: token})).status_code == 200  # the day after
    async with db() as session, session.begin():
        await session.execute(
            text("UPDATE events SET closed_at = now() - interval '25 hours' WHERE id = :e"),
            {"e": eid},
        )
    expired = await client.get(url, headers={HEADER: token})
    assert expired.status_code == 401 and expired.json()["code"] == "display_link_expired"
    late = await make_link(client, w.h["committee"], eid)
    assert late.status_code == 409 and late.json()["code"] == "event_ended"


async def test_a_burst_with_one_key_makes_one_link_and_never_stores_the_secret(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    eid, _ = await coordination(client, w, results_visibility="live")
    key = f"display-{uuid.uuid4()}"
    replies = await asyncio.gather(
        *(make_link(client, w.h["committee"], eid, key=key) for _ in range(6))
    )
    assert {r.status_code for r in replies} <= {201, 409}
    created = [r for r in replies if r.status_code == 201]
    assert created and len({r.json()["url"] for r in created}) == 1
    assert all(r.json()["code"] == "request_in_progress" for r in replies if r.status_code == 409)
    again = await make_link(client, w.h["committee"], eid, key=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["url"] == created[0].json()["url"]
    token = secret_of(again.json()["url"])
    async with db() as session:
        links = await session.scalar(
            text("SELECT count(*) FROM event_display_links WHERE event_id = :e"), {"e": eid}
        )
        stored = (
            await session.execute(
                text(
                    "SELECT key, response_body, response_headers::text AS h "
                    "FROM idempotency_keys WHERE scope = :s"
                ),
                {"s": str(w.committee.id)},
            )
        ).all()
    assert links == 1
    assert stored  # the reply is kept (sealed) for replays…
    for row in stored:  # …but neither the key nor the secret can be read from it
        assert row.key != key
        assert token.encode() not in bytes(row.response_body or b"")
        assert token not in (row.h or "")
