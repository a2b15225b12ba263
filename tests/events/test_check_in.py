"""Check-in at the venue: a short-lived code, refused once expired; eligibility by check-in."""

from __future__ import annotations

import time
import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.core.auth import Principal
from src.core.errors import AppError
from src.events import checkin, repository
from src.events.eligibility import eligible_count, ensure_eligible
from tests.events.helpers import create_event, make_world


async def test_check_in_with_the_current_code(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    w = await make_world(db, client)
    event = await create_event(client, w.h["committee"], w.a, kind="consultation")
    eid = event["id"]
    shown = await client.get(f"/api/v1/events/{eid}/check-in-code", headers=w.h["committee"])
    assert shown.status_code == 200
    code = shown.json()["code"]
    assert len(code) == 8 and code in shown.json()["qr_payload"]

    first = await client.post(
        f"/api/v1/events/{eid}/check-ins", json={"code": code.lower()}, headers=w.h["resident"]
    )
    assert first.status_code == 201 and first.json()["check_in_count"] == 1
    again = await client.post(
        f"/api/v1/events/{eid}/check-ins", json={"code": code}, headers=w.h["resident"]
    )
    assert again.status_code == 200 and again.json()["check_in_count"] == 1
    detail = await client.get(f"/api/v1/events/{eid}", headers=w.h["resident"])
    assert detail.json()["check_in_count"] == 1

    # Residents do not get the code; other communities do not see the meeting.
    denied = await client.get(f"/api/v1/events/{eid}/check-in-code", headers=w.h["resident"])
    assert denied.status_code == 403
    outsider = await client.post(
        f"/api/v1/events/{eid}/check-ins", json={"code": code}, headers=w.h["outsider"]
    )
    assert outsider.status_code == 404


async def test_expired_and_invalid_codes(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    w = await make_world(db, client)
    event = await create_event(client, w.h["committee"], w.a, kind="consultation")
    eid = event["id"]
    window_s = settings.event_check_in_window_s
    # The code a resident copied ten minutes ago.
    old = checkin.issue(settings.secret_key, uuid.UUID(eid), window_s, now=time.time() - 600)
    expired = await client.post(
        f"/api/v1/events/{eid}/check-ins", json={"code": old.code}, headers=w.h["resident"]
    )
    assert expired.status_code == 422 and expired.json()["code"] == "check_in_code_expired"
    other_meeting = checkin.issue(settings.secret_key, uuid.uuid4(), window_s)
    for wrong in ("AAAAAAAA", "123", other_meeting.code):
        invalid = await client.post(
            f"/api/v1/events/{eid}/check-ins", json={"code": wrong}, headers=w.h["resident"]
        )
        assert invalid.status_code == 422 and invalid.json()["code"] == "check_in_code_invalid"
    empty = await client.post(
        f"/api/v1/events/{eid}/check-ins", json={"code": ""}, headers=w.h["resident"]
    )
    assert empty.status_code == 422 and empty.json()["code"] == "validation_failed"

    # Just after the turn of the window the previous code is still accepted (grace).
    now = time.time()
    turn = (now // window_s + 1) * window_s
    previous = checkin.issue(settings.secret_key, uuid.UUID(eid), window_s, now=turn - 1)
    verdict = checkin.check(
        settings.secret_key,
        uuid.UUID(eid),
        previous.code,
        window_s,
        settings.event_check_in_grace_s,
        now=turn + settings.event_check_in_grace_s / 2,
    )
    assert verdict == checkin.CodeCheck.valid
    too_late = checkin.check(
        settings.secret_key,
        uuid.UUID(eid),
        previous.code,
        window_s,
        settings.event_check_in_grace_s,
        now=turn + settings.event_check_in_grace_s + 1,
    )
    assert too_late == checkin.CodeCheck.expired


async def test_no_check_in_after_close(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    w = await make_world(db, client)
    event = await create_event(client, w.h["committee"], w.a, kind="review", open_it=True)
    eid = event["id"]
    code = (
        await client.get(f"/api/v1/events/{eid}/check-in-code", headers=w.h["committee"])
    ).json()["code"]
    closed = await client.post(f"/api/v1/events/{eid}/close", headers=w.h["committee"])
    assert closed.status_code == 200
    late = await client.post(
        f"/api/v1/events/{eid}/check-ins", json={"code": code}, headers=w.h["resident"]
    )
    assert late.status_code == 409 and late.json()["code"] == "event_not_open"
    no_code = await client.get(f"/api/v1/events/{eid}/check-in-code", headers=w.h["committee"])
    assert no_code.status_code == 409


def _principal(user_id: uuid.UUID, community: uuid.UUID | None, verified: bool) -> Principal:
    return Principal(user_id, "测试", verified, community, (), uuid.uuid4())


async def test_eligibility_rules(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    w = await make_world(db, client)
    everyone = await create_event(client, w.h["committee"], w.a, kind="review")
    at_venue = await create_event(
        client, w.h["committee"], w.a, kind="review", voting={"eligibility": "checked_in"}
    )
    code = (
        await client.get(f"/api/v1/events/{at_venue['id']}/check-in-code", headers=w.h["committee"])
    ).json()["code"]
    checked = await client.post(
        f"/api/v1/events/{at_venue['id']}/check-ins", json={"code": code}, headers=w.h["resident"]
    )
    assert checked.status_code == 201

    resident = _principal(w.resident.id, w.a.id, True)
    neighbour = _principal(w.neighbour.id, w.a.id, True)
    unverified = _principal(w.unverified.id, w.a.id, False)
    outsider = _principal(w.outsider.id, w.b.id, True)
    async with db() as session:
        open_event = await repository.get(session, uuid.UUID(everyone["id"]))
        venue_event = await repository.get(session, uuid.UUID(at_venue["id"]))
        assert open_event is not None and venue_event is not None
        await ensure_eligible(session, open_event, resident)
        await ensure_eligible(session, open_event, neighbour)
        await ensure_eligible(session, venue_event, resident)
        for event, who in (
            (open_event, unverified),
            (open_event, outsider),
            (venue_event, neighbour),
        ):
            try:
                await ensure_eligible(session, event, who)
            except AppError as error:
                assert (error.status, error.code) == (403, "not_eligible")
            else:
                raise AssertionError(f"{who} should not be eligible")
        # Two verified residents of a (the unverified one does not count).
        assert await eligible_count(session, open_event) == 2
        assert await eligible_count(session, venue_event) == 1
