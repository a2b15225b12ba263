"""Opaque, unguessable, index-friendly ids (UUIDv7: 48-bit time prefix, 74 random bits)."""

from __future__ import annotations

import os
import time
import uuid


def _uuid7() -> int:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 68) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    return value


def new_id() -> uuid.UUID:
    return uuid.UUID(int=_uuid7())


def new_id_hex() -> str:
    """``new_id().hex`` without building the UUID (a request id per request)."""
    return f"{_uuid7():032x}"


def parse_id(value: str) -> uuid.UUID | None:
    """The UUID in ``value``, or None when it is not one (callers answer 404)."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None
