"""A fake WeChat server, served over real HTTP by tests and the demo.

- ``/sns/jscode2session``: codes look like ``ok-<openid>`` (or ``ok-<openid>~<n>`` to sign
  the same person in again) and each may be used once; ``down-…`` answers 500.
- ``/cgi-bin/token`` and ``/cgi-bin/message/subscribe/send``: subscribe messages are kept
  and listed at ``GET /fake/messages?touser=``; ``POST /fake/failures {"count", "errcode"?}``
  makes the next sends fail (errcode, or HTTP 500 when none is given).
"""

from __future__ import annotations

import itertools
from typing import Any

from litestar import Litestar, Response, get, post
from litestar.params import FromQuery, JSONBody


def create_fake_wechat_app(app_id: str, app_secret: str) -> Litestar:
    used: set[str] = set()
    tokens: set[str] = set()
    counter = itertools.count(1)
    messages: list[dict[str, Any]] = []
    failures: list[int | None] = []

    @get("/sns/jscode2session", sync_to_thread=False)
    def code2session(
        appid: FromQuery[str],
        js_code: FromQuery[str],
        grant_type: FromQuery[str],
        secret: FromQuery[str] = "",
    ) -> Response[dict[str, Any]]:
        if js_code.startswith("down-"):
            return Response({"errcode": -1, "errmsg": "system busy"}, status_code=500)
        if appid != app_id or secret != app_secret or grant_type != "authorization_code":
            return Response({"errcode": 40013, "errmsg": "invalid appid"})
        if js_code in used or not js_code.startswith("ok-"):
            return Response({"errcode": 40029, "errmsg": "invalid code"})
        used.add(js_code)
        # ``ok-<openid>~<n>``: a fresh code for the same person (each code is single-use).
        openid = js_code.removeprefix("ok-").split("~", 1)[0]
        return Response({"openid": openid, "session_key": "fake-key", "unionid": f"u-{openid}"})

    @get("/cgi-bin/token", sync_to_thread=False)
    def access_token(
        grant_type: FromQuery[str], appid: FromQuery[str], secret: FromQuery[str]
    ) -> dict[str, Any]:
        if appid != app_id or secret != app_secret or grant_type != "client_credential":
            return {"errcode": 40013, "errmsg": "invalid appid"}
        token = f"fake-token-{next(counter)}"
        tokens.add(token)
        return {"access_token": token, "expires_in": 7200}

    @post("/cgi-bin/message/subscribe/send", sync_to_thread=False, status_code=200)
    def send(
        access_token: FromQuery[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        if access_token not in tokens:
            return Response({"errcode": 40001, "errmsg": "invalid credential"})
        if failures:
            errcode = failures.pop(0)
            if errcode is None:
                return Response({"errcode": -1, "errmsg": "system error"}, status_code=500)
            return Response({"errcode": errcode, "errmsg": "injected"})
        if not data.get("touser") or not data.get("template_id"):
            return Response({"errcode": 47003, "errmsg": "argument invalid"})
        messages.append(data)
        return Response({"errcode": 0, "errmsg": "ok", "msgid": len(messages)})

    @get("/fake/messages", sync_to_thread=False)
    def list_messages(touser: FromQuery[str | None] = None) -> list[dict[str, Any]]:
        return [m for m in messages if touser is None or m.get("touser") == touser]

    @post("/fake/failures", sync_to_thread=False, status_code=200)
    def inject(data: JSONBody[dict[str, Any]]) -> dict[str, int]:
        errcode = data.get("errcode")
        failures.extend([errcode if isinstance(errcode, int) else None] * int(data["count"]))
        return {"pending_failures": len(failures)}

    return Litestar(
        route_handlers=[code2session, access_token, send, list_messages, inject],
        openapi_config=None,
    )
