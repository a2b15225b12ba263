"""The served OpenAPI document says what errors look like: every operation documents its
failures as ``application/problem+json`` (RFC 9457) with our stable ``code``, so generated
clients and schema-driven fuzzers (schemathesis) know what to expect."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin

from src.core.errors import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error (RFC 9457). `code` is stable; `detail` is for people.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "examples": ["validation_failed", "already_voted"]},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def document_problems(schema: dict[str, Any]) -> None:
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path_item in schema.get("paths", {}).values():
        for method in _METHODS:
            operation = path_item.get(method)
            if not operation:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = _PROBLEM_CONTENT
            responses.setdefault(
                "default", {"description": "An error, as problem+json", "content": _PROBLEM_CONTENT}
            )


def install_problem_docs(app: Litestar) -> None:
    """On start-up: build the document once and amend it before it is ever served."""
    document_problems(app.plugins.get(OpenAPIPlugin).provide_openapi_schema())
