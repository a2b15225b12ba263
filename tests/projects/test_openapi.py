from __future__ import annotations

import httpx


async def test_contract_names_the_new_routes_and_placeholders(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    paths = spec["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/projects/{project_id}/progress"])
    assert "patch" in paths["/api/v1/projects/{project_id}"]
    assert {"get", "post"} <= set(paths["/api/v1/categories"])
    assert "patch" in paths["/api/v1/categories/{code}"]
    detail = spec["components"]["schemas"]["ProjectDetailOut"]["properties"]
    assert "events domain" in detail["meetings"]["description"]
    assert "ratings" in detail["satisfaction"]["description"]
