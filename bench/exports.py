"""Exports: 1,000,000 suggestions as CSV and XLSX over HTTP, next to PostgreSQL's own COPY.

- Seeds one street (曹杨, demo) with ``BENCH_EXPORT_ROWS`` suggestions (default 1,000,000)
  through COPY, with a reply on every 10th and a status change on every 5th.
- ``COPY (same query) TO STDOUT (FORMAT csv)`` on raw asyncpg, the bytes thrown away: the
  database's own rate for exactly these rows and columns — the baseline.
- ``GET /api/v1/exports/proposals?format=csv|xlsx`` streamed by one client that reads and
  discards: rows/s (the row count the server recorded for the export, over the wall time)
  and its ratio to COPY; the server's peak RSS growth (all its processes) over the export.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench import harness
from bench.harness import Context
from src.exports import repository
from src.exports.repository import ProposalFilter, Shape

STREET_CODE = "310107012"  # 曹杨新村街道 (src/demo.py)
STREET_STAFF = "13900000011"
ROWS = int(os.environ.get("BENCH_EXPORT_ROWS", "1000000"))

TITLES = ["加装电梯", "口袋公园", "停车难", "菜市场改造", "增设长椅", "老年助餐点", "=危险公式"]
BODIES = [
    "老公房没有电梯，老人上下楼困难，希望尽快加装。",
    '小区门口的空地可以改成口袋公园，"晚上"有灯就更好了',
    "晚上没有车位，电动车乱停，\n希望规划非机动车棚。",
    "菜市场地面湿滑，建议改造排水，增加便民服务点。",
]
CATEGORIES = ["accessibility", "public_space", "parking", "markets", "elderly_care", "other"]


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _group_rss_kb(pgid: int) -> int:
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += _rss_kb(int(entry.name))
    return total


class PeakRss:
    """Samples the server's total RSS every 50 ms while a block runs."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.before = _group_rss_kb(pgid)
        self.peak = self.before
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, _group_rss_kb(self.pgid))
            await asyncio.sleep(0.05)

    async def __aenter__(self) -> PeakRss:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, _group_rss_kb(self.pgid))

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.before) / 1024


async def _seed(ctx: Context) -> tuple[uuid.UUID, int]:
    conn = await ctx.pg()
    try:
        street = await conn.fetchrow("SELECT id FROM areas WHERE code = $1", STREET_CODE)
        assert street is not None, "the demo street is missing"
        communities = [
            r["id"]
            for r in await conn.fetch("SELECT id FROM areas WHERE parent_id = $1", street["id"])
        ]
        authors = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM users WHERE home_community_id = ANY($1::uuid[])", communities
            )
        ]
        staff = await conn.fetchval("SELECT id FROM users WHERE phone = $1", STREET_STAFF)
        existing = await conn.fetchval(
            "SELECT count(*) FROM proposals WHERE street_id = $1", street["id"]
        )
        rng = random.Random(7)
        base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        ids = [uuid.uuid4() for _ in range(ROWS)]

        def proposals() -> Iterator[tuple[Any, ...]]:
            for i, pid in enumerate(ids):
                when = base + dt.timedelta(seconds=i * 30)
                lat = 31.24 + rng.random() / 100 if i % 3 else None
                yield (
                    pid,
                    communities[i % len(communities)],
                    street["id"],
                    authors[i % len(authors)],
                    i % 9 == 0,
                    TITLES[i % len(TITLES)] + f" {i}",
                    BODIES[i % len(BODIES)],
                    CATEGORIES[i % len(CATEGORIES)],
                    "submitted" if i % 5 else "under_review",
                    lat,
                    121.41 + rng.random() / 100 if lat is not None else None,
                    rng.randrange(200),
                    when,
                    when,
                )

        started = time.perf_counter()
        # Bulk load as a restore would: the rows are valid by construction, so foreign-key
        # triggers are skipped, and the Chinese search index is built once at the end.
        search_index = await conn.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_proposals_search'"
        )
        await conn.execute("SET session_replication_role = replica")
        if search_index:
            await conn.execute("DROP INDEX ix_proposals_search")
        await harness.copy_proposals(
            conn,
            columns=[
                "id",
                "community_id",
                "street_id",
                "author_id",
                "anonymous",
                "title",
                "body",
                "category",
                "status",
                "lat",
                "lng",
                "support_count",
                "created_at",
                "updated_at",
            ],
            records=proposals(),
        )
        await conn.copy_records_to_table(
            "proposal_replies",
            columns=["id", "proposal_id", "author_id", "author_role", "body", "created_at"],
            records=(
                (
                    uuid.uuid4(),
                    pid,
                    staff,
                    "street",
                    "已收到，街道将安排现场查看。",
                    base + dt.timedelta(seconds=i * 30 + 3600),
                )
                for i, pid in enumerate(ids)
                if i % 10 == 0
            ),
        )
        await conn.copy_records_to_table(
            "proposal_transitions",
            columns=["proposal_id", "actor_id", "actor_role", "from_status", "to_status", "at"],
            records=(
                (
                    pid,
                    staff,
                    "street",
                    "submitted",
                    "under_review",
                    base + dt.timedelta(seconds=i * 30 + 7200),
                )
                for i, pid in enumerate(ids)
                if i % 5 == 0
            ),
        )
        await conn.execute("SET session_replication_role = origin")
        if search_index:
            # Later plugins (proposals) search these rows: without the index they measure a
            # sequential scan of the street.
            await conn.execute(search_index)
        await conn.execute(
            "ANALYZE proposals; ANALYZE proposal_replies; ANALYZE proposal_transitions"
        )
        ctx.note(
            f"seed {ROWS:,} suggestions via COPY",
            seconds=round(time.perf_counter() - started, 1),
            rows_per_s=round(ROWS / (time.perf_counter() - started)),
        )
        return street["id"], ROWS + int(existing)
    finally:
        await conn.close()


