"""Property-level authorisation: a body cannot set what it should not (mass assignment).

Every request body the app parses, found from its own route table, is a pydantic model that
forbids unknown fields, and so is every model nested in it. Read-only fields of the objects
(a suggestion's status, support count, author) sent in a body are refused with 422.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import httpx
from litestar import Litestar
from pydantic import BaseModel

from tests.proposals.helpers import World, make_world


def _models(annotation: Any, seen: set[type[BaseModel]]) -> None:
    """Every pydantic model reachable from ``annotation`` (fields, lists, unions, dicts)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for info in annotation.model_fields.values():
            _models(info.annotation, seen)
        return
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        _models(typing.get_args(annotation)[0], seen)
        return
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            _models(arg, seen)


def request_models(app: Litestar) -> dict[str, set[type[BaseModel]]]:
    found: dict[str, set[type[BaseModel]]] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None:
                continue
            models: set[type[BaseModel]] = set()
            _models(data.annotation, models)
            for method in handler.http_methods:
                found[f"{method} {route.path}"] = models
    return found


def test_every_request_body_forbids_unknown_fields(app: Litestar) -> None:
    found = request_models(app)
    assert len(found) >= 25, sorted(found)  # the walk does see the app's bodies
    lax = sorted(
        f"{route}: {model.__module__}.{model.__qualname__}"
        for route, models in found.items()
        for model in models
        if model.model_config.get("extra") != "forbid"
    )
    assert not lax, f"request models that accept unknown fields: {lax}"


async def _post_proposal(client: httpx.AsyncClient, w: World, **extra: Any) -> httpx.Response:
    body = {"title": "加装电梯", "body": "老公房没有电梯", "category": "accessibility", **extra}
    return await client.post("/api/v1/proposals", json=body, headers=w.h["resident"])


async def test_read_only_and_unknown_fields_are_refused(client: httpx.AsyncClient, db: Any) -> None:
    w = await make_world(db, client)
    for extra in (
        {"status": "accepted"},
        {"support_count": 999},
        {"author_id": str(w.neighbour.id)},
        {"id": "0190a0a0-0000-7000-8000-000000000000"},
        {"is_admin": True},
    ):
        response = await _post_proposal(client, w, **extra)
        assert response.status_code == 422, (extra, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert next(iter(extra)) in response.text
    mine = await client.get("/api/v1/me/proposals", headers=w.h["resident"])
    assert mine.status_code == 200 and mine.json()["items"] == []

    # A resident cannot give themselves a role or a home through their sign-in either.
    login = await client.post(
        "/api/v1/auth/dev-login", json={"phone": "13800000000", "role": "admin"}
    )
    assert login.status_code == 422, login.text
    # Staff bodies too: a project is created "planned", never straight to "completed".
    projects = await client.post(
        "/api/v1/projects",
        json={
            "title": "x",
            "community_id": str(w.a.id),
            "category": "public_space",
            "status": "completed",
        },
        headers=w.h["committee"],
    )
    assert projects.status_code == 422, projects.text
