"""Project lists (overdue first) over a street with 20,000 projects, detail, progress posts.

Seeds 20,000 projects over the four communities of 曹杨新村街道 with COPY (years 2018–2026,
every status, about one in eight overdue), then measures, each as a ratio to GET /health:

- the street staff's list (overdue first, then newest year), first page and a later page;
- the overdue-only list; a resident's community list (newest year first);
- one project's detail (suggestions, 20 progress updates);
- progress updates on ONE project from 16 concurrent clients: every post takes the
  project's row lock, so this is the hot-row figure (all are accepted: same percentage).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import uuid

from bench.harness import Context
from src.core.ids import new_id

STREET_CODE = "310107012"
STREET_STAFF = "13900000011"
COMMITTEE = "13900002101"  # 曹杨一村
RESIDENT = "13820101000"  # 曹杨一村
PROJECTS = 20_000
STATUSES = ["planned", "designing", "building", "done", "cancelled"]
PAST_STATUSES = ["done"] * 12 + ["cancelled", "building"]


async def seed(ctx: Context) -> tuple[str, str, str]:
    conn = await ctx.pg()
    try:
        street_id = await conn.fetchval("SELECT id FROM areas WHERE code = $1", STREET_CODE)
        communities = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM areas WHERE parent_id = $1 ORDER BY code", street_id
            )
        ]
        author = await conn.fetchval("SELECT id FROM users WHERE phone = $1", STREET_STAFF)
        today = dt.date.today()
        rng = random.Random(15)
        records = []
        for n in range(PROJECTS):
            year = 2018 + n % 9
            # Past years are mostly finished; the current ones are spread over every status.
            past = year < today.year - 1
            status = rng.choice(PAST_STATUSES) if past else STATUSES[rng.randrange(5)]
            start = dt.date(year, 1 + rng.randrange(12), 1)
            end = start + dt.timedelta(days=60 + rng.randrange(400))
            done = status == "done"
            begun = min(start, today - dt.timedelta(days=30))
            records.append(
                (
                    new_id(),
                    communities[n % len(communities)],
                    street_id,
                    f"项目{n}",
                    "",
                    "public_space",
                    year,
                    status,
                    "区级财政",
                    "街道管理办",
                    start,
                    end,
                    begun if status in ("building", "done") else None,
                    max(begun, min(end, today)) if done else None,
                    100 if done else rng.randrange(0, 90),
                    author,
                )
            )
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "projects",
            records=records,
            columns=[
                "id",
                "community_id",
                "street_id",
                "title",
                "description",
                "category",
                "year",
                "status",
                "budget_source",
                "responsible_unit",
                "planned_start",
                "planned_end",
                "actual_start",
                "actual_end",
                "progress_percent",
                "created_by",
            ],
        )
        target = records[0][0]
        await conn.executemany(
            "INSERT INTO project_progress (id, project_id, seq, text, percent, author_id, "
            "author_role) VALUES ($1, $2, $3, $4, $5, $6, 'street')",
            [(new_id(), target, s, f"第{s}次进度", 0, author) for s in range(1, 21)],
        )
        # The detail target is open, so its progress can be posted to as well.
        await conn.execute(
            "UPDATE projects SET status = 'building', progress_percent = 0, actual_end = NULL "
            "WHERE id = $1",
            target,
        )
        await conn.execute("ANALYZE projects; ANALYZE project_progress")
        overdue = await conn.fetchval(
            "SELECT count(*) FROM projects WHERE street_id = $1 AND planned_end < $2 "
            "AND status IN ('planned', 'designing', 'building')",
            street_id,
            today,
        )
        ctx.note(
            "seed 20,000 projects (COPY)",
            seconds=round(time.perf_counter() - started, 2),
            overdue=overdue,
        )
        return str(street_id), str(communities[0]), str(target)
    finally:
        await conn.close()


async def run(ctx: Context) -> None:
    street_id, community_id, project_id = await seed(ctx)
    await ctx.restart_server()
    base = await ctx.baseline()
    staff = ctx.auth_headers(await ctx.token(STREET_STAFF))
    resident = ctx.auth_headers(await ctx.token(RESIDENT))
    committee = ctx.auth_headers(await ctx.token(COMMITTEE))

    street = f"/api/v1/projects?street_id={street_id}"
    async with ctx.http() as http:
        page = (await http.get(f"{street}&limit=100", headers=staff)).json()
        for _ in range(20):  # a page deep in the list (past the overdue ones)
            page = (
                await http.get(f"{street}&limit=100&cursor={page['next_cursor']}", headers=staff)
            ).json()
        deep_cursor = page["next_cursor"]
        assert deep_cursor, "the seeded street has more than 2,100 projects"

    cases = [
        ("GET street list, overdue first (staff)", f"{street}", staff),
        ("GET street list, page 22 (staff, cursor)", f"{street}&cursor={deep_cursor}", staff),
        ("GET street list, overdue=true (staff)", f"{street}&overdue=true", staff),
        (
            "GET community list (resident)",
            f"/api/v1/projects?community_id={community_id}",
            resident,
        ),
        ("GET project detail, 20 updates (resident)", f"/api/v1/projects/{project_id}", resident),
    ]
    for label, path, headers in cases:
        result = await ctx.load(label, "GET", path, headers=headers, concurrency=32, duration_s=8)
        ctx.record(label, result, base)

    body = json.dumps({"text": "施工中", "percent": 50}).encode()
    posts = await ctx.load(
        "POST progress, one project, 16 clients",
        "POST",
        f"/api/v1/projects/{project_id}/progress",
        headers={**committee, "Content-Type": "application/json"},
        body=body,
        concurrency=16,
        duration_s=6,
    )
    ctx.record("POST progress, one hot project (row lock)", posts, base)
    conn = await ctx.pg()
    try:
        seqs = await conn.fetchrow(
            "SELECT count(*) AS n, max(seq) AS top FROM project_progress WHERE project_id = $1",
            uuid.UUID(project_id),
        )
    finally:
        await conn.close()
    # Numbered without gaps or repeats under contention.
    ctx.note("progress rows after the load", rows=seqs["n"], max_seq=seqs["top"])
