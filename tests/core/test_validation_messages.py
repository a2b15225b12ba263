"""Validation errors speak the caller's language, name the field as the client sent it, and
types in JSON bodies are strict (src/core/errors.py, src/core/schemas.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.user import Role
from tests.builders import Tree, login, make_tree, make_user
from tests.surveys.helpers import survey_body

EN = {"Accept-Language": "en"}


@dataclass
class World:
    tree: Tree
    resident: dict[str, str]
    committee: dict[str, str]
    street: dict[str, str]


@pytest.fixture
async def w(client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]) -> World:
    tree = await make_tree(db, 1)
    community = tree.communities[0]
    return World(
        tree,
        await login(client, await make_user(db, community=community)),
        await login(client, await make_user(db, role=Role.committee, area=community)),
        await login(client, await make_user(db, role=Role.street, area=tree.street)),
    )


def proposal(**fields: Any) -> dict[str, Any]:
    return {"title": "加装电梯", "body": "三号楼需要电梯", "category": "accessibility", **fields}


def errors_of(reply: httpx.Response) -> dict[str, str]:
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem = reply.json()
    assert problem["code"] == "validation_failed"
    return {e["field"]: e["message"] for e in problem["errors"]}


async def test_a_query_limit_is_explained_in_chinese_by_default_and_in_english_on_request(
    client: httpx.AsyncClient, w: World
) -> None:
    url = f"/api/v1/proposals?community_id={w.tree.communities[0].id}&limit=0"
    chinese = await client.get(url, headers=w.resident)
    assert errors_of(chinese) == {"limit": "不能小于 1"}
    assert chinese.json()["detail"] == "请求内容不符合要求"
    english = await client.get(url, headers={**w.resident, **EN})
    assert errors_of(english) == {"limit": "must be at least 1"}
    assert english.headers["content-language"] == "en"
    over = await client.get(url.replace("limit=0", "limit=101"), headers={**w.resident, **EN})
    assert errors_of(over) == {"limit": "must be at most 100"}
    word = await client.get(url.replace("limit=0", "limit=ten"), headers=w.resident)
    assert errors_of(word) == {"limit": "必须是整数"}


async def test_aliased_query_parameters_are_named_as_sent(
    client: httpx.AsyncClient, w: World
) -> None:
    street = w.tree.street.id
    stats = await client.get(f"/api/v1/areas/{street}/stats?from=yesterday", headers=w.street)
    assert errors_of(stats) == {"from": "必须是日期（YYYY-MM-DD）"}
    hot = await client.get(
        f"/api/v1/areas/{street}/hotspots?to=2026-13-01", headers={**w.street, **EN}
    )
    assert errors_of(hot) == {"to": "must be a date (YYYY-MM-DD)"}
    export = await client.get(
        f"/api/v1/exports/proposals?street_id={street}&from=x", headers={**w.street, **EN}
    )
    assert errors_of(export) == {"from": "must be a date (YYYY-MM-DD)"}
    fine = await client.get(f"/api/v1/areas/{street}/stats?from=2026-01-01", headers=w.street)
    assert fine.status_code == 200, fine.text


async def test_an_enum_query_value_lists_the_choices(client: httpx.AsyncClient, w: World) -> None:
    reply = await client.get(
        f"/api/v1/proposals?community_id={w.tree.communities[0].id}&coord_sys=utm",
        headers={**w.resident, **EN},
    )
    assert errors_of(reply) == {"coord_sys": "must be one of: gcj02, wgs84, bd09"}


async def test_boolean_query_values_are_true_false_1_or_0(
    client: httpx.AsyncClient, w: World
) -> None:
    base = f"/api/v1/projects?community_id={w.tree.communities[0].id}&overdue="
    for word in ("true", "false", "1", "0", "True"):
        reply = await client.get(base + word, headers=w.committee)
        assert reply.status_code == 200, (word, reply.text)
    for word in ("yes", "on", "2"):
        reply = await client.get(base + word, headers=w.committee)
        assert errors_of(reply) == {"overdue": "必须是 true 或 false"}, word


async def test_a_string_for_a_json_boolean_or_number_is_refused(
    client: httpx.AsyncClient, w: World
) -> None:
    reply = await client.post(
        "/api/v1/proposals",
        json=proposal(
            anonymous="yes", location={"lat": "31.24", "lng": 121.41, "coord_sys": "gcj02"}
        ),
        headers=w.resident,
    )
    assert errors_of(reply) == {"anonymous": "必须是 true 或 false", "location.lat": "必须是数字"}
    english = await client.post(
        "/api/v1/proposals", json=proposal(anonymous="true"), headers={**w.resident, **EN}
    )
    assert errors_of(english) == {"anonymous": "must be true or false"}
    one = await client.post("/api/v1/proposals", json=proposal(anonymous=1), headers=w.resident)
    assert errors_of(one) == {"anonymous": "必须是 true 或 false"}
    # JSON's own types still pass: a number for a float, a boolean, an RFC 3339 string.
    fine = await client.post(
        "/api/v1/proposals",
        json=proposal(anonymous=True, location={"lat": 31, "lng": 121.41}),
        headers=w.resident,
    )
    assert fine.status_code == 201, fine.text
    assert fine.json()["anonymous"] is True


async def test_integers_are_json_integers(client: httpx.AsyncClient, w: World) -> None:
    area = w.tree.communities[0]
    for year, message in (("2026", "must be an integer"), (2026.5, "must be an integer")):
        reply = await client.post(
            "/api/v1/surveys",
            json=survey_body(area, year=year),
            headers={**w.committee, **EN},
        )
        assert errors_of(reply) == {"year": message}
    low = await client.post(
        "/api/v1/surveys", json=survey_body(area, year=1999), headers=w.committee
    )
    assert errors_of(low) == {"year": "不能小于 2000"}


async def test_nested_fields_are_named_with_their_path_and_index(
    client: httpx.AsyncClient, w: World
) -> None:
    area = w.tree.communities[0]
    body = survey_body(area)
    questions = [dict(q) for q in body["questions"]]
    with_options = next(i for i, q in enumerate(questions) if q.get("options"))
    options = [dict(o) for o in questions[with_options]["options"]]
    options[1]["label"] = ""
    options[2].pop("label")
    options[0]["colour"] = "red"
    questions[with_options]["options"] = options
    body["questions"] = questions
    prefix = f"questions[{with_options}].options"
    chinese = await client.post("/api/v1/surveys", json=body, headers=w.committee)
    assert errors_of(chinese) == {
        f"{prefix}[1].label": "不能为空",
        f"{prefix}[2].label": "必填",
        f"{prefix}[0].colour": "不是可接受的字段",
    }
    english = await client.post("/api/v1/surveys", json=body, headers={**w.committee, **EN})
    assert errors_of(english) == {
        f"{prefix}[1].label": "must not be empty",
        f"{prefix}[2].label": "required",
        f"{prefix}[0].colour": "is not an accepted field",
    }


async def test_lengths_and_missing_fields_carry_their_limits(
    client: httpx.AsyncClient, w: World
) -> None:
    reply = await client.post(
        "/api/v1/proposals",
        json={"title": "x" * 101, "category": "accessibility"},
        headers=w.resident,
    )
    errors = errors_of(reply)
    assert errors["body"] == "必填"
    assert errors["title"].startswith("最多 ") and errors["title"].endswith(" 个字符")
    english = await client.post(
        "/api/v1/proposals", json=proposal(title="x"), headers={**w.resident, **EN}
    )
    assert errors_of(english) == {"title": "must be at least 2 characters long"}


async def test_a_tagged_union_names_its_discriminator(client: httpx.AsyncClient, w: World) -> None:
    body = {
        "title": "加装电梯",
        "category": "accessibility",
        "community_id": str(w.tree.communities[0].id),
        "year": 2026,
        "sources": [{"kind": "rumour", "id": "x"}, {"id": "x"}, {"kind": "proposal", "id": "x"}],
    }
    reply = await client.post("/api/v1/needs", json=body, headers={**w.committee, **EN})
    errors = errors_of(reply)
    assert errors["sources[0].kind"].startswith("must be one of: ")
    assert "proposal" in errors["sources[0].kind"]
    assert errors["sources[1].kind"] == "required"
    assert errors["sources[2].id"] == "must be a valid id (UUID)"


async def test_a_missing_required_query_parameter_is_named(
    client: httpx.AsyncClient, w: World
) -> None:
    reply = await client.get("/api/v1/moderation/queue", headers={**w.committee, **EN})
    assert errors_of(reply) == {"area_id": "required"}


def test_every_kind_a_validator_maps_to_has_both_messages() -> None:
    from src.core.errors import _FIELD_MESSAGES, _MSGSPEC_PATTERNS, _PYDANTIC_TYPES, _TYPE_NAMES

    kinds = {kind for kind, _ in _PYDANTIC_TYPES.values()} | {k for _, k in _MSGSPEC_PATTERNS}
    assert kinds <= set(_FIELD_MESSAGES)
    types = {what for kind, what in _PYDANTIC_TYPES.values() if kind == "type"}
    assert types <= set(_TYPE_NAMES)
    assert all(m.zh and m.en and m.zh != m.en for m in _FIELD_MESSAGES.values() if m.en != "{text}")
