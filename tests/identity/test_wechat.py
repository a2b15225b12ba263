"""Mini-program sign-in through the fake jscode2session server over real HTTP."""

from __future__ import annotations

import uuid

import httpx


async def _wechat(client: httpx.AsyncClient, code: str) -> httpx.Response:
    return await client.post("/api/v1/auth/wechat", json={"code": code})


async def test_a_new_openid_becomes_an_unverified_user_and_signs_in_again(
    client: httpx.AsyncClient,
) -> None:
    openid = f"o-{uuid.uuid4().hex[:16]}"
    first = await _wechat(client, f"ok-{openid}")
    assert first.status_code == 200, first.text
    user = first.json()["user"]
    assert user["verified"] is False
    assert user["display_name"] == "微信用户"
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
    )
    assert me.json()["id"] == user["id"]

    # The same person with a fresh wx.login() code: the same account, a new sign-in.
    again = await _wechat(client, f"ok-{openid}~2")
    assert again.status_code == 200
    assert again.json()["user"]["id"] == user["id"]
    assert again.json()["refresh_token"] != first.json()["refresh_token"]


async def test_a_used_or_unknown_code_is_401_and_an_outage_is_503(
    client: httpx.AsyncClient,
) -> None:
    code = f"ok-o-{uuid.uuid4().hex[:16]}"
    assert (await _wechat(client, code)).status_code == 200
    used = await _wechat(client, code)
    assert used.status_code == 401
    assert used.json()["code"] == "invalid_wechat_code"
    unknown = await _wechat(client, "bogus-code")
    assert unknown.status_code == 401
    down = await _wechat(client, "down-1")
    assert down.status_code == 503
    assert down.json()["code"] == "wechat_unavailable"
    empty = await _wechat(client, "")
    assert empty.status_code == 422


async def test_an_openid_that_does_not_fit_is_502_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    # users.wechat_openid is 64 characters: 64 fits, 65 is a reply we cannot use.
    fits = "o" + uuid.uuid4().hex + "x" * 31
    assert len(fits) == 64
    assert (await _wechat(client, f"ok-{fits}")).status_code == 200
    for openid in ("o" + uuid.uuid4().hex + "x" * 32, "o" * 125, "o-bad id"):
        reply = await _wechat(client, f"ok-{openid}")
        assert reply.status_code == 502, reply.text
        assert reply.headers["content-type"].startswith("application/problem+json")
        assert reply.json()["code"] == "wechat_bad_reply"
        assert reply.json()["detail"] == "微信登录返回了无法识别的结果，请稍后再试"
    english = await client.post(
        "/api/v1/auth/wechat", json={"code": f"ok-{'o' * 70}"}, headers={"Accept-Language": "en"}
    )
    assert english.status_code == 502
    assert english.json()["detail"].startswith("WeChat sign-in replied with data")


async def test_a_control_character_in_the_code_is_422(client: httpx.AsyncClient) -> None:
    reply = await _wechat(client, "ok-ab\u0000cd")
    assert reply.status_code == 422
    assert reply.json()["code"] == "validation_failed"
    assert reply.json()["errors"][0]["field"] == "code"
