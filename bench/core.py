"""Baselines: GET /health, the principal lookup SQL on raw asyncpg, GET /api/v1/me.

- ``GET /health`` is the floor of the stack (routing, middleware, JSON), no database.
- ``principal SQL (asyncpg)`` runs the query every authenticated request makes, pgbench-style:
  prepared, on a few raw asyncpg connections, no HTTP. It is the database's ceiling for it.
- ``GET /api/v1/me`` is the cheapest authenticated endpoint: token check plus that query.
  Its ratio to /health is the cost of authentication and of the request's transaction.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time

import asyncpg

from bench.harness import Context
from bench.loadgen import Result, percentile
from src.core.auth import _PRINCIPAL_SQL

RESIDENT = "13800009999"  # a seeded demo user (src/demo.py)


def _claims(token: str) -> dict[str, str]:
    payload = token.split(".")[1]
    data: dict[str, str] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


async def principal_sql(
    ctx: Context, token: str, connections: int = 8, duration_s: float = 5.0
) -> Result:
    claims = _claims(token)
    sql = _PRINCIPAL_SQL  # the very statement the request runs
    latencies: list[float] = []
    deadline = time.perf_counter() + ctx.scaled(duration_s)

    async def worker(conn: asyncpg.Connection) -> None:
        statement = await conn.prepare(sql)
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            row = await statement.fetchrow(claims["sub"], claims["fam"])
            latencies.append((time.perf_counter() - sent) * 1000)
            assert row is not None

    conns = [await ctx.pg() for _ in range(connections)]
    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        for conn in conns:
            await conn.close()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(
        label="principal SQL (asyncpg)",
        rps=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
        count=len(latencies),
        errors=0,
        statuses={},
        duration_s=elapsed,
        concurrency=connections,
    )


async def run(ctx: Context) -> None:
    base = await ctx.baseline()
    ctx.record("GET /health (baseline)", base)
    token = await ctx.token(RESIDENT)
    ctx.record("principal SQL, 8 raw asyncpg conns (q/s)", await principal_sql(ctx, token), base)
    me = await ctx.load("GET /api/v1/me", "GET", "/api/v1/me", headers=ctx.auth_headers(token))
    ctx.record("GET /api/v1/me", me, base)
