"""POST /api/v1/auth/portal against the fake portal over real HTTP."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.core.servers import free_port
from src.integrations.city_portal.client import PortalClient
from src.integrations.city_portal.fake import FakePortal, Faults, Identity
from src.models.user import User
from tests.builders import make_tree
from tests.integrations.city_portal.conftest import portal_settings

_ids = itertools.count(1)


def new_identity(community_code: str | None, **fields: Any) -> Identity:
    return Identity(f"p-{id(fields)}-{next(_ids)}", "王建国", community_code, **fields)


async def test_ticket_signs_in_a_verified_resident_of_the_portals_community(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], fake_portal: FakePortal
) -> None:
    tree = await make_tree(db)
    who = new_identity(tree.communities[1].code)
    ticket = fake_portal.issue_ticket(who)

    response = await client.post("/api/v1/auth/portal", json={"ticket": ticket})

    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["user"]["verified"] is True
    assert tokens["user"]["community_id"] == str(tree.communities[1].id)
    assert tokens["user"]["display_name"] == "王**"
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.json()["id"] == tokens["user"]["id"]


async def test_a_ticket_works_once(client: httpx.AsyncClient, fake_portal: FakePortal) -> None:
    ticket = fake_portal.issue_ticket(new_identity(None))
    first = await client.post("/api/v1/auth/portal", json={"ticket": ticket})
    again = await client.post("/api/v1/auth/portal", json={"ticket": ticket})
    forged = await client.post("/api/v1/auth/portal", json={"ticket": "T-forged-0000000000"})

    assert first.status_code == 200
    for response in (again, forged):
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_portal_ticket"


async def test_signing_in_again_updates_the_same_user(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], fake_portal: FakePortal
) -> None:
    tree = await make_tree(db)
    first_home, new_home = tree.communities
    who = new_identity(first_home.code, verified=False, verification_level="L1")
    moved = Identity(who.portal_user_id, who.name, new_home.code)

    one = await client.post("/api/v1/auth/portal", json={"ticket": fake_portal.issue_ticket(who)})
    two = await client.post("/api/v1/auth/portal", json={"ticket": fake_portal.issue_ticket(moved)})

    assert one.json()["user"]["verified"] is False
    assert two.json()["user"]["id"] == one.json()["user"]["id"]
    assert two.json()["user"]["verified"] is True
    assert two.json()["user"]["community_id"] == str(new_home.id)


async def test_concurrent_first_sign_ins_make_one_user(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], fake_portal: FakePortal
) -> None:
    who = new_identity(None)
    tickets = [fake_portal.issue_ticket(who) for _ in range(4)]
    responses = await asyncio.gather(
        *(client.post("/api/v1/auth/portal", json={"ticket": t}) for t in tickets)
    )
    assert [r.status_code for r in responses] == [200] * 4
    async with db() as session:
        count = await session.scalar(
            select(func.count()).where(User.portal_user_id == who.portal_user_id)
        )
    assert count == 1


async def test_a_disabled_account_is_refused(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], fake_portal: FakePortal
) -> None:
    who = new_identity(None)
    await client.post("/api/v1/auth/portal", json={"ticket": fake_portal.issue_ticket(who)})
    async with db() as session, session.begin():
        await session.execute(
            update(User).where(User.portal_user_id == who.portal_user_id).values(disabled=True)
        )
    response = await client.post(
        "/api/v1/auth/portal", json={"ticket": fake_portal.issue_ticket(who)}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "account_disabled"


async def test_portal_down_is_503_and_creates_nobody(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], fake_portal: FakePortal
) -> None:
    who = new_identity(None)
    ticket = fake_portal.issue_ticket(who)
    fake_portal.set_faults(Faults(down=True))

    response = await client.post("/api/v1/auth/portal", json={"ticket": ticket})

    assert response.status_code == 503
    assert response.json()["code"] == "portal_unavailable"
    async with db() as session:
        user = await session.scalar(select(User).where(User.portal_user_id == who.portal_user_id))
    assert user is None


async def test_malformed_input_is_422(client: httpx.AsyncClient) -> None:
    for body in ({}, {"ticket": ""}, {"ticket": "a b c d e f g h"}, {"ticket": "x" * 300}):
        response = await client.post("/api/v1/auth/portal", json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "validation_failed"


# --- a portal that misbehaves -----------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["huge", "malformed", "not_json", "slow", "redirect", "long_id", "nul_id", "deep"]
)
async def test_bad_portal_replies_fail_cleanly(
    kind: str,
    client: httpx.AsyncClient,
    app: Litestar,
    settings: Settings,
    hostile: tuple[dict[str, str], str],
    fake_portal: FakePortal,
    portal_url: str,
) -> None:
    mode, url = hostile
    mode["kind"] = kind
    # The redirect points at the real (fake) portal, which would accept the ticket.
    ticket = fake_portal.issue_ticket(new_identity(None))
    mode["location"] = f"{portal_url}/api/sso/exchange"
    original = app.state.portal
    app.state.portal = PortalClient.from_settings(
        portal_settings(settings, url, portal_timeout_s=1.0)
    )
    try:
        response = await client.post("/api/v1/auth/portal", json={"ticket": ticket})
    finally:
        await app.state.portal.aclose()
        app.state.portal = original
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "portal_unavailable"
    # The redirect was not followed: the ticket is still unused.
    again = await client.post("/api/v1/auth/portal", json={"ticket": ticket})
    assert again.status_code == 200


async def test_unreachable_portal_is_503(
    client: httpx.AsyncClient, app: Litestar, settings: Settings
) -> None:
    original = app.state.portal
    app.state.portal = PortalClient.from_settings(
        portal_settings(settings, f"http://127.0.0.1:{free_port()}")
    )
    try:
        response = await client.post("/api/v1/auth/portal", json={"ticket": "T-whatever-123"})
    finally:
        await app.state.portal.aclose()
        app.state.portal = original
    assert response.status_code == 503
    assert response.json()["code"] == "portal_unavailable"
