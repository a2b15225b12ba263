"""Builders for the project tests (through the HTTP API, as the staff's tools call it)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from src.models.area import Area


def shanghai_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def create_project(
    client: httpx.AsyncClient, headers: dict[str, str], community: Area, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "曹杨一村口袋公园",
        "description": "利用闲置空地建设口袋公园",
        "community_id": str(community.id),
        "category": "public_space",
        "budget_source": "区级财政",
        "responsible_unit": "街道管理办",
    }
    body.update(fields)
    response = await client.post("/api/v1/projects", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def patch(
    client: httpx.AsyncClient, headers: dict[str, str], project_id: str, **fields: Any
) -> httpx.Response:
    return await client.patch(f"/api/v1/projects/{project_id}", json=fields, headers=headers)


async def move_to(
    client: httpx.AsyncClient, headers: dict[str, str], project_id: str, *statuses: str
) -> None:
    for status in statuses:
        response = await patch(client, headers, project_id, status=status)
        assert response.status_code == 200, (status, response.text)


async def progress(
    client: httpx.AsyncClient, headers: dict[str, str], project_id: str, percent: int, **extra: Any
) -> httpx.Response:
    body = {"text": f"完成 {percent}%", "percent": percent, **extra}
    return await client.post(f"/api/v1/projects/{project_id}/progress", json=body, headers=headers)
