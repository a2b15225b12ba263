"""Input hardening at the edge: JSON nesting depth and control characters, one rule each.

- **Depth.** A JSON document nested deeper than :data:`MAX_JSON_DEPTH` is refused before any
  recursive code (msgspec, pydantic, ``json``, our own walkers) sees it: 400 ``malformed_body``.
  64 levels is far beyond any body of the API (the deepest, a GeoJSON multipolygon, is 5) and
  far below the interpreter's recursion limit, so nothing downstream can recurse out of stack.
- **Control characters.** PostgreSQL refuses NUL in text and ``\\u0000`` in jsonb, and the other
  C0/C1 controls (and lone surrogates) have no business in a title, a search or a filter: they
  hide text from reviewers and break CSV exports. Body strings may hold TAB, LF and CR (free text
  has lines); query and path values, and the keys of JSON objects, may hold none.
  :class:`~src.core.schemas.RequestModel` applies the body rule to every request schema;
  :func:`harden_request` (the app's ``before_request`` hook) applies the query/path rule and
  the depth bound to every route.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
from litestar import Request

from src.core.errors import (
    CONTROL_CHARACTER_MESSAGE,
    AppError,
    Message,
    validation_failed,
    wants_english,
)

MAX_JSON_DEPTH = 64

# Cc (C0, DEL, C1) and surrogates. Free text keeps TAB, LF and CR.
_CONTROL_STRICT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# In a raw query string a control character is either a raw byte or percent-encoded
# (%00-%1F, %7F, or %C2%80-%C2%9F as UTF-8).
_QUERY_MAY_HOLD_CONTROL = re.compile(rb"[\x00-\x1f\x7f]|%(?:[01][0-9a-fA-F]|7[fF]|[cC]2%[89])")

CONTROL_MESSAGE = CONTROL_CHARACTER_MESSAGE


class JSONTooDeep(ValueError):
    """A JSON document nested deeper than :data:`MAX_JSON_DEPTH`."""


def malformed_body() -> AppError:
    return AppError(
        400,
        "malformed_body",
        Message(
            f"请求体不是合法的 JSON（嵌套不得超过 {MAX_JSON_DEPTH} 层）",
            f"The body is not valid JSON (nesting is limited to {MAX_JSON_DEPTH} levels)",
        ),
    )


def exceeds_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a decoded JSON value nests more than ``limit`` arrays/objects (iterative)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` (JSON text) nests deeper than ``limit``; undecodable bodies are not.

    Costs two ``bytes.count`` calls for any body with few brackets, which is every body
    but the rare large one (an area's boundary).
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    try:
        value = msgspec.json.decode(body)
    except RecursionError:
        return True
    except msgspec.DecodeError:
        return False  # the body's own decoder will call it malformed
    return exceeds_depth(value, limit)


def loads(data: bytes | str, limit: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` for documents from outside (adapter replies): a ``ValueError`` for
    anything it cannot or should not decode, a document too deep included."""
    raw = data.encode() if isinstance(data, str) else data
    if json_too_deep(raw, limit):
        raise JSONTooDeep(f"JSON nested deeper than {limit}")
    try:
        return json.loads(raw)
    except RecursionError as exc:  # pragma: no cover - json_too_deep decides first
        raise JSONTooDeep(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise ValueError(str(exc)) from None


def has_control(value: str, *, free_text: bool = True) -> bool:
    pattern = _CONTROL_TEXT if free_text else _CONTROL_STRICT
    return pattern.search(value) is not None


def find_control(value: Any) -> tuple[str | int, ...] | None:
    """The path of the first string (or object key) of ``value`` holding a forbidden control
    character, or None. Strings may hold TAB, LF, CR; keys may not. Iterative: a value reaches
    here already bounded in depth, but a walker must not be the thing that recurses."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if _CONTROL_TEXT.search(node):
                return path
        elif isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, str) and _CONTROL_STRICT.search(key):
                    return (*path, key)
                stack.append((child, (*path, key)))
        elif isinstance(node, list | tuple):
            stack.extend((child, (*path, i)) for i, child in enumerate(node))
    return None


def _control_error(request: Request[Any, Any, Any], field: str) -> AppError:
    english = wants_english(request)
    return validation_failed(
        [{"field": field, "message": CONTROL_MESSAGE.en if english else CONTROL_MESSAGE.zh}]
    )


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NOT_JSON = (b"multipart/", b"application/x-www-form-urlencoded")


async def harden_request(request: Request[Any, Any, Any]) -> None:
    """``before_request`` of the app: runs after routing, before any parameter or body is
    parsed. Refuses control characters in query and path values (422 ``validation_failed``,
    the parameter named) and JSON bodies nested deeper than :data:`MAX_JSON_DEPTH` (400
    ``malformed_body``). Nearly free for the common request: no query, no string path
    parameter, no body."""
    query = request.scope.get("query_string", b"")
    if query and _QUERY_MAY_HOLD_CONTROL.search(query):
        for key, value in request.query_params.multi_items():
            if _CONTROL_STRICT.search(key):
                raise _control_error(request, "query")
            if isinstance(value, str) and _CONTROL_STRICT.search(value):
                raise _control_error(request, key)
    scope = request.scope
    for key, value in scope["path_params"].items():
        if isinstance(value, str) and _CONTROL_STRICT.search(value):
            raise _control_error(request, key)
    if scope["method"] in _BODY_METHODS:
        # The raw header, not ``request.headers``: building those costs more than the check.
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
        if not content_type.lower().startswith(_NOT_JSON):
            body = await request.body()  # cached: the handler's parsing reads it again for free
            if body and json_too_deep(body):
                raise malformed_body()


__all__ = [
    "CONTROL_MESSAGE",
    "MAX_JSON_DEPTH",
    "JSONTooDeep",
    "exceeds_depth",
    "find_control",
    "harden_request",
    "has_control",
    "json_too_deep",
    "loads",
    "malformed_body",
]
