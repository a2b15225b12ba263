"""Ratings: street ranking and project summary over 100k ratings, rating submissions/s.

Seeds with COPY a street of 10 communities, 500 finished projects each with a closed review
meeting, and 100,000 ratings (200 per meeting, from 2,500 residents), plus the tallies the
app keeps for them; closing the meetings rolls them up. Then measures next to GET /health:

- ``GET /api/v1/areas/{street}/satisfaction`` — the street's summary and the ranking of its
  500 projects (``min_ratings=100``, top 100), at light load (4 clients) and at 32;
- ``GET /api/v1/projects/{id}/satisfaction`` and ``GET /api/v1/events/{id}/ratings/summary``;
- ``POST /api/v1/events/{id}/ratings`` — 5,000 first ratings by distinct residents across
  20 open meetings (one request per resident and meeting, so every one must be a 201),
  sent by a lean keep-alive driver; the same driver measures GET /health for the ratio.
Goal (issue 5): summaries p99 under 50 ms.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import time
import uuid
from urllib.parse import urlsplit

import httpx

from bench.harness import Context
from bench.loadgen import Result, _read_response, _request_bytes, percentile
from src.core.ids import new_id

COMMUNITIES = 10
PROJECTS = 500
RATINGS_PER_PROJECT = 200
RESIDENTS_PER_COMMUNITY = 250
OPEN_MEETINGS_PER_COMMUNITY = 2
CRITERIA = ("overall", "design", "construction", "usefulness")
STAFF_PHONE = "19900000001"


def _phone(i: int) -> str:
    return f"199{10_000_000 + i:08d}"


async def _seed(ctx: Context) -> dict[str, object]:
    rng = random.Random(5)
    conn = await ctx.pg()
    started = time.perf_counter()
    try:
        district, street = new_id(), new_id()
        communities = [new_id() for _ in range(COMMUNITIES)]
        areas = [
            (district, "BR-D", "评测区", "district", None, [district]),
            (street, "BR-S", "评测街道", "street", district, [district, street]),
        ] + [
            (c, f"BR-C{i:02d}", f"评测{i}村", "community", street, [district, street, c])
            for i, c in enumerate(communities)
        ]
        await conn.executemany(
            "INSERT INTO areas (id, code, name, level, parent_id, path, centroid_lat, "
            "centroid_lng) VALUES ($1, $2, $3, $4, $5, $6, 31.24, 121.41)",
            areas,
        )
        staff = new_id()
        users = [(staff, STAFF_PHONE, "街道评测员", True, None)]
        residents: dict[uuid.UUID, list[uuid.UUID]] = {}
        phones: dict[uuid.UUID, list[str]] = {}
        for ci, c in enumerate(communities):
            for k in range(RESIDENTS_PER_COMMUNITY):
                uid, phone = new_id(), _phone(ci * RESIDENTS_PER_COMMUNITY + k)
                users.append((uid, phone, "评测居民", True, c))
                residents.setdefault(c, []).append(uid)
                phones.setdefault(c, []).append(phone)
        await conn.copy_records_to_table(
            "users",
            records=users,
            columns=["id", "phone", "display_name", "verified", "home_community_id"],
        )
        await conn.execute(
            "INSERT INTO role_grants (id, user_id, role, area_id) VALUES ($1, $2, 'street', $3)",
            new_id(),
            staff,
            street,
        )
        now = dt.datetime.now(dt.UTC)
        projects, events, ratings = [], [], []
        for i in range(PROJECTS):
            c = communities[i % COMMUNITIES]
            pid, eid = new_id(), new_id()
            projects.append((pid, c, street, f"项目{i:03d}", "public_space", 2026, "done", staff))
            events.append(
                (
                    eid,
                    "review",
                    "open",
                    c,
                    street,
                    pid,
                    f"评议会{i:03d}",
                    now - dt.timedelta(days=30),
                    now - dt.timedelta(days=30, hours=-2),
                    staff,
                )
            )
            quality = rng.uniform(2.0, 4.6)
            for uid in rng.sample(residents[c], RATINGS_PER_PROJECT):
                scores = {k: min(5, max(1, round(rng.gauss(quality, 1.0)))) for k in CRITERIA}
                ratings.append((new_id(), eid, pid, c, street, uid, json.dumps(scores)))
        open_meetings = []
        for c in communities:
            for k in range(OPEN_MEETINGS_PER_COMMUNITY):
                eid = new_id()
                events.append(
                    (
                        eid,
                        "review",
                        "open",
                        c,
                        street,
                        None,
                        f"进行中的评议会{k}",
                        now - dt.timedelta(hours=1),
                        now + dt.timedelta(hours=2),
                        staff,
                    )
                )
                open_meetings.append((eid, c))
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
                "project_id",
                "title",
                "starts_at",
                "ends_at",
                "created_by",
            ],
        )
        await conn.copy_records_to_table(
            "ratings",
            records=ratings,
            columns=[
                "id",
                "event_id",
                "project_id",
                "community_id",
                "street_id",
                "user_id",
                "scores",
            ],
        )
        # The tallies the app keeps in the same transaction as each rating.
        await conn.execute(
            """
            INSERT INTO rating_tallies
                (event_id, source, criterion, score, project_id, community_id, street_id, n)
            SELECT r.event_id, 'app', s.key, s.value::int, r.project_id, r.community_id,
                   r.street_id, count(*)
            FROM ratings r, jsonb_each_text(r.scores) s
            WHERE r.street_id = $1
            GROUP BY 1, 2, 3, 4, 5, 6, 7
            """,
            street,
        )
        # Closing the meetings: the trigger adds each one's tallies to the rollups, as a
        # close through the API does.
        await conn.execute(
            "UPDATE events SET status = 'closed', closed_at = now() "
            "WHERE street_id = $1 AND project_id IS NOT NULL",
            street,
        )
        await conn.execute("ANALYZE")
        tallies = await conn.fetchval("SELECT count(*) FROM rating_tallies")
    finally:
        await conn.close()
    ctx.note(
        "seed (COPY)",
        ratings=len(ratings),
        projects=PROJECTS,
        tally_rows=tallies,
        seconds=round(time.perf_counter() - started, 1),
    )
    return {
        "street": street,
        "project": projects[0][0],
        "event": events[0][0],
        "open_meetings": open_meetings,
        "phones": phones,
    }


async def _tokens(ctx: Context, phones: list[str]) -> list[str]:
    """Dev-login tokens, a few at a time (set-up, not measured; retried when the shared
    database is momentarily out of connections)."""

    async def one(http: httpx.AsyncClient, phone: str) -> str:
        for attempt in range(5):
            reply = await http.post("/api/v1/auth/dev-login", json={"phone": phone})
            if reply.status_code == 200:
                token: str = reply.json()["access_token"]
                return token
            await asyncio.sleep(0.2 * (attempt + 1))
        reply.raise_for_status()
        raise RuntimeError(f"dev-login failed: {reply.status_code}")

    out: list[str] = []
    async with ctx.http() as http:
        for start in range(0, len(phones), 8):
            out += await asyncio.gather(*(one(http, p) for p in phones[start : start + 8]))
    return out


async def _drive(
    ctx: Context,
    label: str,
    requests: list[tuple[str, str, dict[str, str], bytes | None]],
    concurrency: int,
) -> Result:
    """Send each prepared request once, over ``concurrency`` keep-alive connections."""
    url = urlsplit(ctx.base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    raw = [
        _request_bytes(m, f"{host}:{port}", p, {"Accept": "application/json", **h}, b)
        for m, p, h, b in requests
    ]
    queue = list(reversed(raw))
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while queue:
                payload = queue.pop()
                sent = time.perf_counter()
                writer.write(payload)
                try:
                    status, _ = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError):
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                latencies.append((time.perf_counter() - sent) * 1000)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(
        label=label,
        rps=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
        count=len(latencies),
        errors=errors,
        statuses=statuses,
        duration_s=elapsed,
        concurrency=concurrency,
        mean_ms=sum(latencies) / len(latencies) if latencies else 0.0,
        max_ms=latencies[-1] if latencies else 0.0,
    )


async def run(ctx: Context) -> None:
    seeded = await _seed(ctx)
    await ctx.restart_server()
    base = await ctx.baseline()
    ctx.record("GET /health (baseline)", base)
    staff = ctx.auth_headers(await ctx.token(STAFF_PHONE))

    # The cheapest authenticated endpoint (token check, principal query, transaction): what
    # every summary pays before its own work, on this machine at this moment.
    for concurrency in (4, 32):
        result = await ctx.load(
            f"GET /api/v1/me, c={concurrency}",
            "GET",
            "/api/v1/me",
            headers=staff,
            concurrency=concurrency,
        )
        ctx.record(result.label, result, base)
    street_path = f"/api/v1/areas/{seeded['street']}/satisfaction?min_ratings=100&limit=100"
    async with ctx.http() as http:
        check = (await http.get(street_path, headers=staff)).json()
    assert check["count"] == PROJECTS * RATINGS_PER_PROJECT, check.get("count")
    assert len(check["ranking"]) == 100
    for concurrency in (4, 32):
        result = await ctx.load(
            f"street satisfaction + ranking, c={concurrency}",
            "GET",
            street_path,
            headers=staff,
            concurrency=concurrency,
        )
        ctx.record(result.label, result, base)
    project_path = f"/api/v1/projects/{seeded['project']}/satisfaction"
    for concurrency in (4, 32):
        result = await ctx.load(
            f"project satisfaction, c={concurrency}",
            "GET",
            project_path,
            headers=staff,
            concurrency=concurrency,
        )
        ctx.record(result.label, result, base)
    result = await ctx.load(
        "meeting summary, c=32",
        "GET",
        f"/api/v1/events/{seeded['event']}/ratings/summary",
        headers=staff,
        concurrency=32,
    )
    ctx.record(result.label, result, base)

    # Submissions: every resident rates both open meetings of their community, once.
    phones: dict[uuid.UUID, list[str]] = seeded["phones"]  # type: ignore[assignment]
    opened: list[tuple[uuid.UUID, uuid.UUID]] = seeded["open_meetings"]  # type: ignore[assignment]
    tokens = {c: await _tokens(ctx, p) for c, p in phones.items()}
    rng = random.Random(7)
    posts: list[tuple[str, str, dict[str, str], bytes | None]] = []
    for event_id, community in opened:
        for token in tokens[community]:
            body = json.dumps({"scores": {k: rng.randint(1, 5) for k in CRITERIA}}).encode()
            posts.append(
                (
                    "POST",
                    f"/api/v1/events/{event_id}/ratings",
                    {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                    body,
                )
            )
    rng.shuffle(posts)
    health = [("GET", "/health", {}, None)] * len(posts)
    same_driver = await _drive(ctx, "GET /health (same driver)", health, 32)
    ctx.record(same_driver.label, same_driver, base)
    submitted = await _drive(ctx, "POST rating (5,000 residents)", posts, 32)
    ctx.record(submitted.label, submitted, same_driver)
    conn = await ctx.pg()
    try:
        stored = await conn.fetchval(
            "SELECT count(*) FROM ratings WHERE event_id = ANY($1::uuid[])",
            [e for e, _ in opened],
        )
        tallied = await conn.fetchval(
            "SELECT coalesce(sum(n), 0) FROM rating_tallies "
            "WHERE event_id = ANY($1::uuid[]) AND criterion = 'overall'",
            [e for e, _ in opened],
        )
    finally:
        await conn.close()
    ctx.note(
        "submissions check",
        sent=len(posts),
        created=submitted.statuses.get("201", 0),
        rows=stored,
        tallied=tallied,
    )
    assert stored == tallied == submitted.statuses.get("201", 0) == len(posts), submitted.statuses
