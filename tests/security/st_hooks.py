"""Schemathesis checks of our own, loaded with ``SCHEMATHESIS_HOOKS``: every refusal is a
problem+json document with a stable ``code``, and no response leaks personal data."""

from __future__ import annotations

import json
from typing import Any

import schemathesis

from tests.leaks import find_leaks


def _header(response: Any, name: str) -> str:
    value = response.headers.get(name) or response.headers.get(name.title()) or ""
    return value[0] if isinstance(value, list) else str(value)


@schemathesis.check
def problem_details(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code < 400:
        return None
    content_type = _header(response, "content-type")
    assert content_type.startswith("application/problem+json"), (
        f"{response.status_code} answered as {content_type!r}, not problem+json"
    )
    body = json.loads(response.content)
    assert isinstance(body.get("code"), str) and body["code"], "problem without a code"
    assert body.get("status") == response.status_code, "problem status differs from HTTP status"
    return None


@schemathesis.check
def no_personal_data(ctx: Any, response: Any, case: Any) -> bool | None:
    content_type = _header(response, "content-type")
    leaks = find_leaks(case.path, content_type, response.content.decode("utf-8", "replace"))
    assert not leaks, f"response leaks {leaks}"
    return None
