"""The demo district has a quarter of figures in both streets, last month's reports with one
street missing, and reviews on the demo facilities."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import httpx

DISTRICT_ADMIN = "13900000001"


async def login_phone(client: httpx.AsyncClient, phone: str) -> dict[str, str]:
    reply = await client.post("/api/v1/auth/dev-login", json={"phone": phone})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


async def _areas(client: httpx.AsyncClient, h: dict[str, str], level: str) -> list[dict[str, str]]:
    reply = await client.get(f"/api/v1/areas?level={level}&limit=100", headers=h)
    items: list[dict[str, str]] = reply.json()["items"]
    return items


async def test_demo_quarter_reports_and_reviews(client: httpx.AsyncClient) -> None:
    h = await login_phone(client, DISTRICT_ADMIN)
    district = next(a for a in await _areas(client, h, "district") if a["name"] == "普陀区")
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    since = (today - dt.timedelta(days=91)).isoformat()
    stats = (
        await client.get(f"/api/v1/areas/{district['id']}/stats?from={since}", headers=h)
    ).json()
    names = {c["name"]: c for c in stats["children"]}
    assert {"曹杨新村街道", "长风新村街道"} <= set(names)
    for street in ("曹杨新村街道", "长风新村街道"):
        figures = names[street]
        assert figures["proposals"]["total"] >= 10
        assert figures["replies"]["answered"] > 0
        assert figures["satisfaction"]["count"] > 0
        assert figures["projects"]["total"] > 0
    hot = (await client.get(f"/api/v1/areas/{district['id']}/hotspots", headers=h)).json()
    assert len(hot["features"]) > 3
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    reports = (
        await client.get(f"/api/v1/areas/{district['id']}/reports?period={last_month}", headers=h)
    ).json()
    filed = {s["name"]: s["filed"] for s in reports["streets"]}
    assert filed["曹杨新村街道"] is True and filed["长风新村街道"] is False
    ranking = (
        await client.get(
            f"/api/v1/areas/{district['id']}/facility-ranking?min_reviews=3", headers=h
        )
    ).json()
    assert len(ranking["items"]) >= 3