async def _copy_baseline(ctx: Context, street_id: uuid.UUID) -> tuple[float, int]:
    sql, args = repository.proposals_query(
        ProposalFilter(street_id=street_id), english=False, shape=Shape.csv_columns
    )
    size = 0

    async def sink(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)

    conn = await ctx.pg()
    try:
        started = time.perf_counter()
        status = await conn.copy_from_query(sql, *args, output=sink, format="csv")
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    rows = int(status.split()[-1])
    return rows / elapsed, size


async def _export(
    ctx: Context, street_id: uuid.UUID, fmt: str, token: str
) -> tuple[float, int, int, float, float]:
    assert ctx._runner.server.proc is not None
    pgid = ctx._runner.server.proc.pid
    size = 0
    async with (
        PeakRss(pgid) as rss,
        httpx.AsyncClient(base_url=ctx.base_url, timeout=600) as http,
    ):
        started = time.perf_counter()
        async with http.stream(
            "GET",
            "/api/v1/exports/proposals",
            params={"street_id": str(street_id), "format": fmt},
            headers=ctx.auth_headers(token),
        ) as response:
            response.raise_for_status()
            export_id = response.headers["x-export-id"]
            async for chunk in response.aiter_raw(1 << 16):
                size += len(chunk)
        elapsed = time.perf_counter() - started
    conn = await ctx.pg()
    try:
        for _ in range(50):  # the record is finished right after the last byte
            row = await conn.fetchrow(
                "SELECT row_count, status::text AS status FROM exports WHERE id = $1", export_id
            )
            if row is not None and row["status"] != "started":
                break
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    assert row is not None and row["status"] == "completed", row
    rows = int(row["row_count"])
    return rows / elapsed, rows, size, elapsed, rss.growth_mb


async def run(ctx: Context) -> None:
    street_id, expected = await _seed(ctx)
    await ctx.restart_server()
    token = await ctx.token(STREET_STAFF)

    copy_rate, copy_bytes = await _copy_baseline(ctx, street_id)
    ctx.note(
        "COPY (same query) TO STDOUT csv (baseline)",
        rows_per_s=round(copy_rate),
        mb=round(copy_bytes / 1e6, 1),
    )
    for fmt in ("csv", "xlsx"):
        rate, rows, size, elapsed, growth = await _export(ctx, street_id, fmt, token)
        assert rows == expected, (fmt, rows, expected)
        ctx.note(
            f"GET /api/v1/exports/proposals {fmt}",
            rows=rows,
            rows_per_s=round(rate),
            vs_copy=round(rate / copy_rate, 3),
            seconds=round(elapsed, 1),
            mb=round(size / 1e6, 1),
            server_rss_growth_mb=round(growth, 1),
        )
