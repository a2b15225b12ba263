"""``Idempotency-Key`` for every POST, as API.md says.

- A repeat with the same key and body gets the first response (status and body) again, with
  ``Idempotent-Replayed: true``.
- The same key with another body → 422 ``idempotency_key_reused``.
- A repeat while the first is still running → 409 ``request_in_progress``.
- Keys are scoped to the caller (the user of the bearer token, else the client IP) and kept
  for ``idempotency_ttl_s`` (48 h by default).

The first response is stored before it is sent, so a client that saw it can always replay it.
A 5xx is not stored: the client may retry for real. A claim whose request died is taken over
after ``idempotency_lock_s``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from litestar import Litestar, Request
from litestar.types import ASGIApp
from sqlalchemy import text

from src.config import Settings
from src.core.auth import token_subject
from src.core.errors import AppError, conflict, send_problem, unprocessable
from src.core.errors import Message as Text

HEADER = b"idempotency-key"
_REPLAYED_HEADERS = ("content-type", "location", "content-language")

_CLAIM = text(
    """
    INSERT INTO idempotency_keys (scope, key, fingerprint, state)
    VALUES (:scope, :key, :fp, 'in_progress')
    ON CONFLICT (scope, key) DO UPDATE
       SET fingerprint = excluded.fingerprint, state = 'in_progress', locked_at = now(),
           created_at = now(), response_status = NULL, response_body = NULL,
           response_headers = NULL
     WHERE idempotency_keys.created_at < now() - make_interval(secs => :ttl)
        OR (idempotency_keys.state = 'in_progress'
            AND idempotency_keys.fingerprint = excluded.fingerprint
            AND idempotency_keys.locked_at < now() - make_interval(secs => :lock))
    RETURNING 1
    """
)
_EXISTING = text(
    "SELECT fingerprint, state, response_status, response_headers, response_body "
    "FROM idempotency_keys WHERE scope = :scope AND key = :key"
)
_STORE = text(
    "UPDATE idempotency_keys SET state = 'done', response_status = :status, "
    "response_headers = CAST(:headers AS jsonb), response_body = :body "
    "WHERE scope = :scope AND key = :key"
)
_RELEASE = text("DELETE FROM idempotency_keys WHERE scope = :scope AND key = :key")


def _valid_key(raw: bytes) -> str | None:
    if not 1 <= len(raw) <= 255 or any(b < 0x21 or b > 0x7E for b in raw):
        return None
    return raw.decode("ascii")


def valid_key(raw: str) -> str | None:
    """The key when it is 1–255 visible ASCII characters, else None (for routes that handle
    the key themselves)."""
    try:
        return _valid_key(raw.encode("ascii"))
    except UnicodeEncodeError:
        return None


def _handled_by_route(scope: Any) -> bool:
    """A route marked ``opt={"idempotency": "handler"}`` keeps its own replies (the ballot,
    whose first reply must not be stored next to the voter)."""
    handler = scope.get("route_handler")
    return handler is not None and handler.opt.get("idempotency") == "handler"


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        raw_key = dict(scope["headers"]).get(HEADER)
        if raw_key is None or _handled_by_route(scope):
            await app(scope, receive, send)
            return
        litestar_app: Litestar = scope["litestar_app"]
        settings: Settings = litestar_app.state.settings
        request: Request[Any, Any, Any] = Request(scope)
        key = _valid_key(raw_key)
        if key is None:
            error = AppError(
                400,
                "invalid_idempotency_key",
                Text(
                    "Idempotency-Key 须为 1–255 个可见 ASCII 字符",
                    "Idempotency-Key must be 1-255 visible ASCII characters",
                ),
            )
            await send_problem(scope, receive, send, error)
            return

        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        caller = token_subject(settings, request)
        client = scope.get("client")
        caller_scope = caller or f"anon:{client[0] if client else 'unknown'}"
        digest = hashlib.sha256()
        for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode()):
            digest.update(part.encode() + b"\0")
        digest.update(bytes(body))
        fingerprint = digest.hexdigest()
        params = {"scope": caller_scope, "key": key}

        sessionmaker = litestar_app.state.sessionmaker
        async with sessionmaker() as session, session.begin():
            claimed = (
                await session.execute(
                    _CLAIM,
                    {
                        **params,
                        "fp": fingerprint,
                        "ttl": settings.idempotency_ttl_s,
                        "lock": settings.idempotency_lock_s,
                    },
                )
            ).first()
            existing = None if claimed else (await session.execute(_EXISTING, params)).first()

        if existing is not None:
            if existing.fingerprint != fingerprint:
                error = unprocessable(
                    "idempotency_key_reused",
                    "该 Idempotency-Key 已用于另一个请求",
                    "This Idempotency-Key was used for a different request",
                )
            elif existing.state != "done":
                error = conflict(
                    "request_in_progress",
                    "相同的请求正在处理中，请稍后重试",
                    "The same request is still being processed; retry shortly",
                )
            else:
                replay_headers = [
                    (k.encode(), v.encode()) for k, v in (existing.response_headers or {}).items()
                ]
                replay_headers.append((b"idempotent-replayed", b"true"))
                await send(
                    {
                        "type": "http.response.start",
                        "status": existing.response_status,
                        "headers": replay_headers,
                    }
                )
                await send({"type": "http.response.body", "body": existing.response_body or b""})
                return
            await send_problem(scope, receive, send, error)
            return

        replayed_body = False

        async def replay_receive() -> Any:
            nonlocal replayed_body
            if not replayed_body:
                replayed_body = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        buffered: list[Any] = []
        status = 500
        headers: dict[str, str] = {}
        response_body = bytearray()

        async def buffering_send(message: Any) -> None:
            nonlocal status
            buffered.append(message)
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    decoded = name.decode().lower()
                    if decoded in _REPLAYED_HEADERS:
                        headers[decoded] = value.decode()
                return
            response_body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            async with sessionmaker() as session, session.begin():
                if status < 500:
                    await session.execute(
                        _STORE,
                        {
                            **params,
                            "status": status,
                            "headers": json.dumps(headers),
                            "body": bytes(response_body),
                        },
                    )
                else:
                    await session.execute(_RELEASE, params)
            for item in buffered:
                await send(item)
            buffered.clear()

        try:
            await app(scope, replay_receive, buffering_send)
        except BaseException:
            async with sessionmaker() as session, session.begin():
                await session.execute(_RELEASE, params)
            raise

    return middleware
