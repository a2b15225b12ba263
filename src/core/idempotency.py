"""``Idempotency-Key`` for every POST, as API.md says; one part of the request's unit of work.

- A repeat with the same key and body gets the first response (status and body) again, with
  ``Idempotent-Replayed: true``.
- The same key with another body → 422 ``idempotency_key_reused``.
- A repeat while the first is still running → 409 ``request_in_progress``, at once.
- Keys are scoped to the caller (the user of the bearer token, else the client address) and
  kept for ``idempotency_ttl_s`` (48 h by default).

How (see :mod:`src.core.unit_of_work`): the claim is a transaction-scoped advisory lock on
(caller, key), taken in the request's own transaction, together with a look for a stored
reply. The reply is inserted in that same transaction, just before it commits: a replay exists
only for a committed write; a request that dies before its commit leaves no row and no lock.
Should two requests with one key both get past the lock (the first committed between the
second's snapshot and its lock), the primary key stops the second at its insert, and it
answers with the first reply instead of its own.

2xx/3xx replies are kept with the change; 4xx replies are kept too (after the rollback), but
not a 429 (a later retry may pass) and never a 5xx (the client may retry for real).

**Sealed replies** (``opt={"idempotency": "sealed"}``, the secret ballot): the stored key and
fingerprint are HMACs that need the client's key, and the reply is encrypted with a pad only
the client's key and the server secret give. The key itself is never stored, so neither the
tables alone nor the tables plus the secret open the reply (or tell which choice was sent):
only a request that presents the key again does.

**Twins** (a write without a transaction of the request, the ballot): a copy that arrives while
the first request with its key and body is still running, in this worker or another of this
host, waits for that first reply (at most ``twins.WAIT_S``) and is answered with it, replayed,
without running again (src/core/twins.py): a double tap costs the API the edge of one request,
not a second ballot in the batch. Only a committed 2xx is handed over (the first request's
response starts after its commit), sealed as the stored reply is; anything else takes the
ordinary path, where the stored reply or the one-ballot rule answers it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from src.config import Settings
from src.core import twins as twin_table
from src.core.caller import caller_scope
from src.core.db import driver_connection
from src.core.errors import AppError, conflict, send_problem, unprocessable
from src.core.errors import Message as Text

if TYPE_CHECKING:
    from src.core.unit_of_work import UnitOfWork

logger = logging.getLogger("lifecircle.idempotency")

HEADER = b"idempotency-key"
_REPLAYED_HEADERS = ("content-type", "location", "content-language")
_REPLAYED_HEADER_BYTES = frozenset(name.encode() for name in _REPLAYED_HEADERS)

# $1 scope, $2 key, $3 ttl seconds.
_CLAIM = """
SELECT pg_try_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 7)) AS got,
       k.fingerprint, k.response_status, k.response_headers, k.response_body
FROM (SELECT 1) AS one
LEFT JOIN idempotency_keys k
       ON k.scope = $1 AND k.key = $2 AND k.state = 'done'
      AND k.created_at >= now() - make_interval(secs => $3)
