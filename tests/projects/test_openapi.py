from __future__ import annotations

import httpx


async def test_contract_names_the_routes_and_linked_domains(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    paths = spec["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/projects/{project_id}/progress"])
    assert "patch" in paths["/api/v1/projects/{project_id}"]
    assert {"get", "post"} <= set(paths["/api/v1/categories"])
    assert "patch" in paths["/api/v1/categories/{code}"]
    detail = spec["components"]["schemas"]["ProjectDetailOut"]["properties"]
    meetings = detail["meetings"]
    assert "GET /events?project_id=" in meetings["description"]
    assert meetings["items"]["$ref"].endswith("/ProjectMeetingOut")
    assert "GET /projects/{id}/satisfaction" in detail["satisfaction"]["description"]
    refs = {s.get("$ref", "") for s in detail["satisfaction"].get("oneOf", [])}
    assert any(r.endswith("/ProjectSatisfactionOut") for r in refs), detail["satisfaction"]
