"""Scale-out: GET /api/v1/me and double-tapped ballots with 1, 2 and 4 API workers.

For each worker count the API is restarted with ``--workers N`` and measured against the
same run's GET /health *at that worker count* (32 connections):

- ``GET /api/v1/me`` at 32 connections: the cheapest authenticated request;
- ``POST ballots``: ``VOTERS`` residents each send their ballot twice with one
  Idempotency-Key (a double tap that is also a retry) over 64 connections, no watchers, on
  a fresh meeting, after a warm-up meeting of 500 voters (recorded, not in the curve);
  ballots/s counts new ballots only.

The curve (req/s, ratio to /health, p50/p99, CPU of the API and of PostgreSQL per request)
is printed at the end. On a 2-core host the API and PostgreSQL share the cores, so past two
workers the curve shows contention, not capacity: it is the shape that matters.
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench import events
from bench.harness import Context
from bench.loadgen import Result

SERVER_ENV = events.SERVER_ENV  # ballots carry tokens minted with the bench secret
WORKER_COUNTS = [int(w) for w in os.environ.get("BENCH_SCALEOUT_WORKERS", "1,2,4").split(",")]
VOTERS = int(os.environ.get("BENCH_SCALEOUT_VOTERS", "2000"))
WARM_VOTERS = 500
LOAD_S = 5.0
RESIDENT = "13800009999"  # a seeded demo user (src/demo.py)


def _cpu_ms(result: Result, cpu_s: float | None, per: float) -> float | None:
    """CPU milliseconds per unit (request or ballot) over the measured window."""
    return round(cpu_s / per * 1000, 2) if cpu_s is not None and per else None


def _figures(result: Result, base: Result, units: int) -> dict[str, Any]:
    return {
        "rps": round(result.rps, 1),
        "ratio": round(result.rps / base.rps, 3) if base.rps else None,
        "p50_ms": round(result.p50_ms, 1),
        "p99_ms": round(result.p99_ms, 1),
        "api_cpu_ms": _cpu_ms(result, result.server_cpu_s, units),
        "pg_cpu_ms": _cpu_ms(result, result.pg_cpu_s, units),
    }


async def run(ctx: Context) -> None:
    started = time.monotonic()
    _, tokens = await events.seed_voters(ctx, VOTERS, phone_prefix="187")
    ctx.note("seeded voters (COPY)", voters=VOTERS, seconds=round(time.monotonic() - started, 1))
    curve: list[dict[str, Any]] = []
    for workers in WORKER_COUNTS:
        await ctx.restart_server(workers=workers)
        base = await ctx.load(f"w={workers} GET /health", "GET", "/health", duration_s=LOAD_S)
        ctx.record(base.label, base, workers=workers)
        token = await ctx.token(RESIDENT)
        me = await ctx.load(
            f"w={workers} GET /api/v1/me",
            "GET",
            "/api/v1/me",
            headers=ctx.auth_headers(token),
            duration_s=LOAD_S,
        )
        ctx.record(me.label, me, base, workers=workers)
        # A worker's first ballots pay once for what later ones find ready (its lanes'
        # backends loading their catalogs, a first wave of 64 at once: round 0 of a
        # repeated run is 10 % below the rounds after it). A hall votes on a server that has
        # been up for hours: a short meeting first, recorded but not in the curve.
        warm_id, warm_options, _ = await events.open_meeting(ctx, f"预热 w={workers}（压测）")
        warm_requests = events.ballot_requests(
            ctx.base_url, warm_id, warm_options, tokens[:WARM_VOTERS], seed=50 + workers
        )
        warm, _ = await events.run_ballots(
            ctx, f"w={workers} POST ballots, warm-up ({WARM_VOTERS} × 2)", warm_requests
        )
        ctx.record(warm.label, warm, base, workers=workers, ballots_per_s=round(warm.rps, 1))
        eid, options, committee = await events.open_meeting(ctx, f"扩容投票 w={workers}（压测）")
        requests = events.ballot_requests(ctx.base_url, eid, options, tokens, seed=10 + workers)
        ballots, done_at = await events.run_ballots(
            ctx, f"w={workers} POST ballots ({VOTERS:,} × 2)", requests
        )
        ctx.record(
            ballots.label, ballots, base, workers=workers, ballots_per_s=round(ballots.rps, 1)
        )
        tally = await events.check_tally(ctx, eid, committee, VOTERS)
        if not tally["tally_ok"]:
            raise AssertionError(f"w={workers}: the tally does not match: {tally}")
        curve.append(
            {
                "workers": workers,
                "health_rps": round(base.rps, 1),
                "health_api_cpu_ms": _cpu_ms(base, base.server_cpu_s, base.count),
                "me": _figures(me, base, me.count),
                "ballots": _figures(ballots, base, len(done_at)),
            }
        )

    print("\n  scale-out curve (ratios to GET /health at the same worker count)", flush=True)
    print(
        f"  {'workers':>7} {'/health':>8} │ {'/me r/s':>8} {'ratio':>6} {'p50':>6} {'p99':>6} "
        f"{'api ms':>6} │ {'ballot/s':>8} {'ratio':>6} {'p50':>6} {'p99':>6} {'api ms':>6} "
        f"{'pg ms':>6}",
        flush=True,
    )
    for point in curve:
        me, bal = point["me"], point["ballots"]
        print(
            f"  {point['workers']:>7} {point['health_rps']:>8.0f} │ {me['rps']:>8.0f} "
            f"{me['ratio']:>6.3f} {me['p50_ms']:>6.1f} {me['p99_ms']:>6.1f} "
            f"{me['api_cpu_ms'] or 0:>6.2f} │ {bal['rps']:>8.0f} {bal['ratio']:>6.3f} "
            f"{bal['p50_ms']:>6.1f} {bal['p99_ms']:>6.1f} {bal['api_cpu_ms'] or 0:>6.2f} "
            f"{bal['pg_cpu_ms'] or 0:>6.2f}",
            flush=True,
        )
        ctx.rows.append({"label": f"curve w={point['workers']}", **point})
