"""WeChat mini-program login: ``wx.login()`` code → session, over HTTP (``jscode2session``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from src.core import inputs
from src.core.errors import AppError, Message, unauthorized

# users.wechat_openid is String(64); WeChat's ids are 28 URL-safe base64 characters.
OPENID_MAX = 64
_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{OPENID_MAX}}}")


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    unionid: str | None


class WeChatClient(Protocol):
    async def code_to_session(self, code: str) -> WeChatSession: ...


class HttpWeChatClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, app_id: str, secret: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.secret = secret

    async def code_to_session(self, code: str) -> WeChatSession:
        try:
            response = await self.http.get(
                f"{self.base_url}/sns/jscode2session",
                params={
                    "appid": self.app_id,
                    "secret": self.secret,
                    "js_code": code,
                    "grant_type": "authorization_code",
                },
            )
            data = inputs.loads(response.content)
        except (httpx.HTTPError, ValueError) as exc:
            raise _unavailable() from exc
        if response.status_code >= 500:
            raise _unavailable()
        errcode = data.get("errcode", 0) if isinstance(data, dict) else -1
        if errcode == -1 and not isinstance(data, dict):
            raise _unavailable()
        if errcode in (40029, 40163, 40226):  # invalid, used, or high-risk code
            raise unauthorized(
                "invalid_wechat_code",
                "微信登录凭证无效或已使用",
                "The WeChat code is invalid or used",
            )
        if errcode != 0 or not data.get("openid"):
            raise _unavailable()
        unionid = data.get("unionid")
        return WeChatSession(
            openid=_identifier(data["openid"]),
            # Not stored; kept only when it looks like one.
            unionid=unionid if isinstance(unionid, str) and _ID.fullmatch(unionid) else None,
        )


def _identifier(value: Any) -> str:
    """An id from WeChat as we store it, or the reply is WeChat's fault (502), never a 500
    from the database."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise _bad_reply()
    return value


def _bad_reply() -> AppError:
    return AppError(
        502,
        "wechat_bad_reply",
        Message(
            "微信登录返回了无法识别的结果，请稍后再试",
            "WeChat sign-in replied with data we cannot use, try later",
        ),
    )


def _unavailable() -> AppError:
    return AppError(
        503,
        "wechat_unavailable",
        Message("微信登录暂不可用，请稍后再试", "WeChat sign-in is unavailable, try later"),
    )
