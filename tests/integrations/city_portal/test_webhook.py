"""POST /api/v1/integrations/portal/webhook: signed, fresh, never replayed, applied once."""

from __future__ import annotations

import itertools
import time
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.integrations.city_portal import signing
from src.models.proposal import Proposal, ProposalTransition
from src.models.system import AuditEntry
from src.models.user import User
from tests.builders import make_tree
from tests.integrations.city_portal.conftest import WEBHOOK_PATH, signed_webhook
from tests.proposals.helpers import make_world, move, submit

_events = itertools.count(1)
_run = int(time.time())


def status_event(proposal_id: str, status: str, **data: Any) -> dict[str, Any]:
    return {
        "event_id": f"evt-{_run}-{next(_events)}",
        "type": "proposal.status_changed",
        "occurred_at": "2026-11-30T08:00:00+08:00",
        "data": {"proposal_id": proposal_id, "status": status, **data},
    }


async def post_signed(
    client: httpx.AsyncClient, settings: Settings, event: dict[str, Any], **kw: Any
) -> httpx.Response:
    body, headers = signed_webhook(settings, event, **kw)
    return await client.post(WEBHOOK_PATH, content=body, headers=headers)


async def status_of(db: async_sessionmaker[AsyncSession], proposal_id: str) -> str:
    async with db() as session:
        proposal = await session.get(Proposal, proposal_id)
        assert proposal is not None
        return proposal.status.value


