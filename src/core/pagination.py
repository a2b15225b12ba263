"""Opaque cursor pagination (keyset): stable while rows are inserted concurrently.

A cursor encodes the sort key of the last row sent. Lists order by a unique key (the sort
value, then the id), and the next page asks for rows strictly after it, so new rows never
shift a page and nothing is skipped or repeated.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from litestar.params import QueryParameter
from pydantic import BaseModel

from src.core.errors import bad_request

T = TypeVar("T")
Row = TypeVar("Row")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

# The ``limit`` query parameter of every list: 1–100, default 20.
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The sort key in ``cursor`` (``arity`` values), or None for the first page."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _invalid() from exc
    if not isinstance(values, list) or len(values) != arity:
        raise _invalid()
    return values


def _invalid() -> Exception:
    return bad_request("invalid_cursor", "分页游标无效", "The cursor is not valid")


def paginate(
    rows: Sequence[Row], limit: int, key: Callable[[Row], Sequence[Any]]
) -> tuple[list[Row], str | None]:
    """Given up to ``limit + 1`` rows, return the page and the cursor of the next one."""
    items = list(rows[:limit])
    next_cursor = encode_cursor(key(items[-1])) if len(rows) > limit and items else None
    return items, next_cursor
