"""The city office's file: a district's 2,500-project list exported (CSV, XLSX) next to COPY.

Seeds 普陀区 (demo: 曹杨新村街道 and 长风新村街道) with ``BENCH_NEEDS_PROJECTS`` projects of
2027 (default 2,500, every kind, with content, path, unit, funding, design team), each
answering one need of 2026 backed by three suggestions (COPY). Then:

- ``COPY (the export's own query) TO STDOUT csv`` on raw asyncpg, bytes thrown away: the
  database's time for exactly these rows, columns and joins — the baseline;
- ``GET /api/v1/exports/project-list?district_id=…&year=2027`` as CSV and XLSX, one client,
  wall time to the last byte (goal: under 2 s) and its ratio to COPY;
- the annex table (``GET /areas/{district}/project-stats?year=2027``) and a street's needs
  list (``GET /areas/{street}/needs?year=2026``) at 8 connections, next to GET /health.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
import uuid
from typing import Any

import httpx

from bench import harness
from bench.harness import Context
from src.exports import repository
from src.exports.repository import ProjectListFilter, Shape

DISTRICT_CODE = "310107"
STREET_CODE = "310107012"
DISTRICT_ADMIN = "13900000001"
STREET_STAFF = "13900000011"
PROJECTS = int(os.environ.get("BENCH_NEEDS_PROJECTS", "2500"))
YEAR = 2027
KINDS = ["general"] * 6 + ["renmin_fang", "liuyi_ting", "embedded_service", "embedded_service"]
CATEGORIES = ["accessibility", "public_space", "parking", "elderly_care", "other"]


async def _seed(ctx: Context) -> tuple[uuid.UUID, uuid.UUID]:
    conn = await ctx.pg()
    try:
        district = await conn.fetchval("SELECT id FROM areas WHERE code = $1", DISTRICT_CODE)
        street = await conn.fetchval("SELECT id FROM areas WHERE code = $1", STREET_CODE)
        communities = [
            (r["id"], r["parent_id"])
            for r in await conn.fetch(
                "SELECT c.id, c.parent_id FROM areas c JOIN areas s ON s.id = c.parent_id"
                " WHERE s.parent_id = $1 ORDER BY c.code",
                district,
            )
        ]
        staff = await conn.fetchval("SELECT id FROM users WHERE phone = $1", STREET_STAFF)
        authors = [
            r["id"]
            for r in await conn.fetch("SELECT id FROM users WHERE home_community_id IS NOT NULL")
        ]
        rng = random.Random(17)
        projects: list[tuple[Any, ...]] = []
        needs: list[tuple[Any, ...]] = []
        proposals: list[tuple[Any, ...]] = []
        evidence: list[tuple[Any, ...]] = []
        links: list[tuple[Any, ...]] = []
        when = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
        for n in range(PROJECTS):
            community, street_id = communities[n % len(communities)]
            category = CATEGORIES[n % len(CATEGORIES)]
            need_id, project_id = uuid.uuid4(), uuid.uuid4()
            needs.append(
                (
                    need_id,
                    2026,
                    community,
                    street_id,
                    f"需求{n}：加装电梯和无障碍坡道",
                    "居民在征询会上反映",
                    category,
                    "planned",
                    "纳入2027年度清单",
                    staff,
                )
            )
            for k in range(3):
                pid = uuid.uuid4()
                proposals.append(
                    (
                        pid,
                        community,
                        street_id,
                        authors[(n + k) % len(authors)],
                        f"{n}号楼加装电梯{k}",
                        "老人上下楼困难",
                        category,
                        "accepted",
                        rng.randrange(60),
                        when,
                        when,
                    )
                )
                evidence.append((uuid.uuid4(), need_id, "proposal", pid, staff))
            start = dt.date(YEAR, 1 + n % 9, 1)
            projects.append(
                (
                    project_id,
                    community,
                    street_id,
                    f"项目{n}：多层住宅加装电梯",
                    "",
                    category,
                    YEAR,
                    "planned",
                    KINDS[n % len(KINDS)],
                    "多层住宅加装电梯，楼道扶手和坡道改造，配套绿化",
                    "居民自治申请、街道代建",
                    "区级财政",
                    "街道社区管理办",
                    "上海市政工程设计研究院",
                    start,
                    start + dt.timedelta(days=120 + rng.randrange(200)),
                    staff,
                )
            )
            links.append((project_id, need_id))
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "needs",
            columns=[
                "id",
                "year",
                "community_id",
                "street_id",
                "title",
                "description",
                "category",
                "status",
                "status_reason",
                "created_by",
            ],
            records=needs,
        )
        await harness.copy_proposals(
            conn,
            columns=[
                "id",
                "community_id",
                "street_id",
                "author_id",
                "title",
                "body",
                "category",
                "status",
                "support_count",
                "created_at",
                "updated_at",
            ],
            records=proposals,
        )
        await conn.copy_records_to_table(
            "need_evidence",
            columns=["id", "need_id", "kind", "proposal_id", "added_by"],
            records=evidence,
        )
        await conn.copy_records_to_table(
            "projects",
            columns=[
                "id",
                "community_id",
                "street_id",
                "title",
                "description",
                "category",
                "year",
                "status",
                "kind",
                "content",
                "implementation_path",
                "budget_source",
                "responsible_unit",
                "design_team",
                "planned_start",
                "planned_end",
                "created_by",
            ],
            records=projects,
        )
        await conn.copy_records_to_table(
            "project_needs", columns=["project_id", "need_id"], records=links
        )
        await conn.execute(
            "ANALYZE projects; ANALYZE needs; ANALYZE need_evidence; ANALYZE project_needs;"
            " ANALYZE proposals"
        )
        ctx.note(
            f"seed {PROJECTS:,} projects, needs and {len(proposals):,} suggestions (COPY)",
            seconds=round(time.perf_counter() - started, 2),
        )
        return district, street
    finally:
        await conn.close()


async def _copy_baseline(ctx: Context, district: uuid.UUID) -> tuple[float, int, int]:
    sql, args = repository.project_list_query(
        ProjectListFilter(year=YEAR, district_id=district), english=False, shape=Shape.csv_columns
    )
    size = 0

    async def sink(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)

    conn = await ctx.pg()
    try:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            status = await conn.copy_from_query(sql, *args, output=sink, format="csv")
            best = min(best, time.perf_counter() - started)
    finally:
        await conn.close()
    rows = int(status.split()[-1])
    assert rows >= PROJECTS  # and the demo's own 2027 projects
    return best, size // 3, rows


async def _export(ctx: Context, district: uuid.UUID, fmt: str, token: str) -> tuple[float, int]:
    best, size = float("inf"), 0
    async with httpx.AsyncClient(base_url=ctx.base_url, timeout=120) as http:
        for _ in range(3):
            size = 0
            started = time.perf_counter()
            async with http.stream(
                "GET",
                "/api/v1/exports/project-list",
                params={"district_id": str(district), "year": YEAR, "format": fmt},
                headers=ctx.auth_headers(token),
            ) as response:
                response.raise_for_status()
                async for chunk in response.aiter_raw(1 << 16):
                    size += len(chunk)
            best = min(best, time.perf_counter() - started)
    return best, size


async def run(ctx: Context) -> None:
    district, street = await _seed(ctx)
    await ctx.restart_server()
    admin = await ctx.token(DISTRICT_ADMIN)
    copy_s, copy_bytes, rows = await _copy_baseline(ctx, district)
    ctx.note(
        "COPY (same query) TO STDOUT csv (baseline, best of 3)",
        rows=rows,
        seconds=round(copy_s, 3),
        kb=round(copy_bytes / 1e3),
    )
    for fmt in ("csv", "xlsx"):
        seconds, size = await _export(ctx, district, fmt, admin)
        ctx.note(
            f"GET /api/v1/exports/project-list {fmt} (district, best of 3)",
            rows=rows,
            seconds=round(seconds, 3),
            under_2s=seconds < 2,
            vs_copy=round(copy_s / seconds, 3),
            kb=round(size / 1e3),
        )
    base = await ctx.baseline()
    headers = ctx.auth_headers(admin)
    for label, path in (
        (
            "GET project-stats (district, 2027)",
            f"/api/v1/areas/{district}/project-stats?year={YEAR}",
        ),
        ("GET needs list (street, 2026)", f"/api/v1/areas/{street}/needs?year=2026"),
    ):
        result = await ctx.load(label, "GET", path, headers=headers, concurrency=8, duration_s=6)
        ctx.record(label, result, base)
