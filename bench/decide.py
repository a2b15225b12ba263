"""Decision support: district stats, hot spots and the quarterly brief over 200k suggestions.

Seeds with COPY a district of 2 streets × 20 communities, 200,000 suggestions over the last
quarter (half with a place, half answered), 20,000 projects and 500 closed review meetings
whose tallies count 100,000 ratings (the stats read the tallies, as the satisfaction
summaries do; the rating rows themselves are not read and not seeded). Then, next to
GET /health: ``GET /areas/{district}/stats`` and ``GET /areas/{district}/hotspots`` at 32
clients (goal: p99 < 200 ms) and at 4 (no worker runs, so the first requests compute and the
rest read the decision cache), a cold request (a period not cached yet) alone and by 32
clients at once (computed once: the replies' ``computed_at`` are counted), and the quarter's
brief export (goal: < 5 s).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
import uuid

from bench import harness
from bench.harness import Context
from src.core.ids import new_id

STREETS = 2
COMMUNITIES_PER_STREET = 20
PROPOSALS = 200_000
PROJECTS = 20_000
MEETINGS = 500
RATINGS = 100_000
ADMIN_PHONE = "19800000001"
CATEGORIES = ("accessibility", "elderly_care", "parking", "greening", "safety", "childcare")
STATUSES = ("submitted", "under_review", "accepted", "rejected", "adopted", "done")


async def _seed(ctx: Context) -> dict[str, object]:
    rng = random.Random(18)
    conn = await ctx.pg()
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    try:
        known = {r["code"] for r in await conn.fetch("SELECT code FROM proposal_categories")}
        categories = [c for c in CATEGORIES if c in known] or sorted(known)[:6]
        district = new_id()
        areas = [(district, "BD-D", "决策区", "district", None, [district])]
        streets, communities = [], []
        for s in range(STREETS):
            sid = new_id()
            streets.append(sid)
            areas.append((sid, f"BD-S{s}", f"决策街道{s}", "street", district, [district, sid]))
            for c in range(COMMUNITIES_PER_STREET):
                cid = new_id()
                communities.append((cid, sid))
                areas.append(
                    (
                        cid,
                        f"BD-C{s}{c:02d}",
                        f"决策{s}-{c}村",
                        "community",
                        sid,
                        [district, sid, cid],
                    )
                )
        await conn.executemany(
            "INSERT INTO areas (id, code, name, level, parent_id, path, centroid_lat, "
            "centroid_lng) VALUES ($1, $2, $3, $4, $5, $6, 31.24, 121.41)",
            areas,
        )
        admin, author = new_id(), new_id()
        await conn.copy_records_to_table(
            "users",
            records=[
                (admin, ADMIN_PHONE, "区评测员", True, None),
                (author, "19800000002", "评测居民", True, communities[0][0]),
            ],
            columns=["id", "phone", "display_name", "verified", "home_community_id"],
        )
        await conn.execute(
            "INSERT INTO role_grants (id, user_id, role, area_id) VALUES ($1, $2, 'admin', $3)",
            new_id(),
            admin,
            district,
        )
        span = 90 * 24 * 3600
        proposals, replies = [], []
        for n in range(PROPOSALS):
            cid, sid = communities[n % len(communities)]
            created = now - dt.timedelta(seconds=rng.random() * span)
            located = rng.random() < 0.5
            pid = uuid.uuid4()
            proposals.append(
                (
                    pid,
                    cid,
                    sid,
                    author,
                    "评测建议",
                    "评测内容",
                    rng.choice(categories),
                    31.23 + rng.random() * 0.03 if located else None,
                    121.40 + rng.random() * 0.03 if located else None,
                    rng.choice(STATUSES),
                    rng.randint(0, 5),
                    created,
                    created,
                )
            )
            if rng.random() < 0.5:
                replies.append(
                    (
                        new_id(),
                        pid,
                        admin,
                        "street",
                        "已收到",
                        created + dt.timedelta(hours=rng.random() * 400),
                    )
                )
        projects = []
        for n in range(PROJECTS):
            cid, sid = communities[n % len(communities)]
            projects.append(
                (
                    new_id(),
                    cid,
                    sid,
                    "评测项目",
                    rng.choice(categories),
                    now.year,
                    rng.choice(("planned", "designing", "building", "done")),
                    (now + dt.timedelta(days=rng.randint(-200, 200))).date(),
                    admin,
                )
            )
        events, tallies = [], []
        per_meeting = RATINGS // MEETINGS
        for n in range(MEETINGS):
            cid, sid = communities[n % len(communities)]
            eid = new_id()
            starts = now - dt.timedelta(seconds=rng.random() * span)
            events.append(
                (
                    eid,
                    "review",
                    "closed",
                    cid,
                    sid,
                    "评议会",
                    starts,
                    starts + dt.timedelta(hours=2),
                    admin,
                )
            )
            left = per_meeting
            for score in (5, 4, 3, 2, 1):
                k = left if score == 1 else rng.randint(0, left)
                left -= k
                if k:
                    tallies.append((eid, "app", "overall", score, None, cid, sid, k))
        generated = time.perf_counter()
        await conn.execute("SET session_replication_role = replica")  # skip FK triggers
        await harness.copy_proposals(
            conn,
            records=proposals,
            columns=[
                "id",
                "community_id",
                "street_id",
                "author_id",
                "title",
                "body",
                "category",
                "lat",
                "lng",
                "status",
                "support_count",
                "created_at",
                "updated_at",
            ],
        )
        await conn.copy_records_to_table(
            "proposal_replies",
            records=replies,
            columns=["id", "proposal_id", "author_id", "author_role", "body", "created_at"],
        )
        await conn.copy_records_to_table(
            "projects",
            records=projects,
            columns=[
                "id",
                "community_id",
                "street_id",
                "title",
                "category",
                "year",
                "status",
                "planned_end",
                "created_by",
            ],
        )
        await conn.copy_records_to_table(
            "events",
            records=events,
            columns=[
                "id",
                "kind",
                "status",
                "community_id",
                "street_id",
                "title",
                "starts_at",
                "ends_at",
                "created_by",
            ],
        )
        await conn.copy_records_to_table(
            "rating_tallies",
            records=tallies,
            columns=[
                "event_id",
                "source",
                "criterion",
                "score",
                "project_id",
                "community_id",
                "street_id",
                "n",
            ],
        )
        await conn.execute("SET session_replication_role = origin")
        await conn.execute("ANALYZE")
        return {
            "proposals": len(proposals),
            "replies": len(replies),
            "projects": len(projects),
            "ratings": RATINGS,
            "generate_s": round(generated - started, 1),
            "copy_s": round(time.perf_counter() - generated, 1),
            "district": str(district),
        }
    finally:
        await conn.close()


async def run(ctx: Context) -> None:
    seeded = await _seed(ctx)
    ctx.note("seeded", **seeded)
    await ctx.restart_server()
    base = await ctx.baseline()
    ctx.record("GET /health (baseline)", base)
    headers = ctx.auth_headers(await ctx.token(ADMIN_PHONE))
    district = seeded["district"]
    for label, path in (
        ("stats", f"/api/v1/areas/{district}/stats"),
        ("hotspots", f"/api/v1/areas/{district}/hotspots"),
    ):
        for concurrency in (4, 32):
            result = await ctx.load(
                f"GET {label} district, c={concurrency}",
                "GET",
                path,
                headers=headers,
                concurrency=concurrency,
                duration_s=ctx.scaled(10),
            )
            ctx.record(f"GET {label} district, c={concurrency}", result, base)
    today = dt.date.today()
    stats = f"/api/v1/areas/{district}/stats"
    async with ctx.http(headers=headers) as client:
        t0 = time.perf_counter()
        alone = await client.get(stats, params={"from": str(today - dt.timedelta(days=30))})
        alone_s = time.perf_counter() - t0
        alone.raise_for_status()
        t0 = time.perf_counter()
        crowd = await asyncio.gather(
            *(
                client.get(stats, params={"from": str(today - dt.timedelta(days=60))})
                for _ in range(32)
            )
        )
        crowd_s = time.perf_counter() - t0
    ctx.note(
        "stats cold (a period not cached yet)",
        alone_s=round(alone_s, 2),
        crowd_of_32_s=round(crowd_s, 2),
        crowd_statuses=sorted({r.status_code for r in crowd}),
        computations=len({r.json()["computed_at"] for r in crowd if r.status_code == 200}),
    )
    quarter = f"{today.year}Q{(today.month - 1) // 3 + 1}"
    async with ctx.http(headers=headers) as client:
        timings = []
        for _ in range(3):
            t0 = time.perf_counter()
            reply = await client.get(
                "/api/v1/exports/briefs",
                params={"area_id": district, "quarter": quarter, "format": "xlsx"},
                timeout=120,
            )
            reply.raise_for_status()
            timings.append(time.perf_counter() - t0)
    ctx.note(
        "brief export (3 sequential)",
        seconds=[round(t, 2) for t in timings],
        bytes=len(reply.content),
        goal="< 5 s",
    )
