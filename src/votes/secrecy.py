"""Receipts and the sealed first reply of an idempotent ballot.

The voter row never names the ballot. For an ``Idempotency-Key`` retry to get the first reply
back, the voter row keeps an HMAC tag of (meeting, voter, key) and the reply (ballot id and
receipt) XOR-ed with a one-time pad derived from the same three and the server secret. The
client's key itself is never stored, so neither the tables alone nor the tables plus the
secret open the reply: only a request that presents the key again does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

RECEIPT_BYTES = 10  # 80 bits: unguessable, short enough to read out
_REPLY_BYTES = 16 + RECEIPT_BYTES


def new_receipt() -> tuple[str, bytes]:
    raw = secrets.token_bytes(RECEIPT_BYTES)
    return format_receipt(raw), raw


def format_receipt(raw: bytes) -> str:
    text = base64.b32encode(raw).decode()  # 16 characters for 10 bytes, no padding
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def _mac(secret: str, purpose: str, event_id: uuid.UUID, user_id: uuid.UUID, key: str) -> bytes:
    message = f"{purpose}\0{event_id}\0{user_id}\0{key}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def replay_tag(secret: str, event_id: uuid.UUID, user_id: uuid.UUID, key: str) -> bytes:
    return _mac(secret, "ballot-replay-tag", event_id, user_id, key)


def _pad(secret: str, event_id: uuid.UUID, user_id: uuid.UUID, key: str) -> bytes:
    return _mac(secret, "ballot-replay-pad", event_id, user_id, key)[:_REPLY_BYTES]


def seal(
    secret: str,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    key: str,
    ballot_id: uuid.UUID,
    receipt_raw: bytes,
) -> bytes:
    plain = ballot_id.bytes + receipt_raw
    pad = _pad(secret, event_id, user_id, key)
    return bytes(a ^ b for a, b in zip(plain, pad, strict=True))


def unseal(
    secret: str, event_id: uuid.UUID, user_id: uuid.UUID, key: str, sealed: bytes
) -> tuple[uuid.UUID, str] | None:
    if len(sealed) != _REPLY_BYTES:
        return None
    pad = _pad(secret, event_id, user_id, key)
    plain = bytes(a ^ b for a, b in zip(sealed, pad, strict=True))
    return uuid.UUID(bytes=plain[:16]), format_receipt(plain[16:])


def hmac_equal(a: bytes | None, b: bytes | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a, b)
