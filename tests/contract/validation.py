"""Every response the suite receives, checked against the served OpenAPI document.

Installed by tests/conftest.py as an httpx response hook on the suite's client (on unless
``LIFECIRCLE_TEST_VALIDATE_RESPONSES=0``). A response whose status the operation does not
document (``default`` does not count), or whose headers or body break the documented
schema, fails the test at the request that got it. Built once per session.

Not checked: ``OPTIONS`` (the CORS protocol, answered before routing) and routes the
document leaves out (``/schema``, ``/metrics``, the big-screen page, router-level 404/405 of
unknown paths and methods).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import parse_qs

import httpx
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

SWITCH = "LIFECIRCLE_TEST_VALIDATE_RESPONSES"
METHODS = ("get", "put", "post", "delete", "patch")


def enabled() -> bool:
    return os.environ.get(SWITCH, "1") != "0"


class ResponseMismatch(AssertionError):
    pass


class _Request:
    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        url = request.url
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(url.query.decode(), keep_blank_values=True)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict({}),
        )

    @property
    def host_url(self) -> str:
        return f"{self._request.url.scheme}://{self._request.url.netloc.decode()}"

    @property
    def path(self) -> str:
        return self._request.url.path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        return None  # responses are validated, not requests

    @property
    def content_type(self) -> str:
        return str(self._request.headers.get("content-type", ""))


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def content_type(self) -> str:
        return str(self._response.headers.get("content-type", "")).lower()

    @property
    def headers(self) -> Headers:
        return Headers(dict(self._response.headers))

    @property
    def data(self) -> bytes | None:
        return self._response.content


def _bytes_as_text(data: bytes | str, **_parameters: str) -> str:
    """Images, spreadsheets, CSV and event streams are strings to the schema."""
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)


def _json(data: bytes | str, **_parameters: str) -> Any:
    return json.loads(data)


class ResponseValidator:
    def __init__(self, document: dict[str, Any]) -> None:
        media_types = {
            m
            for item in document["paths"].values()
            for op in item.values()
            if isinstance(op, dict)
            for response in op.get("responses", {}).values()
            for m in response.get("content", {})
        }
        deserializers: dict[str, Any] = {
            m.split(";")[0]: _bytes_as_text for m in media_types if not m.endswith("json")
        }
        deserializers["application/problem+json"] = _json
        self.openapi = OpenAPI.from_dict(
            document, config=Config(extra_media_type_deserializers=deserializers)
        )
        self.operations: list[tuple[re.Pattern[str], str, dict[str, Any]]] = []
        for path, item in document["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")
            for method in METHODS:
                if method in item:
                    self.operations.append((pattern, method, item[method]))
        # A literal segment wins over a parameter (``/proposals/stats`` over ``/{id}``).
        self.operations.sort(key=lambda o: o[0].pattern.count("[^/]+"))

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        for pattern, op_method, operation in self.operations:
            if op_method == method and pattern.match(path):
                return operation
        return None

    def check(self, response: httpx.Response) -> None:
        method = response.request.method.lower()
        if method == "options":
            return  # the CORS protocol: answered before routing, not part of the document
        path = response.request.url.path
        operation = self.operation(method, path)
        if operation is None:
            return  # not a documented operation (schema, metrics, unknown routes)
        where = f"{response.request.method} {path} → {response.status_code}"
        if str(response.status_code) not in operation["responses"]:
            raise ResponseMismatch(f"{where}: status not documented ({operation['operationId']})")
        try:
            self.openapi.validate_response(_Request(response.request), _Response(response))
        except Exception as exc:
            details = "; ".join(str(e) for e in getattr(exc, "schema_errors", []) or [])
            raise ResponseMismatch(f"{where}: {type(exc).__name__}: {exc} {details}") from exc


async def install(client: httpx.AsyncClient) -> None:
    """Fetch the served document through ``client`` and check every later response."""
    if not enabled():
        return
    document = (await client.get("/schema/openapi.json")).json()
    validator = ResponseValidator(document)

    async def check_response(response: httpx.Response) -> None:
        await response.aread()
        validator.check(response)

    client.event_hooks["response"].append(check_response)
