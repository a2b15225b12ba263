"""Input hardening at the edge (src/core/inputs.py): deep JSON is a 400 ``malformed_body``,
control characters in a body, a query or a path are a 422 ``validation_failed`` naming the
field — never a 500."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.core.inputs import MAX_JSON_DEPTH
from src.models.user import Role
from tests.builders import login, make_user
from tests.integrations.city_portal.conftest import WEBHOOK_PATH, signed_webhook
from tests.proposals.helpers import World, make_world, submit


@pytest.fixture
async def world(client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]) -> World:
    return await make_world(db, client)


def _problem(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = reply.json()
    assert problem["code"] == code
    assert problem["status"] == status
    return problem


def _fields(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem["errors"]}


def _nested(levels: int) -> bytes:
    """A JSON object whose ``title`` nests ``levels - 1`` arrays: ``levels`` levels in all."""
    inner = levels - 1
    return b'{"title": ' + b"[" * inner + b"]" * inner + b"}"


# --- depth ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/proposals"),
        ("POST", "/api/v1/auth/wechat"),
        ("PATCH", f"/api/v1/projects/{uuid.uuid4()}"),
        ("PUT", f"/api/v1/events/{uuid.uuid4()}/ratings/mine"),
        ("POST", "/api/v1/integrations/portal/webhook"),
    ],
)
async def test_a_body_nested_1000_deep_is_400_malformed_body(
    client: httpx.AsyncClient, world: World, method: str, path: str
) -> None:
    for body in (b"[" * 1000 + b"]" * 1000, b'{"a":' * 1000 + b"1" + b"}" * 1000):
        reply = await client.request(
            method,
            path,
            content=body,
            headers={**world.h["resident"], "Content-Type": "application/json"},
        )
        _problem(reply, 400, "malformed_body")


async def test_the_depth_bound_is_exact_and_said_in_the_callers_language(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = {**world.h["resident"], "Content-Type": "application/json"}
    # At the bound the body is JSON like any other: the title is just not a string.
    at_bound = await client.post(
        "/api/v1/proposals", content=_nested(MAX_JSON_DEPTH), headers=headers
    )
    assert _fields(_problem(at_bound, 422, "validation_failed")) >= {"title"}
    beyond = await client.post(
        "/api/v1/proposals", content=_nested(MAX_JSON_DEPTH + 1), headers=headers
    )
    assert "64" in _problem(beyond, 400, "malformed_body")["detail"]
    english = await client.post(
        "/api/v1/proposals",
        content=_nested(MAX_JSON_DEPTH + 1),
        headers={**headers, "Accept-Language": "en"},
    )
    assert _problem(english, 400, "malformed_body")["detail"].startswith("The body is not valid")
    # Brackets inside strings are text, not nesting.
    text = await submit(client, world.h["resident"], title="[[[[" * 20, body="{{{{" * 40)
    assert text["title"] == "[[[[" * 20
    assert text["body"] == "{{{{" * 40


# --- control characters in bodies -------------------------------------------------------


async def test_a_nul_in_a_suggestion_title_is_422_naming_the_field(
    client: httpx.AsyncClient, world: World
) -> None:
    body = {"title": "ab\u0000cd", "body": "老人上下楼困难", "category": "accessibility"}
    reply = await client.post("/api/v1/proposals", json=body, headers=world.h["resident"])
    problem = _problem(reply, 422, "validation_failed")
    assert problem["errors"] == [{"field": "title", "message": "不能包含控制字符"}]
    assert problem["detail"] == "请求内容不符合要求"
    english = await client.post(
        "/api/v1/proposals", json=body, headers={**world.h["resident"], "Accept-Language": "en"}
    )
    assert _problem(english, 422, "validation_failed")["errors"] == [
        {"field": "title", "message": "must not contain control characters"}
    ]


async def test_lines_and_tabs_stay_allowed_in_free_text(
    client: httpx.AsyncClient, world: World
) -> None:
    created = await submit(client, world.h["resident"], body="第一行\n第二行\r\n\t缩进")
    assert created["body"] == "第一行\n第二行\r\n\t缩进"


@pytest.mark.parametrize("bad", ["\u0001", "\u0007", "\u000b", "\u001b[31m", "\u007f", "\u0085"])
async def test_control_characters_in_other_schemas_are_422(
    client: httpx.AsyncClient, world: World, bad: str
) -> None:
    proposal = await submit(client, world.h["resident"])
    reply = await client.post(
        f"/api/v1/proposals/{proposal['id']}/replies",
        json={"body": f"已收到{bad}"},
        headers=world.h["committee"],
    )
    assert _fields(_problem(reply, 422, "validation_failed")) == {"body"}
    project = await client.post(
        "/api/v1/projects",
        json={
            "title": "加装电梯工程",
            "description": f"说明{bad}",
            "community_id": str(world.a.id),
            "category": "accessibility",
        },
        headers=world.h["committee"],
    )
    assert _fields(_problem(project, 422, "validation_failed")) == {"description"}
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": f"{'x' * 30}{bad}"})
    assert _fields(_problem(refresh, 422, "validation_failed")) == {"refresh_token"}


async def test_control_characters_in_nested_and_free_form_values_name_their_path(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    proposal = await submit(client, world.h["resident"])
    nested = await client.post(
        f"/api/v1/proposals/{proposal['id']}/transitions",
        json={"to": "under_review", "reason": "ok\u0000"},
        headers=world.h["committee"],
    )
    assert _fields(_problem(nested, 422, "validation_failed")) == {"reason"}
    # A free-form object (the portal webhook's ``data``): checked inside, keys included.
    for data, field in (
        ({"proposal_id": proposal["id"], "status": "RECEIVED", "reason": "a\u0000"}, "data.reason"),
        ({"proposal_id": proposal["id"], "status": "RECEIVED", "x\u0001": 1}, "data.x\u0001"),
    ):
        event = {
            "event_id": f"evt-ctl-{uuid.uuid4().hex[:12]}",
            "type": "proposal.status_changed",
            "occurred_at": "2026-11-30T08:00:00+08:00",
            "data": data,
        }
        body, headers = signed_webhook(settings, event)
        reply = await client.post(WEBHOOK_PATH, content=body, headers=headers)
        assert _fields(_problem(reply, 422, "validation_failed")) == {field}


# --- control characters in queries and paths --------------------------------------------


async def test_a_nul_in_the_proposals_search_is_422_naming_q(
    client: httpx.AsyncClient, world: World
) -> None:
    reply = await client.get(
        "/api/v1/proposals",
        params={"community_id": str(world.a.id), "q": "ab\u0000cd"},
        headers=world.h["resident"],
    )
    problem = _problem(reply, 422, "validation_failed")
    assert problem["errors"] == [{"field": "q", "message": "不能包含控制字符"}]
    for bad in ("\u001f", "\u007f", "\u0085", "a\nb"):
        again = await client.get(
            "/api/v1/proposals", params={"q": bad}, headers=world.h["resident"]
        )
        assert _fields(_problem(again, 422, "validation_failed")) == {"q"}
    # Plain text, percent signs and spaces are searches like any other.
    fine = await client.get(
        "/api/v1/proposals", params={"q": "100% 加装电梯"}, headers=world.h["resident"]
    )
    assert fine.status_code == 200, fine.text


async def test_a_nul_in_an_export_filter_is_422_naming_the_filter(
    client: httpx.AsyncClient, world: World
) -> None:
    reply = await client.get(
        "/api/v1/exports/proposals",
        params={"format": "csv", "street_id": str(world.street.id), "category": "ab\u0000cd"},
        headers={**world.h["street_staff"], "Accept-Language": "en"},
    )
    problem = _problem(reply, 422, "validation_failed")
    assert problem["errors"] == [
        {"field": "category", "message": "must not contain control characters"}
    ]


async def test_a_control_character_in_a_path_value_is_422(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    admin = await login(client, await make_user(db, role=Role.admin, city_admin=True))
    reply = await client.patch(
        "/api/v1/categories/ab%01cd", json={"name_zh": "无障碍"}, headers=admin
    )
    assert _fields(_problem(reply, 422, "validation_failed")) == {"code"}
