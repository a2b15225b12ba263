"""Bad input is a 4xx problem+json with a stable code, in Chinese or English — never a 500."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.builders import login, make_tree, make_user


@pytest.fixture
async def resident(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> dict[str, str]:
    tree = await make_tree(db, 1)
    return await login(client, await make_user(db, community=tree.communities[0]))


@pytest.mark.parametrize(
    "body",
    [
        '{"title": "加装电梯", "body": "x"'.encode(),  # truncated
        b"{{}",
        b'{"title": }',
        b"\xff\xfe not utf-8",
        b"[1, 2,",
        b'{"title": "a" "b"}',
    ],
)
async def test_malformed_json_is_400_malformed_body(
    client: httpx.AsyncClient, resident: dict[str, str], body: bytes
) -> None:
    reply = await client.post(
        "/api/v1/proposals",
        content=body,
        headers={**resident, "Content-Type": "application/json"},
    )
    assert reply.status_code == 400, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem = reply.json()
    assert problem["code"] == "malformed_body"
    assert problem["status"] == 400
    assert problem["detail"] == "请求体不是合法的 JSON"


async def test_wrong_types_are_422_with_the_fields_listed(
    client: httpx.AsyncClient, resident: dict[str, str]
) -> None:
    reply = await client.post(
        "/api/v1/proposals",
        json={"title": 123, "body": ["not", "text"], "category": "accessibility"},
        headers=resident,
    )
    assert reply.status_code == 422
    problem = reply.json()
    assert problem["code"] == "validation_failed"
    fields = {e["field"] for e in problem["errors"]}
    assert {"title", "body"} <= fields
    assert all(e["message"] for e in problem["errors"])


async def test_unknown_fields_and_a_non_object_body_are_refused(
    client: httpx.AsyncClient, resident: dict[str, str]
) -> None:
    extra = await client.post(
        "/api/v1/proposals",
        json={"title": "加装电梯", "body": "x", "category": "accessibility", "status": "done"},
        headers=resident,
    )
    assert extra.status_code == 422
    assert extra.json()["code"] == "validation_failed"
    assert any("status" in e["field"] for e in extra.json()["errors"])
    listed = await client.post("/api/v1/proposals", json=[1, 2], headers=resident)
    assert listed.status_code in (400, 422)
    assert listed.json()["code"] in ("validation_failed", "malformed_body")


async def test_english_on_request(client: httpx.AsyncClient, resident: dict[str, str]) -> None:
    reply = await client.post(
        "/api/v1/proposals",
        content=b"{",
        headers={**resident, "Content-Type": "application/json", "Accept-Language": "en-US"},
    )
    assert reply.status_code == 400
    assert reply.json()["detail"] == "The body is not valid JSON"
    assert reply.headers["content-language"] == "en"
    chinese = await client.get("/api/v1/me")
    assert chinese.json()["detail"] == "请先登录"
    assert chinese.headers["content-language"] == "zh-CN"


async def test_unknown_paths_and_methods_are_problems_too(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    method = await client.delete("/health")
    assert method.status_code == 405
    assert method.json()["code"] == "method_not_allowed"
    assert method.headers["content-type"].startswith("application/problem+json")
