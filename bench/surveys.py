"""Needs surveys: a street survey with 20,000 responses — results at 32 clients, paper import
rows/s, export vs COPY.

- Builds a street survey of 曹杨新村街道 (demo) over HTTP with every kind of question, opens it.
- Seeds ``BENCH_SURVEY_ONLINE`` online responses (default 10,000) of as many new residents
  through COPY, with their tallies computed by the survey's own rules (src/surveys/rules.py).
- Imports ``BENCH_SURVEY_PAPER`` paper questionnaires (default 10,000) from a CSV file with
  ``lifecircle surveys import-paper`` (a real subprocess): rows/s as the command reports it
  (its own work) and over the whole wall time (Python start-up included).
- ``GET /api/v1/surveys/{id}/results`` at 32 connections for 10 s, next to GET /health.
- ``GET /api/v1/exports/surveys/{id}?format=csv|xlsx`` read by one client, rows/s over the
  wall time, next to ``COPY (same query) TO STDOUT`` on raw asyncpg (the baseline).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import os
import random
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Context
from src.exports.repository import Shape
from src.models.survey import Channel
from src.surveys import export, repository
from src.surveys.rules import answer_items, merge, tally_items

ROOT = Path(__file__).resolve().parent.parent
STREET_CODE = "310107012"
STREET_STAFF = "13900000011"
ONLINE = int(os.environ.get("BENCH_SURVEY_ONLINE", "10000"))
PAPER = int(os.environ.get("BENCH_SURVEY_PAPER", "10000"))

OPTIONS = {
    "need": ["elder", "kids", "sport", "culture", "market"],
    "also": ["meal", "clinic", "park", "market", "lift", "light"],
    "order": ["lift", "parking", "green", "canteen"],
}
IDEAS = ["加装电梯很急", "希望多些绿化", "停车难，消防通道被占", "楼道灯坏了", "长者食堂送餐"]


def _questions() -> list[dict[str, Any]]:
    def opts(key: str) -> list[dict[str, str]]:
        return [{"key": k, "label": f"选项{k}"} for k in OPTIONS[key]]

    return [
        {
            "key": "need",
            "kind": "single",
            "title": "最希望增加的设施",
            "required": True,
            "options": opts("need"),
        },
        {
            "key": "also",
            "kind": "multiple",
            "title": "还需要的服务",
            "options": opts("also"),
            "max_choices": 3,
        },
        {
            "key": "satisfied",
            "kind": "scale",
            "title": "满意度",
            "required": True,
            "scale": {"min": 1, "max": 5},
        },
        {"key": "order", "kind": "ranking", "title": "排序", "options": opts("order")},
        {"key": "idea", "kind": "text", "title": "建议"},
        {"key": "where", "kind": "location", "title": "地点"},
    ]


def _answers(rng: random.Random) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "need": rng.choice(OPTIONS["need"]),
        "satisfied": rng.randint(1, 5),
    }
    if rng.random() < 0.8:
        answers["also"] = rng.sample(OPTIONS["also"], rng.randint(1, 3))
    if rng.random() < 0.7:
        answers["order"] = rng.sample(OPTIONS["order"], rng.randint(1, 4))
    if rng.random() < 0.3:
        answers["idea"] = rng.choice(IDEAS)
    if rng.random() < 0.05:
        answers["where"] = {
            "lat": round(31.24 + rng.random() / 100, 6),
            "lng": round(121.41 + rng.random() / 100, 6),
        }
    return answers


async def _create_survey(ctx: Context, token: str, street_id: uuid.UUID) -> str:
    now = dt.datetime.now(dt.UTC)
    async with ctx.http() as http:
        created = await http.post(
            "/api/v1/surveys",
            json={
                "title": "基准测试问卷",
                "area_id": str(street_id),
                "year": 2026,
                "opens_at": (now - dt.timedelta(hours=1)).isoformat(),
                "closes_at": (now + dt.timedelta(days=30)).isoformat(),
                "questions": _questions(),
            },
            headers=ctx.auth_headers(token),
        )
        assert created.status_code == 201, created.text
        sid: str = created.json()["id"]
        opened = await http.post(f"/api/v1/surveys/{sid}/open", headers=ctx.auth_headers(token))
        assert opened.status_code == 200, opened.text
    return sid


async def _seed_online(ctx: Context, survey_id: uuid.UUID, street_id: uuid.UUID) -> None:
    conn = await ctx.pg()
    try:
        communities = [
            r["id"]
            for r in await conn.fetch("SELECT id FROM areas WHERE parent_id = $1", street_id)
        ]
        survey = await repository.load(conn, survey_id)
        assert survey is not None
        rng = random.Random(20000)
        started = time.perf_counter()
        users = [
            (uuid.uuid4(), f"基准居民{i}", True, communities[i % len(communities)])
            for i in range(ONLINE)
        ]
        await conn.copy_records_to_table(
            "users",
            columns=["id", "display_name", "verified", "home_community_id"],
            records=users,
        )
        now = dt.datetime.now(dt.UTC)
        answers = [_answers(rng) for _ in users]
        ids = [uuid.uuid4() for _ in users]
        await conn.copy_records_to_table(
            "survey_responses",
            columns=[
                "id",
                "survey_id",
                "channel",
                "user_id",
                "community_id",
                "answers",
                "revision",
                "created_at",
                "updated_at",
            ],
            records=[
                (
                    rid,
                    survey_id,
                    "online",
                    u[0],
                    u[3],
                    json.dumps(a, ensure_ascii=False),
                    1,
                    now,
                    now,
                )
                for rid, u, a in zip(ids, users, answers, strict=True)
            ],
        )
        await repository.add_items(
            conn,
            survey_id,
            Channel.online,
            [
                (rid, *item)
                for rid, a in zip(ids, answers, strict=True)
                for item in answer_items(survey.questions, a)
            ],
        )
        await repository.add_tallies(
            conn,
            survey_id,
            Channel.online,
            merge(*((1, tally_items(survey.questions, a)) for a in answers)),
        )
        await conn.execute(
            "ANALYZE users; ANALYZE survey_responses; ANALYZE survey_tallies;"
            " ANALYZE survey_answer_items"
        )
        ctx.note(
            f"seed {ONLINE:,} online responses via COPY",
            seconds=round(time.perf_counter() - started, 1),
        )
    finally:
        await conn.close()


def _paper_csv(path: Path) -> None:
    rng = random.Random(10000)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["sheet_no", "community", "need", "also", "satisfied", "order", "idea", "where"]
        )
        for i in range(PAPER):
            a = _answers(rng)
            where = a.get("where")
            writer.writerow(
                [
                    f"P{i:06d}",
                    "",
                    a["need"],
                    "|".join(a.get("also", [])),
                    a["satisfied"],
                    ">".join(a.get("order", [])),
                    a.get("idea", ""),
                    f"{where['lat']},{where['lng']}" if where else "",
                ]
            )


async def _import_paper(ctx: Context, survey_id: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "paper.csv"
        _paper_csv(path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECIRCLE_")}
        env.update({"LIFECIRCLE_DATABASE_URL": ctx.database_url, "LIFECIRCLE_ENV": "test"})
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "src.cli",
            "surveys",
            "import-paper",
            str(path),
            "--survey",
            survey_id,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        wall = time.perf_counter() - started
    assert proc.returncode == 0, (out.decode()[-2000:], err.decode()[-2000:])
    found = re.search(r"(\d+) sheets in ([\d.]+) s", out.decode())
    assert found, out.decode()
    sheets, own = int(found.group(1)), float(found.group(2))
    assert sheets == PAPER, sheets
    ctx.note(
        f"lifecircle surveys import-paper ({PAPER:,} rows)",
        rows_per_s=round(sheets / own),
        rows_per_s_wall=round(sheets / wall),
        seconds=round(own, 2),
        wall_s=round(wall, 2),
    )


async def _raw_results_sql(ctx: Context, survey_id: uuid.UUID) -> tuple[float, float, float]:
    """The results' own SQL (the survey row, then tallies and first pages in one statement)
    on raw asyncpg: 32 tasks sharing a pool of 10 (one API worker's) for 10 s.
    Returns req/s, p50 ms, p99 ms."""
    import asyncpg

    from src.surveys.repository import _RESULTS, _SURVEY

    pool = await asyncpg.create_pool(ctx.database_url, min_size=1, max_size=10)
    latencies: list[float] = []
    duration = ctx.scaled(10)
    try:
        stop = time.perf_counter() + duration

        async def worker() -> None:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                async with pool.acquire() as conn:
                    await conn.fetchrow(_SURVEY, survey_id)
                    await conn.fetchrow(_RESULTS, survey_id, ["idea", "where"], 21)
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(worker() for _ in range(32)))
    finally:
        await pool.close()
    latencies.sort()
    return (
        len(latencies) / duration,
        latencies[len(latencies) // 2],
        latencies[int(len(latencies) * 0.99)],
    )


async def _copy_baseline(ctx: Context, survey_id: uuid.UUID) -> float:
    conn = await ctx.pg()
    try:
        survey = await repository.load(conn, survey_id)
        assert survey is not None
        sql, args, _ = export.survey_query(survey, english=False, shape=Shape.csv_columns)

        async def sink(chunk: bytes) -> None:
            pass

        started = time.perf_counter()
        status = await conn.copy_from_query(sql, *args, output=sink, format="csv")
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    return int(status.split()[-1]) / elapsed


async def _export(ctx: Context, survey_id: str, fmt: str, token: str) -> tuple[int, float]:
    async with httpx.AsyncClient(base_url=ctx.base_url, timeout=600) as http:
        started = time.perf_counter()
        async with http.stream(
            "GET",
            f"/api/v1/exports/surveys/{survey_id}",
            params={"format": fmt},
            headers=ctx.auth_headers(token),
        ) as response:
            response.raise_for_status()
            export_id = response.headers["x-export-id"]
            async for _ in response.aiter_raw(1 << 16):
                pass
        elapsed = time.perf_counter() - started
    conn = await ctx.pg()
    try:
        for _ in range(50):
            row = await conn.fetchrow(
                "SELECT row_count, status::text AS status FROM exports WHERE id = $1", export_id
            )
            if row is not None and row["status"] != "started":
                break
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    assert row is not None and row["status"] == "completed", row
    return int(row["row_count"]), elapsed


async def run(ctx: Context) -> None:
    token = await ctx.token(STREET_STAFF)
    conn = await ctx.pg()
    try:
        street_id = await conn.fetchval("SELECT id FROM areas WHERE code = $1", STREET_CODE)
    finally:
        await conn.close()
    assert street_id is not None, "the demo street is missing"
    sid = await _create_survey(ctx, token, street_id)
    await _seed_online(ctx, uuid.UUID(sid), street_id)
    await _import_paper(ctx, sid)
    await ctx.restart_server()
    token = await ctx.token(STREET_STAFF)

    async with ctx.http() as http:
        check = (
            await http.get(f"/api/v1/surveys/{sid}/results", headers=ctx.auth_headers(token))
        ).json()
    assert (check["online"], check["paper"]) == (ONLINE, PAPER), check
    base = await ctx.baseline()
    path = f"/api/v1/surveys/{sid}/results"
    result = await ctx.load(
        "GET /api/v1/surveys/{id}/results",
        "GET",
        path,
        headers=ctx.auth_headers(token),
        concurrency=32,
        duration_s=10,
    )
    ctx.record(f"GET results ({ONLINE + PAPER:,} responses, 32 conns)", result, base)
    me = await ctx.load(
        "GET /api/v1/me",
        "GET",
        "/api/v1/me",
        headers=ctx.auth_headers(token),
        concurrency=32,
        duration_s=10,
    )
    ctx.record("GET /api/v1/me (auth + one query, reference)", me, base)
    rps, p50, p99 = await _raw_results_sql(ctx, uuid.UUID(sid))
    ctx.note(
        "results SQL on raw asyncpg, 32 tasks (baseline)",
        req_per_s=round(rps),
        p50_ms=round(p50, 1),
        p99_ms=round(p99, 1),
        api_vs_sql=round(result.rps / rps, 3),
    )

    copy_rate = await _copy_baseline(ctx, uuid.UUID(sid))
    ctx.note("COPY (same query) TO STDOUT csv (baseline)", rows_per_s=round(copy_rate))
    for fmt in ("csv", "xlsx"):
        rows, elapsed = await _export(ctx, sid, fmt, token)
        assert rows == ONLINE + PAPER, rows
        ctx.note(
            f"GET /api/v1/exports/surveys/{{id}} {fmt}",
            rows=rows,
            rows_per_s=round(rows / elapsed),
            vs_copy=round(rows / elapsed / copy_rate, 3),
            seconds=round(elapsed, 2),
        )
