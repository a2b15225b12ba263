"""A fake WeChat ``jscode2session`` server, served over real HTTP by tests and the demo.

Codes look like ``ok-<openid>`` (or ``ok-<openid>~<n>`` to sign the same person in again) and
each may be used once; ``down-…`` answers 500.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Response, get
from litestar.params import FromQuery


def create_fake_wechat_app(app_id: str, app_secret: str) -> Litestar:
    used: set[str] = set()

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

    return Litestar(route_handlers=[code2session], openapi_config=None)
