"""Receipts of secret ballots. (The sealed first reply of an idempotent ballot is kept by the
one Idempotency-Key mechanism, ``src/core/idempotency.py``.)"""

from __future__ import annotations

import base64
import secrets

RECEIPT_BYTES = 10  # 80 bits: unguessable, short enough to read out


def new_receipt() -> tuple[str, bytes]:
    raw = secrets.token_bytes(RECEIPT_BYTES)
    return format_receipt(raw), raw


def format_receipt(raw: bytes) -> str:
    text = base64.b32encode(raw).decode()  # 16 characters for 10 bytes, no padding
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))
