"""A fake city portal: a real HTTP server (plain ASGI, served by uvicorn on loopback) that
speaks the contract of docs/portal-contract.md and fails on demand like a real one.

- ``POST /api/sso/exchange`` (signed): a single-use ticket → the resident's identity.
- ``POST /api/events`` (signed, ``Idempotency-Key``): records each event once, in the order
  it first arrives; a repeat answers ``{"status": "duplicate"}``.
- ``POST /_fake/tickets`` issues a ticket for an identity; ``PUT /_fake/faults`` sets the
  faults; ``GET /_fake/events`` lists what was recorded (for the demo and other processes).
- ``POST /_fake/webhooks`` ``{"type", "data", "event_id"?}``: the portal calls lifecircle's
  webhook, signed with the webhook secret, and answers with lifecircle's reply (when the
  fake was given ``webhook_url``).

Faults (each a share of calls, drawn per call): ``error_rate`` (500), ``timeout_rate``
(answers after ``hang_s``, after applying half of the time), ``drop_rate`` (applies, then
cuts the connection mid-reply), ``rate_limit_rate`` (429 with ``Retry-After``),
``slow_rate`` (answers after ``slow_s``), and ``down`` (every call 503).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
import secrets
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from src.integrations.city_portal import signing

Scope = dict[str, Any]


@dataclass
class Faults:
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    drop_rate: float = 0.0
    rate_limit_rate: float = 0.0
    slow_rate: float = 0.0
    down: bool = False
    hang_s: float = 10.0
    slow_s: float = 0.2
    retry_after_s: int = 1


@dataclass
class Identity:
    portal_user_id: str
    name: str
    community_code: str | None = None
    masked_phone: str | None = "139****0000"
    verification_level: str = "L3"
    verified: bool = True


@dataclass
class ReceivedEvent:
    key: str
    topic: str
    ordering_key: str
    payload: dict[str, Any]


@dataclass
class Stats:
    calls: int = 0
    injected: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    bad_signatures: int = 0


DEMO_IDENTITIES = [
    Identity("portal-demo-1", "王建国", "310107012001", "139****1001"),
    Identity("portal-demo-2", "李秀英", "310107012002", "139****1002"),
    Identity("portal-demo-3", "张伟", "310107013001", "139****1003"),
    Identity("portal-demo-4", "陈静", None, "139****1004", "L1", False),
]
# The sign-on tickets the README lists, one per demo identity: fixed so that they can be
# written down, single-use like every ticket (each works once per start of the fake).
DEMO_TICKETS = {
    "T-demo-wang-jianguo": DEMO_IDENTITIES[0],
    "T-demo-li-xiuying": DEMO_IDENTITIES[1],
    "T-demo-zhang-wei": DEMO_IDENTITIES[2],
    "T-demo-chen-jing": DEMO_IDENTITIES[3],
}
WEBHOOK_APP_ID = "city-portal"


class FakePortal:
    """The portal's state and its ASGI app. Thread-safe: tests read it while
    uvicorn serves it from another thread."""

    def __init__(
        self,
        app_id: str,
        secret: str,
        *,
        seed: int | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        self.app_id = app_id
        self.secret = secret
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.faults = Faults()
        self.stats = Stats()
        self._lock = threading.Lock()
        self._tickets: dict[str, Identity] = {}
        self._used: set[str] = set()
        self._seen: set[str] = set()
        self._events: list[ReceivedEvent] = []
        self._random = random.Random(seed)

    # --- for tests and the CLI ------------------------------------------------------------

    def issue_ticket(self, identity: Identity, ticket: str | None = None) -> str:
        ticket = ticket or "T-" + secrets.token_urlsafe(18)
        with self._lock:
            self._tickets[ticket] = identity
        return ticket

    def issue_demo_tickets(self) -> list[tuple[str, Identity]]:
        """Register the README's tickets (:data:`DEMO_TICKETS`); returns them."""
        return [(self.issue_ticket(who, ticket), who) for ticket, who in DEMO_TICKETS.items()]

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults

    def events(self) -> list[ReceivedEvent]:
        with self._lock:
            return list(self._events)

    # --- HTTP -----------------------------------------------------------------------------

    @property
    def app(self) -> FakePortal:
        """The ASGI app (the object itself: uvicorn detects ASGI 3 by ``__call__``)."""
        return self

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if method == "POST" and path == "/_fake/webhooks":
            status, reply = await self._send_webhook(body)
            await _send_json(send, status, reply)
            return
        if path.startswith("/_fake/"):
            status, reply = self._control(method, path, body)
            await _send_json(send, status, reply)
            return
        if method != "POST" or path not in ("/api/sso/exchange", "/api/events"):
            await _send_json(send, 404, {"error": "not_found"})
            return
        with self._lock:
            self.stats.calls += 1
            faults = self.faults
            draw = self._random.random()
        if faults.down:
            await self._inject("down")
            await _send_json(send, 503, {"error": "maintenance"})
            return
        fault = _pick(faults, draw)
        if fault:
            await self._inject(fault)
        if fault == "error":
            await _send_json(send, 500, {"error": "internal"})
            return
        if fault == "rate_limit":
            await _send_json(
                send,
                429,
                {"error": "rate_limited"},
                extra=[(b"retry-after", str(faults.retry_after_s).encode())],
            )
            return
        try:
            signing.verify(self.secret, method, path, headers, body, max_skew_s=300)
        except signing.SignatureError as exc:
            with self._lock:
                self.stats.bad_signatures += 1
            await _send_json(send, 401, {"error": "bad_signature", "reason": exc.reason})
            return
        if fault == "timeout" and self._coin():
            await asyncio.sleep(faults.hang_s)
        if fault == "slow":
            await asyncio.sleep(faults.slow_s)
        if path == "/api/sso/exchange":
            status, reply = self._exchange(body)
        else:
            status, reply = self._record(headers, body)
        if fault == "timeout":
            await asyncio.sleep(faults.hang_s)
        if fault == "drop":
            # Applied, but the reply never arrives whole: the caller cannot tell.
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"200"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b'{"sta', "more_body": True})
            raise ConnectionAbortedError("fake portal: reply dropped on purpose")
        await _send_json(send, status, reply)

    def _coin(self) -> bool:
        with self._lock:
            return self._random.random() < 0.5

    async def _inject(self, fault: str) -> None:
        with self._lock:
            self.stats.injected[fault] = self.stats.injected.get(fault, 0) + 1

    def _exchange(self, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            ticket = json.loads(body)["ticket"]
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "bad_request"}
        with self._lock:
            identity = self._tickets.get(ticket) if isinstance(ticket, str) else None
            if identity is None or ticket in self._used:
                return 401, {"error": "invalid_ticket"}
            self._used.add(ticket)
        return 200, {"user": asdict(identity)}

    def _record(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        key = headers.get("idempotency-key", "")
        try:
            event = json.loads(body)
            item = ReceivedEvent(
                key, str(event["topic"]), str(event["ordering_key"]), dict(event["payload"])
            )
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "bad_request"}
        if not key or event.get("id") != key:
            return 400, {"error": "idempotency_key_required"}
        with self._lock:
            if key in self._seen:
                self.stats.duplicates += 1
                return 200, {"status": "duplicate", "id": key}
            self._seen.add(key)
            self._events.append(item)
        return 202, {"status": "accepted", "id": key}

    async def _send_webhook(self, body: bytes) -> tuple[int, Any]:
        """Sign an event as the portal does and post it to lifecircle's webhook."""
        if not self.webhook_url or not self.webhook_secret:
            return 409, {"error": "no_webhook_configured"}
        try:
            data = json.loads(body)
            event = {
                "event_id": str(data.get("event_id") or "portal-evt-" + secrets.token_hex(6)),
                "type": str(data["type"]),
                "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
                "data": dict(data["data"]),
            }
        except (ValueError, KeyError, TypeError, AttributeError):
            return 400, {"error": "bad_request", "expected": {"type": "…", "data": {}}}
        signed = json.dumps(event, ensure_ascii=False).encode()
        path = httpx.URL(self.webhook_url).path
        headers = signing.signed_headers(self.webhook_secret, WEBHOOK_APP_ID, "POST", path, signed)
        try:
            async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
                reply = await http.post(
                    self.webhook_url,
                    content=signed,
                    headers={**headers, "Content-Type": "application/json"},
                )
        except httpx.HTTPError as exc:
            return 502, {"error": "lifecircle_unreachable", "detail": type(exc).__name__}
        try:
            answer: Any = reply.json()
        except ValueError:
            answer = reply.text[:500]
        return 200, {"sent": event, "status": reply.status_code, "reply": answer}

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        try:
            data = json.loads(body) if body else {}
            if method == "POST" and path == "/_fake/tickets":
                return 201, {"ticket": self.issue_ticket(Identity(**data))}
            if method == "PUT" and path == "/_fake/faults":
                self.set_faults(Faults(**data))
                return 200, asdict(self.faults)
            if method == "GET" and path == "/_fake/events":
                return 200, {"events": [asdict(e) for e in self.events()]}
            if method == "GET" and path == "/_fake/stats":
                with self._lock:
                    return 200, {**asdict(self.stats), "events": len(self._events)}
        except (ValueError, TypeError) as exc:
            return 400, {"error": str(exc)[:200]}
        return 404, {"error": "not_found"}


def _pick(faults: Faults, draw: float) -> str | None:
    edge = 0.0
    for name, rate in (
        ("error", faults.error_rate),
        ("timeout", faults.timeout_rate),
        ("drop", faults.drop_rate),
        ("rate_limit", faults.rate_limit_rate),
        ("slow", faults.slow_rate),
    ):
        edge += rate
        if draw < edge:
            return name
    return None


async def _read_body(receive: Any, limit: int = 1_048_576) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send_json(
    send: Any, status: int, data: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(data, ensure_ascii=False).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def quiet_dropped_replies() -> None:
    """A dropped reply is the fake doing its job: keep uvicorn from logging a traceback."""
    logging.getLogger("uvicorn.error").addFilter(
        lambda record: "dropped on purpose" not in str(record.exc_info and record.exc_info[1])
    )
