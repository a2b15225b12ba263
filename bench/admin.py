"""Administration: residents list of a 20,000-resident community, staff list and grants, CSV import.

- Residents pages are keyset pages plus a summary count over the whole area: the first page
  and a page deep in the list should cost the same; the street-wide list adds a subquery.
- A repeated grant is the idempotent write path (ON CONFLICT DO NOTHING, then one read).
- ``lifecircle areas import`` of 2,000 communities, first run and re-run, against a raw
  asyncpg ``executemany`` insert of the same rows (rolled back): the price of per-row
  validation, savepoints and audit rows.
"""

from __future__ import annotations

import asyncio
import csv
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.harness import Context
from src.core.ids import new_id
from src.core.pagination import encode_cursor

RESIDENTS = 20_000
IMPORT_ROWS = 2_000
COMMUNITY = "310107012001"  # 曹杨一村 (src/demo.py)
STREET = "310107012"
DISTRICT = "310107"
COMMITTEE = "13900002101"
ADMIN = "13900000001"
ROOT = Path(__file__).resolve().parent.parent


async def seed(ctx: Context) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    conn = await ctx.pg()
    try:
        community = await conn.fetchval("SELECT id FROM areas WHERE code = $1", COMMUNITY)
        street = await conn.fetchval("SELECT id FROM areas WHERE code = $1", STREET)
        ids = [new_id() for _ in range(RESIDENTS)]
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "users",
            records=[
                (uid, f"135{i:08d}", f"居民{i}", i % 3 != 0, community) for i, uid in enumerate(ids)
            ],
            columns=["id", "phone", "display_name", "verified", "home_community_id"],
        )
        await conn.execute("ANALYZE users")
        ctx.note("seed residents (COPY)", rows=RESIDENTS, seconds=time.perf_counter() - started)
    finally:
        await conn.close()
    return community, street, sorted(ids)[RESIDENTS // 2]


def write_import_file(path: Path) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["code", "name", "level", "parent_code", "lat", "lng"])
        writer.writerow(["BENCH-S", "压测街道", "street", DISTRICT, "31.25", "121.40"])
        for i in range(IMPORT_ROWS):
            writer.writerow(
                [f"BENCH-C{i:05d}", f"压测{i}村", "community", "BENCH-S", "31.25", "121.40"]
            )


async def run_cli(ctx: Context, path: Path) -> float:
    env = {**os.environ, "LIFECIRCLE_DATABASE_URL": ctx.database_url, "LIFECIRCLE_ENV": "test"}
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "src.cli", "areas", "import", str(path),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"areas import failed: {err.decode()[-500:]}")
    return time.perf_counter() - started


async def raw_insert_seconds(ctx: Context) -> float:
    """The same rows by one executemany, in a transaction rolled back afterwards."""
    conn = await ctx.pg()
    try:
        district = await conn.fetchval("SELECT id FROM areas WHERE code = $1", DISTRICT)
        street = new_id()
        rows = [
            (new_id(), f"RAW-C{i:05d}", f"压测{i}村", street, [district, street])
            for i in range(IMPORT_ROWS)
        ]
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO areas (id, code, name, level, parent_id, path, centroid_lat,"
                " centroid_lng) VALUES ($1, 'RAW-S', 'raw', 'street', $2, $3, 31.25, 121.4)",
                street, district, [district, street],
            )  # fmt: skip
            await conn.executemany(
                "INSERT INTO areas (id, code, name, level, parent_id, path, centroid_lat,"
                " centroid_lng) VALUES ($1, $2, $3, 'community', $4, $5, 31.25, 121.4)",
                [(r[0], r[1], r[2], r[3], r[4] + [r[0]]) for r in rows],
            )
            elapsed = time.perf_counter() - started
            raise _Rollback
    except _Rollback:
        return elapsed
    finally:
        await conn.close()


class _Rollback(Exception):
    pass


async def run(ctx: Context) -> None:
    community, street, middle_id = await seed(ctx)
    await ctx.restart_server()
    base = await ctx.baseline()
    ctx.record("GET /health (baseline)", base)
    committee = ctx.auth_headers(await ctx.token(COMMITTEE))
    admin = ctx.auth_headers(await ctx.token(ADMIN))
    me = await ctx.load("GET /api/v1/me", "GET", "/api/v1/me", headers=committee)
    ctx.record("GET /api/v1/me (auth floor)", me, base)

    residents = f"/api/v1/areas/{community}/residents"
    first = await ctx.load("residents p1", "GET", f"{residents}?limit=20", headers=committee)
    ctx.record(f"GET residents, first page ({RESIDENTS} residents)", first, base)
    cursor = encode_cursor([str(middle_id)])
    deep = await ctx.load(
        "residents deep", "GET", f"{residents}?limit=20&cursor={cursor}", headers=committee
    )
    ctx.record("GET residents, page at row 10,000", deep, base)
    whole = await ctx.load(
        "street residents", "GET", f"/api/v1/areas/{street}/residents?limit=20", headers=admin
    )
    ctx.record("GET residents of the street (subquery)", whole, base)
    staff = await ctx.load("staff", "GET", f"/api/v1/areas/{street}/staff", headers=admin)
    ctx.record("GET staff of the street", staff, base)
    body = f'{{"user_id": "{middle_id}", "role": "committee"}}'.encode()
    grant = await ctx.load(
        "grant again",
        "POST",
        f"/api/v1/areas/{community}/staff",
        headers={**admin, "Content-Type": "application/json"},
        body=body,
    )
    ctx.record("POST staff grant (already held → 200)", grant, base)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "areas.csv"
        write_import_file(path)
        raw = await raw_insert_seconds(ctx)
        first_run = await run_cli(ctx, path)
        rerun = await run_cli(ctx, path)
    rows = IMPORT_ROWS + 1
    ctx.note(
        f"areas import, {rows} rows (CLI, incl. start-up)",
        seconds=round(first_run, 2),
        rows_per_s=round(rows / first_run),
        vs_raw_insert=round(raw / first_run, 4),
    )
    ctx.note(
        "areas import re-run (all unchanged)",
        seconds=round(rerun, 2),
        rows_per_s=round(rows / rerun),
        vs_first_run=round(first_run / rerun, 2),
    )
    ctx.note("raw executemany insert (baseline)", seconds=round(raw, 3), rows=IMPORT_ROWS)