"""


def insert_sql(first: int, source: str | None = None) -> str:
    """The reply's INSERT, its parameters numbered from ``$first``: scope, key, fingerprint,
    status, headers (jsonb text or NULL), body, ttl seconds. With ``source`` (a CTE name of
    the caller's statement) the row is inserted only when ``source`` yields one, so that a
    single-statement write and its reply commit together."""
    n = [f"${first + i}" for i in range(7)]
    values = f"{n[0]}, {n[1]}, {n[2]}, {n[3]}::int, CAST({n[4]} AS jsonb), {n[5]}::bytea"
    rows = f"SELECT {values} FROM {source}" if source else f"VALUES ({values})"
    return insert_rows_sql(rows, f"{n[6]}::int")


def insert_rows_sql(rows: str, ttl: str) -> str:
    """The replies' INSERT from ``rows`` (a SELECT or VALUES of scope, key, fingerprint,
    status, headers jsonb, body), for a caller's statement that writes several changes and
    their replies at once (a ballot batch). A stored reply is replaced only when it is not
    done or older than ``ttl`` seconds (an SQL expression)."""
    return f"""
    INSERT INTO idempotency_keys AS k
           (scope, key, fingerprint, state, response_status, response_headers, response_body)
    SELECT r.scope, r.key, r.fingerprint, 'done', r.status, r.headers, r.body
    FROM ({rows}) AS r(scope, key, fingerprint, status, headers, body)
    ON CONFLICT (scope, key) DO UPDATE
       SET fingerprint = excluded.fingerprint, state = 'done', created_at = now(),
           locked_at = now(), response_status = excluded.response_status,
           response_headers = excluded.response_headers, response_body = excluded.response_body
     WHERE k.state <> 'done' OR k.created_at < now() - make_interval(secs => {ttl})
    RETURNING 1"""


def stored_sql(scope: str, key: str, ttl: str) -> str:
    """The stored reply of (scope, key), for the caller's own statement (SQL expressions).
    ``LIMIT 1`` (it is the primary key: one row at most) keeps it an index probe per key when
    a statement joins it laterally to many keys; as a join of sets the plan followed the
    table's size, and a generic plan made while the table was small seq-scanned it for every
    ballot batch (8 million rows read over eight meetings of 2,000 voters)."""
    return (
        "SELECT fingerprint, response_status, response_headers, response_body "
        f"FROM idempotency_keys WHERE scope = {scope} AND key = {key} AND state = 'done' "
        f"AND created_at >= now() - make_interval(secs => {ttl}) LIMIT 1"
    )


_STORE = insert_sql(1)
_STORED = stored_sql("$1", "$2", "$3::int")
_STORED_MANY = f"""
SELECT t.i, k.* FROM unnest($1::int[], $2::text[], $3::text[], $4::int[]) AS t(i, scope, key, ttl)
CROSS JOIN LATERAL ({stored_sql("t.scope", "t.key", "t.ttl")}) AS k
"""


def invalid_key() -> AppError:
    return AppError(
        400,
        "invalid_idempotency_key",
        Text(
            "Idempotency-Key 须为 1–255 个可见 ASCII 字符",
            "Idempotency-Key must be 1-255 visible ASCII characters",
        ),
    )


def key_reused() -> AppError:
    return unprocessable(
        "idempotency_key_reused",
        "该 Idempotency-Key 已用于另一个请求",
        "This Idempotency-Key was used for a different request",
    )


def in_progress() -> AppError:
    return conflict(
        "request_in_progress",
        "相同的请求正在处理中，请稍后重试",
        "The same request is still being processed; retry shortly",
    )


def _valid_key(raw: bytes) -> str | None:
    if not 1 <= len(raw) <= 255 or any(b < 0x21 or b > 0x7E for b in raw):
        return None
    return raw.decode("ascii")


def _mac(secret: str, purpose: str, *parts: bytes) -> bytes:
    mac = hmac.new(secret.encode(), purpose.encode(), hashlib.sha256)
    for part in parts:
        mac.update(b"\0" + part)
    return mac.digest()


def _keystream(seed: bytes, length: int) -> bytes:
    blocks = (hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(length // 32 + 1))
    return b"".join(blocks)[:length]


def _xor(data: bytes, pad: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(pad, "big")).to_bytes(len(data), "big")


@dataclass(frozen=True)
class Answer:
    """What to send instead of running the handler: a replay or a problem."""

    status: int = 0
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""
    error: AppError | None = None

    async def send(self, scope: Any, receive: Any, send: Any) -> None:
        if self.error is not None:
            await send_problem(scope, receive, send, self.error)
            return
        headers = [
            *self.headers,
            (b"content-length", str(len(self.body)).encode()),
            (b"idempotent-replayed", b"true"),
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


@dataclass
class Claim:
    """A claimed key: replays the body to the handler, stores the reply with the change."""

    scope: str
    key: str  # as stored: the client's key, or its HMAC for a sealed reply
    fingerprint: str
    body: bytes
    sealed_by: bytes | None  # the pad seed of a sealed reply
    ttl_s: int
    receive: Callable[[], Awaitable[Any]]

    # The first request of its twins (src/core/twins.py): its reply goes to them as it goes out.
    ticket: twin_table.Ticket | None = field(default=None, init=False, repr=False)
    _start: Any = field(default=None, init=False, repr=False)
    _body: bytearray | None = field(default=None, init=False, repr=False)

    def keeps(self, status: int) -> bool:
        return status < 500 and status != 429

    @property
    def twin_tag(self) -> bytes:
        return twin_table.tag_of(self.scope, self.key, self.fingerprint)

    def observe(self, message: Any) -> None:
        """A message of the reply on its way to the client: a 2xx, once whole, goes to the
        twins (sealed as :meth:`reply_args` seals the stored one)."""
        if self.ticket is None:
            return
        if message["type"] == "http.response.start":
            if 200 <= message["status"] < 300:
                self._start, self._body = message, bytearray()
            else:
                self.release()
            return
        if message["type"] != "http.response.body" or self._body is None:
            return
        self._body += message.get("body", b"")
        if not message.get("more_body", False):
            headers = {
                name.decode().lower(): value.decode()
                for name, value in self._start.get("headers", ())
                if name.lower() in _REPLAYED_HEADER_BYTES
            }
            self.ticket.done(self._start["status"], self._packed(headers, bytes(self._body)))
            self.ticket = None

    def release(self) -> None:
        """The request is over: twins still waiting run on their own."""
        ticket, self.ticket = self.ticket, None
        if ticket is not None:
            ticket.drop()

    def _packed(self, headers: dict[str, str], body: bytes) -> bytes:
        """Headers and body in one payload, sealed for a sealed reply (stored or handed over)."""
        plain = json.dumps(headers).encode() + b"\n" + body
        if self.sealed_by is not None:
            return _xor(plain, _keystream(self.sealed_by, len(plain)))
        return plain

    def _unpacked(self, payload: bytes) -> tuple[dict[str, str], bytes]:
        if self.sealed_by is not None:
            payload = _xor(payload, _keystream(self.sealed_by, len(payload)))
        raw_headers, _, body = payload.partition(b"\n")
        headers: dict[str, str] = json.loads(raw_headers or b"{}")
        return headers, body

    def twin_answer(self, reply: twin_table.Reply) -> Answer:
        """A first twin's reply (:meth:`observe`), as a replay."""
        status, payload = reply
        headers, body = self._unpacked(payload)
        return Answer(status, tuple((k.encode(), v.encode()) for k, v in headers.items()), body)

    def reply_args(self, status: int, headers: dict[str, str], body: bytes) -> list[Any]:
        """The parameters of :func:`insert_sql` for this reply (sealed when it must be)."""
        stored_headers: str | None = json.dumps(headers)
        if self.sealed_by is not None:
            body, stored_headers = self._packed(headers, body), None
        return [self.scope, self.key, self.fingerprint, status, stored_headers, body, self.ttl_s]

    async def store(self, session: AsyncSession, held: list[Any]) -> Answer | None:
        """Insert the reply; when a twin's reply is there already, return it instead."""
        status, headers, body = 500, {}, bytearray()
        for message in held:
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.decode().lower() in _REPLAYED_HEADERS:
                        headers[name.decode().lower()] = value.decode()
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
        conn = await driver_connection(session)
        if await conn.fetchrow(_STORE, *self.reply_args(status, headers, bytes(body))):
            return None
        return await self.stored(conn) or Answer(error=key_reused())

    async def stored(self, conn: Any) -> Answer | None:
        """The reply stored for this key (committed), as an answer: a replay, or 422 when it
        was for another request; None when there is none."""
        row = await conn.fetchrow(_STORED, self.scope, self.key, self.ttl_s)
        return None if row is None else self.answer(row)

    @staticmethod
    async def stored_many(conn: Any, claims: list[Claim]) -> list[Answer | None]:
        """:meth:`stored` of several keys in one statement, in order (a batch's twins)."""
        if not claims:
            return []
        rows = await conn.fetch(
            _STORED_MANY,
            list(range(len(claims))),
            [c.scope for c in claims],
            [c.key for c in claims],
            [c.ttl_s for c in claims],
        )
        found = {r["i"]: r for r in rows}
        return [claims[i].answer(found[i]) if i in found else None for i in range(len(claims))]

    def answer(self, row: Any) -> Answer:
        """A stored reply (a row with fingerprint, response_status/headers/body) as an answer."""
        if row["fingerprint"] != self.fingerprint:
            return Answer(error=key_reused())
        body: bytes = row["response_body"] or b""
        headers: dict[str, str] = row["response_headers"] or {}
        if isinstance(headers, str):
            headers = json.loads(headers)
        if self.sealed_by is not None:
            headers, body = self._unpacked(body)
        return Answer(
            status=row["response_status"],
            headers=tuple((k.encode(), v.encode()) for k, v in headers.items()),
            body=body,
        )


