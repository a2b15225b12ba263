"""Logs hold no tokens, phones, positions or secrets, even at the most verbose level.

Every log record emitted while serving requests that carry a bearer token, a phone in a
body, a position in a query and a WeChat login (whose code exchange carries the app secret
to WeChat) is captured, at DEBUG, from every logger, and searched as it would be written
and as its raw fields.
"""

from __future__ import annotations

import json
import logging
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.core.logging import JsonFormatter
from tests.builders import make_user, unique_phone
from tests.proposals.helpers import make_world


async def test_logs_hold_no_tokens_phones_positions_or_secrets(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = await make_world(db, client)
    user = await make_user(db, community=w.a)
    # The root logger at DEBUG: what an operator chasing a bug would set (the app's own
    # configure_logging ran when the test app was built).
    with caplog.at_level(logging.DEBUG):
        signed_in = await client.post("/api/v1/auth/dev-login", json={"phone": user.phone})
        assert signed_in.status_code == 200
        access = signed_in.json()["access_token"]
        refresh = signed_in.json()["refresh_token"]
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"})
        assert me.status_code == 200
        forged = await client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {access[:-4]}AAAA"}
        )
        assert forged.status_code == 401
        rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
        assert rotated.status_code == 200
        # A phone in a body the server refuses (validation errors are logged nowhere).
        stranger = unique_phone()
        refused = await client.post("/api/v1/auth/dev-login", json={"phone": stranger, "x": 1})
        assert refused.status_code == 422
        # A resident's position in a query.
        nearby = await client.get(
            "/api/v1/facilities/nearby",
            params={"lat": "31.2345678", "lng": "121.4567891"},
            headers={"Authorization": f"Bearer {access}"},
        )
        assert nearby.status_code in (200, 503), nearby.text
        # A WeChat login: the code and the app secret travel to WeChat over HTTP.
        code = f"ok-{uuid.uuid4().hex}"
        wechat = await client.post("/api/v1/auth/wechat", json={"code": code})
        assert wechat.status_code == 200, wechat.text

    records = caplog.records
    assert any(r.name == "lifecircle.access" for r in records)  # the capture did see the app
    formatter = JsonFormatter()
    written = "\n".join(formatter.format(r) for r in records)
    raw = "\n".join(repr(r.__dict__) for r in records)
    secrets = {
        "access token": access,
        "token signature": access.rsplit(".", 1)[-1],
        "refresh token": refresh,
        "rotated token": rotated.json()["refresh_token"],
        "phone": user.phone,
        "refused phone": stranger,
        "latitude": "31.2345678",
        "longitude": "121.4567891",
        "wechat code": code,
        "wechat secret": settings.wechat_app_secret,
        "signing key": settings.secret_key,
    }
    leaks = sorted(name for name, value in secrets.items() if value in written or value in raw)
    assert not leaks, f"found in the logs: {leaks}"
    # The access log still says who did what, by id only.
    lines = [json.loads(line) for line in written.splitlines() if '"lifecircle.access"' in line]
    assert any(line.get("path") == "/api/v1/facilities/nearby" for line in lines)
    assert any(line.get("user_id") == str(user.id) for line in lines)
