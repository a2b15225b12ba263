"""HMAC-SHA256 request signatures, the same both ways (us → portal, portal → us).

The signed text is ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256(BODY)``; the signature is the
hex HMAC of it with the shared secret, sent in ``X-LC-Signature`` next to
``X-LC-Timestamp`` (Unix seconds) and ``X-LC-Nonce`` (unique per request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

TIMESTAMP = "X-LC-Timestamp"
NONCE = "X-LC-Nonce"
SIGNATURE = "X-LC-Signature"
APP_ID = "X-LC-App"


def signed_text(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{digest}".encode()


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    text = signed_text(method, path, timestamp, nonce, body)
    return hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, app_id: str, method: str, path: str, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    nonce = secrets.token_hex(16)
    return {
        APP_ID: app_id,
        TIMESTAMP: timestamp,
        NONCE: nonce,
        SIGNATURE: sign(secret, method, path, timestamp, nonce, body),
    }


class SignatureError(Exception):
    """``reason`` is one of: missing, malformed, stale, mismatch."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def verify(
    secret: str,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    max_skew_s: int,
    now: float | None = None,
) -> str:
    """Check a signed request; returns its nonce (the caller remembers it against replays)."""
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp = lower.get(TIMESTAMP.lower())
    nonce = lower.get(NONCE.lower())
    signature = lower.get(SIGNATURE.lower())
    if not timestamp or not nonce or not signature:
        raise SignatureError("missing")
    if not timestamp.isdigit() or len(timestamp) > 12 or not 8 <= len(nonce) <= 64:
        raise SignatureError("malformed")
    if not nonce.isascii() or not nonce.replace("-", "").replace("_", "").isalnum():
        raise SignatureError("malformed")
    current = now if now is not None else time.time()
    if abs(current - int(timestamp)) > max_skew_s:
        raise SignatureError("stale")
    expected = sign(secret, method, path, timestamp, nonce, body)
    if not hmac.compare_digest(expected, signature.lower()):
        raise SignatureError("mismatch")
    return nonce