async def _meet_twins(twins: twin_table.Twins, held: Claim) -> Answer | None:
    """The first twin's reply when one runs (or has just answered), else None, with
    ``held.ticket`` set when this request is the first. The table is a shortcut: whatever
    fails in it leaves the request to the ordinary path."""
    try:
        joined = twins.join(held.twin_tag)
        if isinstance(joined, twin_table.Ticket):
            held.ticket = joined
            return None
        first = await twins.wait(joined) if joined is not None else None
        return held.twin_answer(first) if first is not None else None
    except Exception:
        logger.warning("the table of twins failed; the ordinary path answers", exc_info=True)
        return None


async def _read_body(receive: Any) -> bytes | None:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return bytes(body)


async def claim(
    scope: Any,
    receive: Any,
    unit: UnitOfWork,
    settings: Settings,
    twins: twin_table.Twins | None = None,
) -> Claim | Answer | None:
    """Claim the request's key: None when the request has no key (or is no POST), an
    :class:`Answer` to send instead of running it, else the :class:`Claim`.

    In a transaction (the rule) the claim is the advisory lock and the look for a stored
    reply. A POST that runs without one (``opt={"db_transaction": False}``, the ballot) is a
    single statement that keeps the key itself: its Claim is handed to the handler as
    ``unit.claim`` (no SQL here); the statement inserts the reply with ``insert_sql(…,
    source=…)`` and reads an earlier one with ``stored_sql``. Such a claim meets its twins
    first (``twins``, the worker's table): a copy of a request still running gets its reply."""
    if scope["method"] != "POST":
        return None
    raw_key = next((v for k, v in scope["headers"] if k == HEADER), None)
    handler = scope.get("route_handler")
    mode = handler.opt.get("idempotency") if handler is not None else None
    if raw_key is None or mode == "off":
        return None
    key = _valid_key(raw_key)
    if key is None:
        return Answer(error=invalid_key())
    body = await _read_body(receive)
    if body is None:
        return Answer(error=AppError(400, "bad_request", Text("请求已中断", "Request aborted")))
    who = caller_scope(scope, settings)
    query = scope.get("query_string", b"")
    request_parts = (scope["method"].encode(), scope["path"].encode(), query, body)
    sealed_by = None
    if mode == "sealed":
        secret = settings.secret_key
        stored_key = _mac(secret, "idempotency-key", who.encode(), raw_key).hex()
        fingerprint = _mac(secret + key, "idempotency-fingerprint", *request_parts).hex()
        sealed_by = _mac(secret, "idempotency-pad", who.encode(), raw_key)
    else:
        stored_key = key
        digest = hashlib.sha256()
        for part in request_parts[:3]:
            digest.update(part + b"\0")
        digest.update(body)
        fingerprint = digest.hexdigest()

    replayed = False

    async def replay_receive() -> Any:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    held = Claim(
        who, stored_key, fingerprint, body, sealed_by, settings.idempotency_ttl_s, replay_receive
    )
    if not unit.transactional:
        if twins is not None and sealed_by is not None:  # the table holds sealed replies only
            first = await _meet_twins(twins, held)
            if first is not None:
                return first
        unit.claim = held
        return held
    conn = await unit.raw_connection()
    found = await conn.fetchrow(_CLAIM, who, stored_key, settings.idempotency_ttl_s)
    if found["response_status"] is not None:  # committed: replay it, even to concurrent retries
        return held.answer(found)
    if not found["got"]:
        return Answer(error=in_progress())
    return held


def valid_key(raw: str) -> str | None:
    """The key when it is 1–255 visible ASCII characters, else None."""
    try:
        return _valid_key(raw.encode("ascii"))
    except UnicodeEncodeError:
        return None
