"""The portal's HTTP API as we call it: ticket exchange (sign-on) and event delivery.

One httpx client with a fixed base URL from settings; redirects are never followed, every
reply is read under a total deadline and a size cap, and anything unexpected is an error of
a known kind, so a caller never half-applies a broken reply.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from litestar import Litestar
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from src.config import Settings, check_production
from src.core import inputs
from src.integrations.city_portal import signing

EXCHANGE_PATH = "/api/sso/exchange"
EVENTS_PATH = "/api/events"


def idempotency_key(outbox_id: int) -> str:
    return f"lc-outbox-{outbox_id}"


@dataclass(frozen=True)
class PortalIdentity:
    portal_user_id: str
    name: str
    masked_phone: str | None
    verification_level: str
    verified: bool
    community_code: str | None


@dataclass(frozen=True)
class Delivery:
    """The outcome of one delivery attempt.

    ``delivered``: the portal holds the event (new or a repeat it dropped).
    ``retry``: try again later (timeout, 5xx, 429, broken reply); ``retry_after_s`` when the
    portal said so. ``rejected``: the portal refused it for good (4xx): dead-letter it.
    """

    outcome: Literal["delivered", "retry", "rejected"]
    error: str | None = None
    retry_after_s: float | None = None
    status_code: int | None = None


class PortalUnavailable(Exception):
    """The portal did not answer usefully (down, slow, 5xx, broken reply)."""


class InvalidTicket(Exception):
    """The portal says the ticket is unknown, expired, forged or used."""


class ReplyTooLarge(Exception):
    pass


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        # A ValueError for anything undecodable, too deep included (never a RecursionError).
        return inputs.loads(self.body)


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    current = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - current).total_seconds())


class PortalClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        app_id: str,
        secret: str,
        timeout_s: float,
        max_reply_bytes: int,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.secret = secret
        self.timeout_s = timeout_s
        self.max_reply_bytes = max_reply_bytes

    @classmethod
    def from_settings(cls, settings: Settings, **http_options: Any) -> PortalClient:
        http = httpx.AsyncClient(
            timeout=settings.portal_timeout_s,
            follow_redirects=False,
            trust_env=False,
            **http_options,
        )
        return cls(
            http,
            base_url=settings.portal_api_base,
            app_id=settings.portal_app_id,
            secret=settings.portal_app_secret,
            timeout_s=settings.portal_timeout_s,
            max_reply_bytes=settings.portal_max_reply_bytes,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _post(self, path: str, payload: dict[str, Any], headers: dict[str, str]) -> _Reply:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        all_headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            **headers,
            **signing.signed_headers(self.secret, self.app_id, "POST", path, body),
        }
        # A total deadline: a reply that trickles in byte by byte is as bad as none.
        async with asyncio.timeout(self.timeout_s):
            async with self.http.stream(
                "POST", self.base_url + path, content=body, headers=all_headers
            ) as response:
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.max_reply_bytes:
                    raise ReplyTooLarge(declared)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    if size > self.max_reply_bytes:
                        raise ReplyTooLarge(str(size))
                    chunks.append(chunk)
                return _Reply(response.status_code, response.headers, b"".join(chunks))

    # --- sign-on --------------------------------------------------------------------------

    async def exchange_ticket(self, ticket: str) -> PortalIdentity:
        try:
            # Only a call that never reached the portal is repeated: a ticket is single-use.
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(httpx.ConnectError),
                stop=stop_after_attempt(3),
                wait=wait_random_exponential(multiplier=0.05, max=0.5),
                reraise=True,
            ):
                with attempt:
                    reply = await self._post(EXCHANGE_PATH, {"ticket": ticket}, {})
        except (httpx.HTTPError, TimeoutError, ReplyTooLarge) as exc:
            raise PortalUnavailable(type(exc).__name__) from exc
        if reply.status in (400, 401, 404, 410) and _error_code(reply) == "invalid_ticket":
            raise InvalidTicket()
        if reply.status != 200:
            raise PortalUnavailable(f"status {reply.status}")
        try:
            data = reply.json()["user"]
            identity = PortalIdentity(
                portal_user_id=_text(data["portal_user_id"], 64),
                name=_text(data["name"], 50),
                masked_phone=_optional_text(data.get("masked_phone"), 20),
                verification_level=_text(data.get("verification_level", "L0"), 8),
                verified=data["verified"] is True,
                community_code=_optional_text(data.get("community_code"), 32),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise PortalUnavailable("malformed reply") from exc
        return identity

    # --- outbound events ------------------------------------------------------------------

    async def deliver(
        self,
        outbox_id: int,
        topic: str,
        ordering_key: str,
        payload: dict[str, Any],
        created_at: dt.datetime,
    ) -> Delivery:
        key = idempotency_key(outbox_id)
        event = {
            "id": key,
            "topic": topic,
            "ordering_key": ordering_key,
            "occurred_at": created_at.isoformat(),
            "payload": payload,
        }
        try:
            reply = await self._post(EVENTS_PATH, event, {"Idempotency-Key": key})
        except TimeoutError:
            return Delivery("retry", "timeout")
        except ReplyTooLarge:
            return Delivery("retry", "reply too large")
        except httpx.HTTPError as exc:
            return Delivery("retry", f"{type(exc).__name__}: {exc}"[:200])
        if reply.status == 429 or reply.status == 408 or reply.status >= 500:
            return Delivery(
                "retry",
                f"status {reply.status}",
                retry_after_s=parse_retry_after(reply.headers.get("retry-after")),
                status_code=reply.status,
            )
        if reply.status in (200, 201, 202):
            try:
                answer = reply.json()
                ok = isinstance(answer, dict) and answer.get("status") in ("accepted", "duplicate")
            except ValueError:
                ok = False
            if not ok:
                # It may well hold the event: sending it again is safe (same key).
                return Delivery("retry", "malformed reply", status_code=reply.status)
            return Delivery("delivered", status_code=reply.status)
        # 3xx (never followed) and the other 4xx: the portal will not take this one.
        return Delivery("rejected", f"status {reply.status}", status_code=reply.status)


def _error_code(reply: _Reply) -> str | None:
    try:
        data = reply.json()
    except ValueError:
        return None
    return data.get("error") if isinstance(data, dict) else None


def _text(value: Any, limit: int) -> str:
    """A portal string as its column takes it: ``limit`` is the column's length."""
    if (
        not isinstance(value, str)
        or not value
        or len(value) > limit
        or inputs.has_control(value, free_text=False)
    ):
        raise ValueError("bad text")
    return value


def _optional_text(value: Any, limit: int) -> str | None:
    return None if value is None else _text(value, limit)


@asynccontextmanager
async def portal_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Puts ``state.portal`` (a :class:`PortalClient`) on the app."""
    settings: Settings = app.state.settings
    # Settings refuse unsafe prod values when built; this catches a copy made without
    # validation (``model_copy(update=...)``) before the app serves anything.
    check_production(settings)
    client = PortalClient.from_settings(settings)
    app.state.portal = client
    try:
        yield
    finally:
        await client.aclose()
