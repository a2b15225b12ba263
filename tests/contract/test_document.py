"""The served OpenAPI document, checked over every operation (src/core/openapi.py makes it)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from src.core.errors import PROBLEM_MEDIA_TYPE

METHODS = ("get", "put", "post", "delete", "patch")
PUBLIC = {
    ("/health", "get"),
    ("/ready", "get"),
    ("/api/v1/auth/dev-login", "post"),
    ("/api/v1/auth/wechat", "post"),
    ("/api/v1/auth/portal", "post"),
    ("/api/v1/auth/refresh", "post"),
    ("/api/v1/integrations/portal/webhook", "post"),
    ("/api/v1/events/{event_id}/display", "get"),
    ("/api/v1/uploads/{upload_id}", "get"),
}
CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
async def doc(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def walk(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{where}/{index}")


def resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    return resolve(doc, node["$ref"]) if "$ref" in node else node


def header_names(doc: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    return {
        deref(doc, p)["name"].lower()
        for p in operation.get("parameters", [])
        if deref(doc, p)["in"] == "header"
    }


async def test_every_operation_has_a_short_unique_camel_case_id(doc: dict[str, Any]) -> None:
    ids = [op.get("operationId") for _, _, op in operations(doc)]
    assert all(ids), "an operation without an id"
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    for op_id in ids:
        assert re.fullmatch(r"[a-z][a-zA-Z0-9]{1,40}", op_id), op_id
    named = {(p, m): op["operationId"] for p, m, op in operations(doc)}
    assert named[("/api/v1/events/{event_id}/ballots", "post")] == "castBallot"
    assert named[("/api/v1/proposals", "get")] == "listProposals"
    assert named[("/api/v1/proposals/{proposal_id}", "get")] == "getProposal"
    assert named[("/api/v1/projects", "post")] == "createProject"
    assert named[("/api/v1/events/{event_id}/paper-counts", "post")] == "eventPaperCounts"


async def test_every_ref_resolves_and_component_names_are_unique(doc: dict[str, Any]) -> None:
    for where, node in walk(doc):
        if isinstance(node.get("$ref"), str):
            assert node["$ref"].startswith("#/"), where
            resolve(doc, node["$ref"])  # a KeyError names the broken one
    schemas = doc["components"]["schemas"]
    titles = Counter(s.get("title", name) for name, s in schemas.items())
    assert [t for t, n in titles.items() if n > 1] == []
    for name in schemas:
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", name), name
    assert {"RatingsPaperCountsIn", "VotesPaperCountsIn"} <= set(schemas)
    assert {"ProposalsCategoryOut", "FacilitiesNearbyCategoryOut"} <= set(schemas)


async def test_no_map_is_documented_as_an_array(doc: dict[str, Any]) -> None:
    for where, node in walk(doc["components"]["schemas"]):
        if node.get("type") == "array":
            assert "additionalProperties" not in node, where
            assert "minLength" not in node and "maxLength" not in node, where
            assert "items" in node, where
    schemas = doc["components"]["schemas"]
    scores = schemas["RatingIn"]["properties"]["scores"]
    assert scores["type"] == "object"
    assert scores["additionalProperties"] == {"type": "integer"}
    counts = schemas["RatingsPaperCountsIn"]["properties"]["counts"]
    assert counts["type"] == "object" and counts["additionalProperties"]["type"] == "object"
    assert schemas["VotesPaperCountsIn"]["properties"]["counts"]["type"] == "object"
    assert schemas["ResponseIn"]["properties"]["answers"]["type"] == "object"


async def test_public_operations_need_no_token_and_others_do(doc: dict[str, Any]) -> None:
    assert doc["security"] == [{"BearerToken": []}]
    public = {(p, m) for p, m, op in operations(doc) if op.get("security") == []}
    assert public >= PUBLIC
    assert {("/api/v1/areas", "get"), ("/api/v1/proposals/categories", "get")} <= public
    own_credential = {
        ("/api/v1/events/{event_id}/display", "get"),  # a display link
        ("/api/v1/integrations/portal/webhook", "post"),  # the portal's signature
        ("/api/v1/auth/portal", "post"),
        ("/api/v1/auth/wechat", "post"),
        ("/api/v1/auth/refresh", "post"),
    }
    for path, method, op in operations(doc):
        if (path, method) in public:
            assert ("401" in op["responses"]) == ((path, method) in own_credential), (path, method)
        elif op.get("security") == [{}, {"BearerToken": []}]:
            assert "401" in op["responses"], (path, method)  # a token sent must be valid
        else:
            assert "security" not in op, (path, method)  # the global bearer requirement
            assert {"401", "403"} <= set(op["responses"]), (path, method)
    stream = doc["paths"]["/api/v1/events/{event_id}/results/stream"]["get"]
    assert stream["security"] == [{}, {"BearerToken": []}]
    for path, method in [
        ("/api/v1/events/{event_id}/ballots", "post"),  # reads the token itself
        ("/api/v1/proposals", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/auth/logout", "post"),
    ]:
        assert (path, method) not in public, (path, method)


async def test_every_failure_is_a_documented_problem(doc: dict[str, Any]) -> None:
    for path, method, op in operations(doc):
        responses = op["responses"]
        assert "422" in responses, (path, method)
        assert any(s.startswith("4") for s in responses), (path, method)
        if path not in ("/health", "/ready"):
            assert {"429", "503"} <= set(responses), (path, method)
            assert "Retry-After" in responses["429"]["headers"], (path, method)
        if "{" in path:
            assert "404" in responses, (path, method)
        if "requestBody" in op:
            assert {"400", "415", "422"} <= set(responses), (path, method)
        if method != "get":
            assert "409" in responses, (path, method)
        for status, response in responses.items():
            if status.startswith(("4", "5")) and (path, status) != ("/ready", "503"):
                content = response["content"]
                assert list(content) == [PROBLEM_MEDIA_TYPE], (path, method, status)
                assert content[PROBLEM_MEDIA_TYPE]["schema"]["$ref"].endswith("/Problem")
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])


async def test_headers_are_documented(doc: dict[str, Any]) -> None:
    for path, method, op in operations(doc):
        names = header_names(doc, op)
        assert "accept-language" in names, (path, method)
        if method == "post" and op["operationId"] != "streamTicket":
            assert "idempotency-key" in names, (path, method)
        for status, response in op["responses"].items():
            if status != "default":
                assert "X-Request-Id" in response.get("headers", {}), (path, method, status)
        ok = op["responses"].get("200", {})
        if method == "get" and "application/json" in ok.get("content", {}):
            assert "ETag" in ok["headers"], (path, method)
            assert "304" in op["responses"], (path, method)
            assert "if-none-match" in names, (path, method)
    ballot = doc["paths"]["/api/v1/events/{event_id}/ballots"]["post"]
    assert "Idempotent-Replayed" in ballot["responses"]["201"]["headers"]


async def test_replies_that_are_no_json_say_what_they_are(doc: dict[str, Any]) -> None:
    paths = doc["paths"]
    for path in (
        "/api/v1/exports/proposals",
        "/api/v1/exports/ratings",
        "/api/v1/exports/project-list",
        "/api/v1/exports/events/{event_id}/results",
        "/api/v1/exports/surveys/{survey_id}",
    ):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert content == {
            CSV: {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        }, path
    assert set(paths["/api/v1/exports/briefs"]["get"]["responses"]["200"]["content"]) == {XLSX}
    qr = paths["/api/v1/events/{event_id}/check-in-code.png"]["get"]["responses"]["200"]
    assert qr["content"] == {"image/png": {"schema": {"type": "string", "format": "binary"}}}
    chart = paths["/api/v1/surveys/{survey_id}/results/{chart_name}"]["get"]["responses"]["200"]
    assert set(chart["content"]) == {"image/svg+xml; charset=utf-8", "image/png"}
    stream = paths["/api/v1/events/{event_id}/results/stream"]["get"]["responses"]["200"]
    assert set(stream["content"]) == {"text/event-stream"}
    for _, _, op in operations(doc):
        for status, response in op["responses"].items():
            for media_type, body in response.get("content", {}).items():
                assert body.get("schema"), (op["operationId"], status, media_type)


async def test_every_tag_is_described(doc: dict[str, Any]) -> None:
    used = {tag for _, _, op in operations(doc) for tag in op.get("tags", [])}
    described = {t["name"]: t.get("description", "") for t in doc["tags"]}
    assert used == set(described)
    assert all(described.values()), described
