"""Access tokens are checked strictly; refresh tokens rotate, once each; reuse ends the sign-in."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import uuid
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from tests import builders
from tests.builders import make_tree, make_user

User = builders.TestUser


async def _sign_in(client: httpx.AsyncClient, user: User) -> dict[str, Any]:
    reply = await client.post("/api/v1/auth/dev-login", json={"phone": user.phone})
    assert reply.status_code == 200, reply.text
    tokens: dict[str, Any] = reply.json()
    return tokens


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.fixture
async def signed_in(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> tuple[User, dict[str, Any]]:
    tree = await make_tree(db, 1)
    user = await make_user(db, community=tree.communities[0])
    return user, await _sign_in(client, user)


async def test_me_shows_the_signed_in_user(
    client: httpx.AsyncClient, signed_in: tuple[User, dict[str, Any]]
) -> None:
    user, tokens = signed_in
    me = await client.get("/api/v1/me", headers=_bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == str(user.id)
    assert me.json()["roles"][0]["role"] == "resident"
    assert tokens["token_type"] == "Bearer"
    assert tokens["user"]["id"] == str(user.id)


async def test_no_token_or_another_scheme_is_401(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}):
        reply = await client.get("/api/v1/me", headers=headers)
        assert reply.status_code == 401
        assert reply.headers["www-authenticate"] == "Bearer"
        assert reply.headers["content-type"].startswith("application/problem+json")


async def test_an_expired_token_is_401_token_expired(
    client: httpx.AsyncClient, settings: Settings, signed_in: tuple[User, dict[str, Any]]
) -> None:
    _, tokens = signed_in
    claims = _claims(tokens["access_token"])
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    expired = jwt.encode(
        {**claims, "iat": past - dt.timedelta(minutes=15), "exp": past},
        settings.secret_key,
        algorithm="HS256",
    )
    reply = await client.get("/api/v1/me", headers=_bearer(expired))
    assert reply.status_code == 401
    assert reply.json()["code"] == "token_expired"


async def test_forged_alg_none_wrong_audience_and_wrong_type_are_refused(
    client: httpx.AsyncClient, settings: Settings, signed_in: tuple[User, dict[str, Any]]
) -> None:
    _, tokens = signed_in
    claims = _claims(tokens["access_token"])
    forged = jwt.encode(claims, "another-secret-another-secret-another-0", algorithm="HS256")
    alg_none = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    wrong_audience = jwt.encode(
        {**claims, "aud": "some-other-app"}, settings.secret_key, algorithm="HS256"
    )
    wrong_issuer = jwt.encode({**claims, "iss": "elsewhere"}, settings.secret_key, "HS256")
    not_access = jwt.encode({**claims, "typ": "refresh"}, settings.secret_key, "HS256")
    # Another algorithm (the server accepts HS256 only).
    hs384 = jwt.encode(claims, settings.secret_key + "-" * 8, algorithm="HS384")
    garbage = "not.a.token"
    for token in (forged, alg_none, wrong_audience, wrong_issuer, not_access, hs384, garbage):
        reply = await client.get("/api/v1/me", headers=_bearer(token))
        assert reply.status_code == 401, token
        assert reply.json()["code"] == "invalid_token"


async def test_a_token_for_a_user_or_family_that_does_not_exist_is_refused(
    client: httpx.AsyncClient, settings: Settings, signed_in: tuple[User, dict[str, Any]]
) -> None:
    _, tokens = signed_in
    claims = _claims(tokens["access_token"])
    for changed in ({"sub": str(uuid.uuid4())}, {"fam": str(uuid.uuid4())}):
        token = jwt.encode({**claims, **changed}, settings.secret_key, algorithm="HS256")
        reply = await client.get("/api/v1/me", headers=_bearer(token))
        assert reply.status_code == 401
        assert reply.json()["code"] == "token_revoked"


async def test_logout_revokes_the_access_and_refresh_tokens(
    client: httpx.AsyncClient, signed_in: tuple[User, dict[str, Any]]
) -> None:
    _, tokens = signed_in
    headers = _bearer(tokens["access_token"])
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204

    me = await client.get("/api/v1/me", headers=headers)
    assert me.status_code == 401
    assert me.json()["code"] == "token_revoked"
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401


async def test_a_disabled_user_is_signed_out_at_the_next_request(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    signed_in: tuple[User, dict[str, Any]],
) -> None:
    user, tokens = signed_in
    async with db() as session, session.begin():
        await session.execute(
            text("UPDATE users SET disabled = true WHERE id = :id"), {"id": user.id}
        )
    reply = await client.get("/api/v1/me", headers=_bearer(tokens["access_token"]))
    assert reply.status_code == 401


async def test_refresh_rotates_and_each_refresh_token_works_once(
    client: httpx.AsyncClient, signed_in: tuple[User, dict[str, Any]]
) -> None:
    user, tokens = signed_in
    first = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert first.status_code == 200, first.text
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["user"]["id"] == str(user.id)
    me = await client.get("/api/v1/me", headers=_bearer(rotated["access_token"]))
    assert me.status_code == 200
    # The same sign-in (family) continues.
    assert _claims(rotated["access_token"])["fam"] == _claims(tokens["access_token"])["fam"]

    second = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert second.status_code == 200


async def test_reusing_a_refresh_token_revokes_the_whole_sign_in(
    client: httpx.AsyncClient, signed_in: tuple[User, dict[str, Any]]
) -> None:
    _, tokens = signed_in
    rotated = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).json()

    # The old token comes back (stolen copy): refused, and the family ends. The request must
    # not wait on its own row lock (it used to hang here).
    reuse = await asyncio.wait_for(
        client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}),
        timeout=120,
    )
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_reused"

    # Everything issued to that sign-in stops working, including the rotated pair.
    after = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert after.status_code == 401
    me = await client.get("/api/v1/me", headers=_bearer(rotated["access_token"]))
    assert me.status_code == 401
    assert me.json()["code"] == "token_revoked"


async def test_two_concurrent_refreshes_with_one_token_give_one_new_pair(
    client: httpx.AsyncClient, signed_in: tuple[User, dict[str, Any]]
) -> None:
    _, tokens = signed_in
    body = {"refresh_token": tokens["refresh_token"]}
    replies = await asyncio.wait_for(
        asyncio.gather(
            client.post("/api/v1/auth/refresh", json=body),
            client.post("/api/v1/auth/refresh", json=body),
        ),
        timeout=120,
    )
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [200, 401]


async def test_unknown_or_malformed_refresh_tokens_are_refused(client: httpx.AsyncClient) -> None:
    unknown = await client.post("/api/v1/auth/refresh", json={"refresh_token": "x" * 43})
    assert unknown.status_code == 401
    assert unknown.json()["code"] == "invalid_refresh_token"
    short = await client.post("/api/v1/auth/refresh", json={"refresh_token": "short"})
    assert short.status_code == 422
    assert short.json()["code"] == "validation_failed"


async def test_dev_login_of_an_unknown_phone_is_404(client: httpx.AsyncClient) -> None:
    reply = await client.post("/api/v1/auth/dev-login", json={"phone": "13000000000"})
    assert reply.status_code == 404
    bad = await client.post("/api/v1/auth/dev-login", json={"phone": "12345"})
    assert bad.status_code == 422
