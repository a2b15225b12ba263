"""WeChat mini-program login: ``wx.login()`` code → session, over HTTP (``jscode2session``)."""

from __future__ import annotations

import re
import time
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


# --- subscribe messages (订阅消息) -----------------------------------------------------------

# errcodes: the access token is invalid or expired (fetch a new one); the user has no grant
# left or refused (the grant is spent: nothing to retry); the request can never succeed.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
REFUSED = frozenset({43101})
PERMANENT = frozenset({40003, 40037, 47003, 41030})


@dataclass(frozen=True)
class SendResult:
    """``errcode`` 0 is delivered; ``retry`` says a later attempt may succeed."""

    errcode: int
    errmsg: str
    retry: bool


class HttpWeChatSender:
    """``/cgi-bin/token`` (cached until shortly before it expires) and
    ``/cgi-bin/message/subscribe/send``."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, app_id: str, secret: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.secret = secret
        self._token: str | None = None
        self._token_until = 0.0

    async def _access_token(self, *, fresh: bool = False) -> str | None:
        if not fresh and self._token is not None and time.monotonic() < self._token_until:
            return self._token
        try:
            response = await self.http.get(
                f"{self.base_url}/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.app_id,
                    "secret": self.secret,
                },
            )
            data = inputs.loads(response.content)
        except (httpx.HTTPError, ValueError):
            return None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            return None
        expires = data.get("expires_in", 7200)
        lifetime = float(expires) if isinstance(expires, int | float) else 7200.0
        self._token, self._token_until = token, time.monotonic() + max(60.0, lifetime - 300)
        return token

    async def send(self, message: dict[str, Any]) -> SendResult:
        result = await self._send_once(message, fresh=False)
        if result.errcode in TOKEN_ERRORS:
            result = await self._send_once(message, fresh=True)
        return result

    async def _send_once(self, message: dict[str, Any], *, fresh: bool) -> SendResult:
        token = await self._access_token(fresh=fresh)
        if token is None:
            return SendResult(-1, "no access token", retry=True)
        try:
            response = await self.http.post(
                f"{self.base_url}/cgi-bin/message/subscribe/send",
                params={"access_token": token},
                json=message,
            )
            data = inputs.loads(response.content)
        except (httpx.HTTPError, ValueError) as exc:
            return SendResult(-1, type(exc).__name__, retry=True)
        if response.status_code >= 500 or not isinstance(data, dict):
            return SendResult(-1, f"HTTP {response.status_code}", retry=True)
        errcode = data.get("errcode", 0)
        errcode = errcode if isinstance(errcode, int) else -1
        errmsg = str(data.get("errmsg", ""))[:200]
        retry = errcode != 0 and errcode not in REFUSED | PERMANENT
        return SendResult(errcode, errmsg, retry=retry)
