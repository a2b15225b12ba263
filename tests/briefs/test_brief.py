"""The quarterly brief: the figures of GET /stats for the quarter, native charts, one sheet per
child area, print-ready; opened by LibreOffice (headless) into a PDF whose text has them."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.briefs.workbook import SUMMARY_HEADERS
from tests.area_stats.world import World, build_world
from tests.builders import login

QUARTER = {"from": "2026-07-01", "to": "2026-09-30"}


@pytest.fixture(scope="module")
async def world(db: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(db, seed=4)


async def _brief(client: httpx.AsyncClient, world: World, **params: str) -> httpx.Response:
    h = await login(client, world.staff["district_admin"])
    query = {"area_id": str(world.district.id), "quarter": "2026Q3", "format": "xlsx", **params}
    return await client.get("/api/v1/exports/briefs", params=query, headers=h)


def _rows(ws: Any) -> dict[str, list[Any]]:
    """The 主要指标 table: area name → its row."""
    out: dict[str, list[Any]] = {}
    for row in ws.iter_rows(min_row=5, max_row=40, values_only=True):
        if row[0] is None:
            break
        out[str(row[0])] = list(row[: len(SUMMARY_HEADERS)])
    return out


def _pdf_of(soffice: str, path: Path) -> tuple[str, str]:
    """LibreOffice (headless) turns the workbook into a PDF: its text and its pdfinfo."""
    profile = path.parent / "lo-profile"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(path.parent),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = path.with_suffix(".pdf")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, timeout=60
    ).stdout.decode()
    info = subprocess.run(
        ["pdfinfo", str(pdf)], check=True, capture_output=True, timeout=60
    ).stdout.decode()
    return text, info


async def test_brief_has_the_quarters_figures_and_charts(
    client: httpx.AsyncClient, world: World, tmp_path: Path
) -> None:
    reply = await _brief(client, world)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "attachment" in reply.headers["content-disposition"]
    h = await login(client, world.staff["district_admin"])
    stats = (
        await client.get(f"/api/v1/areas/{world.district.id}/stats", params=QUARTER, headers=h)
    ).json()
    wb = load_workbook(io.BytesIO(reply.content))
    assert wb.sheetnames == ["总览"] + [s.name for s in world.streets]
    overview = wb["总览"]
    rows = _rows(overview)
    assert rows[world.district.name][1] == stats["proposals"]["total"] > 0
    assert rows[world.district.name][9] == stats["satisfaction"]["count"]
    for child in stats["children"]:
        assert rows[child["name"]][1] == child["proposals"]["total"]
        assert rows[child["name"]][11] == child["projects"]["total"]
        assert rows[child["name"]][12] == child["projects"]["overdue"]
    # The needs surveys: count, responses, and the (online) response rate of the figures.
    assert SUMMARY_HEADERS[13:16] == ("问卷数", "答卷数", "线上答卷率")
    for name, f in [(world.district.name, stats), *((c["name"], c) for c in stats["children"])]:
        surveys = f["surveys"]
        assert rows[name][13:16] == [
            surveys["count"],
            surveys["responses"],
            surveys["response_rate"],
        ], name
    assert stats["surveys"]["count"] > 0 and stats["surveys"]["response_rate"] is not None
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape"
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
        assert len(ws._charts) >= 2  # suggestions by category, projects by status (+ ranking)
    titles = {
        c.title.tx.rich.p[0].r[0].t
        for c in overview._charts  # the charts' title text
    }
    assert {"建议按分类", "项目按状态", "满意度排名"} <= titles
    # A street's sheet drills down to its communities.
    street = world.streets[0]
    street_stats = (
        await client.get(f"/api/v1/areas/{street.id}/stats", params=QUARTER, headers=h)
    ).json()
    street_rows = _rows(wb[street.name])
    for child in street_stats["children"]:
        assert street_rows[child["name"]][1] == child["proposals"]["total"]

    # LibreOffice opens it: the PDF has the figures and the charts' titles.
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed (make test installs it)")
    path = tmp_path / "brief.xlsx"
    path.write_bytes(reply.content)
    text, info = await asyncio.to_thread(_pdf_of, soffice, path)
    size = next(line for line in info.splitlines() if line.startswith("Page size"))
    width, height = (float(v) for v in size.split(":")[1].split("pts")[0].split(" x "))
    assert width > height  # landscape
    assert "2026年第3季度简报" in text
    for name in [world.district.name] + [s.name for s in world.streets]:
        assert name in text
    assert "建议按分类" in text and "项目按状态" in text
    assert str(stats["proposals"]["total"]) in text


async def test_brief_guard_and_bad_input(client: httpx.AsyncClient, world: World) -> None:
    for params, status in (
        ({"quarter": "2026Q5"}, 422),
        ({"quarter": "Q3"}, 422),
        ({"format": "pdf"}, 422),
        ({"area_id": str(uuid.uuid4())}, 404),
    ):
        reply = await _brief(client, world, **params)
        assert reply.status_code in ((400, 422) if status == 422 else (status,)), reply.text
    street_staff = await login(client, world.staff["street0"])
    denied = await client.get(
        "/api/v1/exports/briefs",
        params={"area_id": str(world.district.id), "quarter": "2026Q3"},
        headers=street_staff,
    )
    assert denied.status_code == 403 and denied.json()["code"] == "area_forbidden"