async def test_portal_statuses_move_a_suggestion_through_legal_steps(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    world = await make_world(db, client)
    proposal = await submit(client, world.h["resident"])
    pid = proposal["id"]

    steps = [
        ("RECEIVED", "under_review"),
        ("ACCEPTED", "accepted"),
        ("IN_PROGRESS", "adopted"),
        ("COMPLETED", "done"),
    ]
    for portal_status, ours in steps:
        response = await post_signed(client, settings, status_event(pid, portal_status))
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "applied"
        assert await status_of(db, pid) == ours

    async with db() as session:
        history = (
            await session.scalars(
                select(ProposalTransition)
                .where(ProposalTransition.proposal_id == pid)
                .order_by(ProposalTransition.id)
            )
        ).all()
        audited = await session.scalar(
            select(func.count()).where(
                AuditEntry.object_id == pid, AuditEntry.action == "portal.proposal.transition"
            )
        )
    assert [t.to_status.value for t in history] == [s for _, s in steps]
    assert {t.actor_role for t in history} == {"portal"}
    assert audited == 4
    notes = await client.get("/api/v1/me/notifications", headers=world.h["resident"])
    assert notes.status_code == 200


async def test_an_illegal_move_is_recorded_not_applied(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    world = await make_world(db, client)
    pid = (await submit(client, world.h["resident"]))["id"]

    done = await post_signed(client, settings, status_event(pid, "COMPLETED"))
    odd = await post_signed(client, settings, status_event(pid, "ESCALATED"))
    nobody = await post_signed(
        client, settings, status_event("0190b8a0-0000-7000-8000-000000000000", "ACCEPTED")
    )

    assert done.status_code == 200
    assert done.json()["outcome"] == "illegal_transition"
    assert odd.json()["outcome"] == "unknown_status"
    assert nobody.json()["outcome"] == "unknown_proposal"
    assert await status_of(db, pid) == "submitted"


async def test_rejected_and_merged_follow_our_rules(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    world = await make_world(db, client)
    keep = (await submit(client, world.h["resident"]))["id"]
    dup = (await submit(client, world.h["neighbour"]))["id"]
    other = (await submit(client, world.h["outsider"]))["id"]
    await client.put(f"/api/v1/proposals/{dup}/support", headers=world.h["resident"])
    for pid in (dup, other):
        assert (await move(client, world.h["street_staff"], pid, "under_review")).status_code == 200

    across = await post_signed(client, settings, status_event(dup, "MERGED", merged_into=other))
    no_target = await post_signed(client, settings, status_event(dup, "MERGED"))
    merged = await post_signed(client, settings, status_event(dup, "MERGED", merged_into=keep))
    rejected = await post_signed(client, settings, status_event(other, "REJECTED"))

    assert across.json()["outcome"] == "illegal_transition"
    assert no_target.json()["outcome"] == "illegal_transition"
    assert merged.json()["outcome"] == "applied"
    assert rejected.json()["outcome"] == "applied"
    detail = (await client.get(f"/api/v1/proposals/{keep}", headers=world.h["resident"])).json()
    assert detail["support_count"] == 1
    assert await status_of(db, dup) == "merged"
    assert await status_of(db, other) == "rejected"


async def test_each_event_is_applied_once(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    world = await make_world(db, client)
    pid = (await submit(client, world.h["resident"]))["id"]
    event = status_event(pid, "RECEIVED")

    first = await post_signed(client, settings, event)
    # The portal retries the same event (new nonce, new signature) after a lost reply.
    again = await post_signed(client, settings, event)

    assert first.json() == {**first.json(), "outcome": "applied", "duplicate": False}
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["outcome"] == "applied"
    async with db() as session:
        moves = await session.scalar(
            select(func.count()).where(ProposalTransition.proposal_id == pid)
        )
    assert moves == 1


async def test_unsigned_forged_stale_and_replayed_calls_are_401(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    world = await make_world(db, client)
    pid = (await submit(client, world.h["resident"]))["id"]
    event = status_event(pid, "RECEIVED")
    body, headers = signed_webhook(settings, event)

    unsigned = await client.post(WEBHOOK_PATH, content=body)
    forged = await client.post(
        WEBHOOK_PATH, content=body.replace(b"RECEIVED", b"ACCEPTED"), headers=headers
    )
    wrong_key = signing.signed_headers("not-the-secret-0123", "x", "POST", WEBHOOK_PATH, body)
    stranger = await client.post(WEBHOOK_PATH, content=body, headers=wrong_key)
    stale_body, stale_headers = signed_webhook(settings, event, now=time.time() - 301)
    stale = await client.post(WEBHOOK_PATH, content=stale_body, headers=stale_headers)
    future_body, future_headers = signed_webhook(settings, event, now=time.time() + 301)
    future = await client.post(WEBHOOK_PATH, content=future_body, headers=future_headers)
    first = await client.post(WEBHOOK_PATH, content=body, headers=headers)
    replay = await client.post(WEBHOOK_PATH, content=body, headers=headers)

    codes = [r.json()["code"] for r in (unsigned, forged, stranger, stale, future)]
    assert [r.status_code for r in (unsigned, forged, stranger, stale, future)] == [401] * 5
    assert codes == [
        "invalid_signature",
        "invalid_signature",
        "invalid_signature",
        "stale_request",
        "stale_request",
    ]
    assert first.status_code == 200
    assert replay.status_code == 401
    assert replay.json()["code"] == "replayed_request"
    assert await status_of(db, pid) == "under_review"


async def test_a_signed_but_malformed_event_is_422(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    for event in (
        {"event_id": "x", "type": "proposal.status_changed"},
        {**status_event("not-a-uuid", "RECEIVED")},
        {**status_event("0190b8a0-0000-7000-8000-000000000000", "RECEIVED"), "type": "party"},
    ):
        response = await post_signed(client, settings, event)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "validation_failed"
    body = b"not json"
    headers = signing.signed_headers(
        settings.portal_webhook_secret, "p", "POST", WEBHOOK_PATH, body
    )
    response = await client.post(WEBHOOK_PATH, content=body, headers=headers)
    assert response.status_code == 422


async def test_identity_changes_update_the_resident(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    tree = await make_tree(db)
    async with db() as session, session.begin():
        user = User(display_name="李**", portal_user_id=f"p-ident-{_run}", verified=False)
        session.add(user)
    event = {
        "event_id": f"evt-{_run}-{next(_events)}",
        "type": "identity.changed",
        "occurred_at": "2026-11-30T08:00:00+08:00",
        "data": {
            "portal_user_id": user.portal_user_id,
            "verified": True,
            "community_code": tree.communities[0].code,
        },
    }
    response = await post_signed(client, settings, event)
    unknown = await post_signed(
        client,
        settings,
        {
            **event,
            "event_id": f"evt-{_run}-{next(_events)}",
            "data": {"portal_user_id": "nobody-here", "verified": True},
        },
    )

    assert response.json()["outcome"] == "applied"
    assert unknown.json()["outcome"] == "unknown_user"
    async with db() as session:
        fresh = await session.get(User, user.id)
        assert fresh is not None
        assert fresh.verified is True
        assert fresh.home_community_id == tree.communities[0].id
