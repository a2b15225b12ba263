"""Opaque cursor pagination (keyset): stable while rows are inserted concurrently.

A cursor encodes the sort key of the last row sent. Lists order by a unique key (the sort
value, then the id), and the next page asks for rows strictly after it, so new rows never
shift a page and nothing is skipped or repeated.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from litestar.params import QueryParameter
from pydantic import BaseModel

from src.core.errors import bad_request

T = TypeVar("T")
Row = TypeVar("Row")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_CURSOR_CHARS = 1024

# The ``limit`` query parameter of every list: 1–100, default 20.
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The sort key in ``cursor`` (``arity`` JSON values), or None for the first page.

    Prefer :func:`decode_cursor_as`, which also checks the type of every value: a cursor is
    client input, and a value of the wrong type or range must be a 400, never a 500.
    """
    if cursor is None:
        return None
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _invalid()
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeError, RecursionError) as exc:
        raise _invalid() from exc
    if not isinstance(values, list) or len(values) != arity:
        raise _invalid()
    return values


# Kinds of cursor values: each turns a decoded JSON value into a typed one or raises ValueError.


def int32(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value < 2**31:
        raise ValueError("not a 32-bit integer")
    return value


def int64(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise ValueError("not a 64-bit integer")
    return value


def finite_float(value: Any) -> float:
    """A finite number (a float sort key, as written by ``json.dumps``: exact round trip)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a number")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return number


def text_value(value: Any) -> str:
    if not isinstance(value, str) or "\x00" in value or len(value) > 500:
        raise ValueError("not a text value")
    return value


def uuid_value(value: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise ValueError("not a UUID")
    return uuid.UUID(value)


def timestamp(value: Any) -> dt.datetime:
    """An ISO 8601 instant with its offset (naive times are refused)."""
    if not isinstance(value, str):
        raise ValueError("not a timestamp")
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("timestamp without offset")
    return parsed


def decode_cursor_as(cursor: str | None, *kinds: Callable[[Any], Any]) -> tuple[Any, ...] | None:
    """The sort key in ``cursor``, one value per kind (``int32``, ``uuid_value``, …), or None
    for the first page; 400 ``invalid_cursor`` for anything else."""
    values = decode_cursor(cursor, len(kinds))
    if values is None:
        return None
    try:
        return tuple(kind(value) for kind, value in zip(kinds, values, strict=True))
    except (TypeError, ValueError, OverflowError) as exc:
        raise _invalid() from exc


def _invalid() -> Exception:
    return bad_request("invalid_cursor", "分页游标无效", "The cursor is not valid")


def paginate(
    rows: Sequence[Row], limit: int, key: Callable[[Row], Sequence[Any]]
) -> tuple[list[Row], str | None]:
    """Given up to ``limit + 1`` rows, return the page and the cursor of the next one."""
    items = list(rows[:limit])
    next_cursor = encode_cursor(key(items[-1])) if len(rows) > limit and items else None
    return items, next_cursor
