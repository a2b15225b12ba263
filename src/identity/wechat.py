"""WeChat mini-program login: ``wx.login()`` code → session, over HTTP (``jscode2session``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from src.core.errors import AppError, Message, unauthorized


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
            data = response.json()
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
        return WeChatSession(openid=str(data["openid"]), unionid=data.get("unionid"))


def _unavailable() -> AppError:
    return AppError(
        503,
        "wechat_unavailable",
        Message("微信登录暂不可用，请稍后再试", "WeChat sign-in is unavailable, try later"),
    )
