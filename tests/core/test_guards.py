"""Guards written once in src/core/auth.py: roles, and area scope from the area upwards."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.core.auth import Principal, TokenClaims, decode_access_token, load_principal
from src.core.db import driver_connection
from src.core.errors import AppError
from src.core.policy import authorize_area, require_roles
from src.models.user import Role
from tests.builders import TestUser as Person
from tests.builders import login, make_tree, make_user


async def _principal(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: Settings, who: Person
) -> Principal:
    token = (await login(client, who))["Authorization"].removeprefix("Bearer ")
    claims: TokenClaims = decode_access_token(settings, token)
    async with db() as session:
        return await load_principal(await driver_connection(session), claims)


async def test_area_scope_reaches_down_never_sideways_or_up(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    tree = await make_tree(db, 2)
    other = await make_tree(db, 1)
    a, b = tree.communities
    committee_a = await _principal(
        client, db, settings, await make_user(db, community=a, role=Role.committee, area=a)
    )
    street = await _principal(
        client, db, settings, await make_user(db, role=Role.street, area=tree.street)
    )
    admin = await _principal(
        client, db, settings, await make_user(db, role=Role.admin, city_admin=True)
    )
    resident = await _principal(client, db, settings, await make_user(db, community=a))

    async with db() as session:
        assert await authorize_area(session, committee_a, a.id, [Role.committee])
        for target in (b, tree.street, other.communities[0]):
            with pytest.raises(AppError) as refused:
                await authorize_area(session, committee_a, target.id, [Role.committee])
            assert refused.value.status == 403
        # hide=True answers as if the area did not exist.
        with pytest.raises(AppError) as hidden:
            await authorize_area(session, committee_a, b.id, [Role.committee], hide=True)
        assert hidden.value.status == 404
        # A street's staff act for its communities, not for another street's.
        for community in (a, b):
            assert await authorize_area(session, street, community.id, [Role.street])
        with pytest.raises(AppError):
            await authorize_area(session, street, other.communities[0].id, [Role.street])
        # A city-wide admin grant covers everything; a resident holds no staff role.
        assert await authorize_area(session, admin, other.street.id, [Role.admin])
        with pytest.raises(AppError):
            await authorize_area(session, resident, a.id, [Role.committee, Role.street])

    require_roles(street, Role.street, Role.admin)
    with pytest.raises(AppError) as no_role:
        require_roles(resident, Role.committee)
    assert no_role.value.code == "role_required"


async def test_a_committee_of_one_community_is_refused_another_over_http(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(db, 2)
    a, b = tree.communities
    committee = await login(client, await make_user(db, community=a, role=Role.committee, area=a))
    own = await client.get(f"/api/v1/proposals?community_id={a.id}", headers=committee)
    assert own.status_code == 200
    foreign = await client.get(f"/api/v1/proposals?community_id={b.id}", headers=committee)
    assert foreign.status_code == 404
    street = await client.get(f"/api/v1/proposals?street_id={tree.street.id}", headers=committee)
    assert street.status_code == 404


async def test_a_revoked_role_stops_working_at_the_next_request(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    from sqlalchemy import text

    tree = await make_tree(db, 1)
    a = tree.communities[0]
    user = await make_user(db, community=a, role=Role.street, area=tree.street)
    headers = await login(client, user)
    path = f"/api/v1/proposals?street_id={tree.street.id}"
    assert (await client.get(path, headers=headers)).status_code == 200
    async with db() as session, session.begin():
        await session.execute(text("DELETE FROM role_grants WHERE user_id = :u"), {"u": user.id})
    assert (await client.get(path, headers=headers)).status_code == 404
    roles = (await client.get("/api/v1/me", headers=headers)).json()["roles"]
    assert [r["role"] for r in roles] == ["resident"]
