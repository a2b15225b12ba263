"""The demo's surveys: a closed 2026 survey of 曹杨新村街道 with online and paper answers, and an
open one a demo resident can answer."""

from __future__ import annotations

import httpx


async def _login(client: httpx.AsyncClient, phone: str) -> dict[str, str]:
    reply = await client.post("/api/v1/auth/dev-login", json={"phone": phone})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


async def test_demo_surveys(client: httpx.AsyncClient) -> None:
    street = await _login(client, "13900000011")  # 曹杨街道工作人员
    resident = await _login(client, "13820101000")  # a resident of 曹杨一村
    areas = (await client.get("/api/v1/areas?level=street", headers=street)).json()
    items = areas["items"] if isinstance(areas, dict) else areas
    caoyang = next(a for a in items if a["name"] == "曹杨新村街道")
    listed = (await client.get(f"/api/v1/surveys?area_id={caoyang['id']}", headers=street)).json()
    by_status = {s["status"]: s for s in listed["items"]}
    closed, open_ = by_status["closed"], by_status["open"]
    assert closed["year"] == 2026
    results = (await client.get(f"/api/v1/surveys/{closed['id']}/results", headers=street)).json()
    assert results["online"] >= 200 and results["paper"] >= 100
    assert results["responses"] == results["online"] + results["paper"]
    assert sum(results["questions"][0]["counts"].values()) == results["responses"]
    answered = await client.post(
        f"/api/v1/surveys/{open_['id']}/responses",
        json={"answers": {"use": "weekly", "price": 15}},
        headers=resident,
    )
    assert answered.status_code == 201, answered.text
