"""Votes at a venue: 5,000 residents each send their ballot twice while SSE clients watch.

Seeds (COPY) 5,000 verified residents of 曹杨一村 with a sign-in each (tokens are minted
with the bench server's secret), creates open coordination meetings through the API, then
measures next to the same run's GET /health (the plain JSON endpoint):

- ``SQL-only ballot batches``: the statements of one ballot batch (src/votes/batcher.py) of
  32 ballots per transaction on 2 raw asyncpg connections, no HTTP (its ceiling);
- ``GET /health (500 SSE)``: the same run's baseline with the 500 watchers connected;
- ``POST ballots (5,000 × 2, 500 SSE)``: every voter sends the same ballot twice with one
  Idempotency-Key, the two copies racing on two connections (a double tap that is also a
  retry): exactly one ballot per voter must come out, and both replies must be 201 with the
  same receipt; all while ``WATCHERS`` SSE clients follow the results stream; its ratio is to
  /health with the watchers connected;
- ``POST ballots at 200/s (2000 SSE)``: paced (open loop) while ``PACED_WATCHERS`` follow;
- ``SSE delivery``: for every watcher and every ballot, the time from the ballot's 201 to the
  first tally that counts its voter (p50/p99), for both runs;
- ``GET results`` under load.

Goals (issue 16): SSE delay p99 < 1 s in both runs; ballots/s ≥ 0.15 × /health with the 500
watchers connected; the final tally has exactly one ballot per voter.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import re
import sys
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from bench.harness import Context
from bench.loadgen import (
    LoadAccountingError,
    Result,
    _request_bytes,
    check_books,
    client_main,
    cpu_s,
    merge_statuses,
    percentile,
    run_clients,
    to_epoch,
    wait_for_start,
    write_report,
)

VOTERS = 5_000
WATCHERS = int(os.environ.get("BENCH_EVENTS_WATCHERS", "500"))
PACED_RATE = float(os.environ.get("BENCH_EVENTS_PACED_RATE", "200"))
PACED_WATCHERS = int(os.environ.get("BENCH_EVENTS_PACED_WATCHERS", "2000"))
COMMUNITY = "310107012001"  # 曹杨一村
COMMITTEE = "13900002101"  # 曹杨一村居委
SECRET = "bench-secret-bench-secret-bench-secret-01"
SERVER_ENV = {"LIFECIRCLE_SECRET_KEY": SECRET}
CONNECTIONS = 64
_VOTERS_RE = re.compile(rb'"voters":\s*(\d+)')


# --- seeding ------------------------------------------------------------------------------


async def seed_voters(
    ctx: Context, count: int = VOTERS, phone_prefix: str = "186"
) -> tuple[list[uuid.UUID], list[str]]:
    """``count`` verified residents of 曹杨一村 with phones ``<prefix><8 digits>``, a sign-in
    each, and their access tokens."""
    from src.config import Settings
    from src.core.auth import issue_access_token

    settings = Settings(secret_key=SECRET, access_token_ttl_s=3600)
    conn = await ctx.pg()
    try:
        community = await conn.fetchval("SELECT id FROM areas WHERE code = $1", COMMUNITY)
        now = dt.datetime.now(dt.UTC)
        users = [
            (
                uuid.uuid4(),
                f"{phone_prefix}{n:08d}",
                f"投票居民{phone_prefix}-{n}",
                True,
                community,
                now,
            )
            for n in range(count)
        ]
        families = [(uuid.uuid4(), u[0], "dev", now) for u in users]
        await conn.copy_records_to_table(
            "users",
            records=users,
            columns=["id", "phone", "display_name", "verified", "home_community_id", "created_at"],
        )
        await conn.copy_records_to_table(
            "auth_families", records=families, columns=["id", "user_id", "method", "created_at"]
        )
        await conn.execute("ANALYZE users; ANALYZE auth_families")
    finally:
        await conn.close()
    tokens = [issue_access_token(settings, f[1], f[0]) for f in families]
    return [u[0] for u in users], tokens


async def open_meeting(ctx: Context, title: str) -> tuple[str, list[str], str]:
    committee = await ctx.token(COMMITTEE)
    h = ctx.auth_headers(committee)
    async with ctx.http() as http:
        conn = await ctx.pg()
        try:
            community = str(await conn.fetchval("SELECT id FROM areas WHERE code = $1", COMMUNITY))
        finally:
            await conn.close()
        now = dt.datetime.now(dt.UTC)
        made = await http.post(
            "/api/v1/events",
            json={
                "kind": "coordination",
                "title": title,
                "community_id": community,
                "starts_at": now.isoformat(),
                "ends_at": (now + dt.timedelta(hours=2)).isoformat(),
                "voting": {"results_visibility": "live"},
            },
            headers=h,
        )
        made.raise_for_status()
        eid = made.json()["id"]
        options = []
        for name in ("方案一", "方案二", "方案三"):
            added = await http.post(
                f"/api/v1/events/{eid}/options", json={"title": name}, headers=h
            )
            added.raise_for_status()
            options.append(added.json()["id"])
        (await http.post(f"/api/v1/events/{eid}/open", headers=h)).raise_for_status()
    return eid, options, committee


# --- the ballot client (a separate process: python -m bench.events ballots) ----------------


def ballot_requests(
    base_url: str, eid: str, options: list[str], tokens: list[str], seed: int
) -> list[str]:
    """Two identical requests per voter (same Idempotency-Key), adjacent in the list."""
    url = urlsplit(base_url)
    host = f"{url.hostname}:{url.port}"
    rng = random.Random(seed)
    out = []
    for n, token in enumerate(tokens):
        body = json.dumps({"option_ids": [rng.choice(options)]}).encode()
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"ballot-{seed}-{n}",
        }
        raw = _request_bytes("POST", host, f"/api/v1/events/{eid}/ballots", headers, body)
        out += [raw.decode("latin-1")] * 2
    return out


async def _ballot_client(spec: dict[str, Any]) -> dict[str, Any]:
    url = urlsplit(spec["base_url"])
    # (request, voter): a voter's two copies are adjacent; a 503 or a transport error is
    # queued again, as the app does, and so is a 409 request_in_progress (the copy raced
    # the first one and lost: the phone asks again shortly).
    queue = [(r.encode("latin-1"), n // 2) for n, r in enumerate(spec["requests"])]
    rate: float | None = spec.get("rate")
    latencies: list[float] = []
    done_at: list[float] = []  # wall-clock time of each 201 whose body is a new ballot
    receipts: dict[int, bytes] = {}
    statuses: dict[str, int] = {}
    errors = sent = answered = retried = mismatched = 0
    busy = 0.0
    first_send = float("inf")
    last_done = 0.0
    position = 0

    opened = [
        await asyncio.open_connection(url.hostname, url.port) for _ in range(spec["connections"])
    ]
    started = wait_for_start()
    cpu_at_start = cpu_s()

    async def worker(reader: Any, writer: Any) -> None:
        nonlocal position, errors, sent, answered, retried, mismatched, busy
        nonlocal first_send, last_done
        await asyncio.sleep(max(0.0, started - time.perf_counter()))
        while position < len(queue):
            index = position
            position += 1
            if rate is not None:
                # Open loop: request pairs leave at the paced rate whatever the replies do.
                due = started + (index // 2) / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            now = time.perf_counter()
            first_send = min(first_send, now)
            payload, pair = queue[index]
            writer.write(payload)
            sent += 1
            try:
                status, body = await _read_with_body(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                writer.close()
                queue.append(queue[index])
                reader, writer = await asyncio.open_connection(url.hostname, url.port)
                continue
            done = time.perf_counter()
            answered += 1
            last_done = max(last_done, done)
            busy += done - now
            latencies.append((done - now) * 1000)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if status == 503 or (status == 409 and b"request_in_progress" in body):
                retried += 1
                await asyncio.sleep(0.2 if status == 503 else 0.05)
                queue.append(queue[index])
                continue
            if status == 201:
                first = receipts.setdefault(pair, body)
                if first is body:
                    done_at.append(to_epoch(done))
                elif first != body:
                    mismatched += 1  # a replay that differs from the first reply
        writer.close()

    await asyncio.gather(*(worker(r, w) for r, w in opened))
    return {
        "latencies": latencies,
        "statuses": statuses,
        "all_statuses": statuses,
        "errors": errors,
        "sent": sent,
        "answered": answered,
        "retried": retried,
        "mismatched": mismatched,
        "voters": len({pair for _, pair in queue}),
        "busy_s": busy,
        "cpu_s": cpu_s() - cpu_at_start,
        "go": to_epoch(started),
        "start": to_epoch(started),
        "deadline": None,
        "first_send": to_epoch(first_send) if sent else None,
        "last_done": to_epoch(last_done) if answered else None,
        "done_at": done_at,
    }


async def _read_with_body(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


# --- the watcher client (python -m bench.events watch) ---------------------------------------


async def _watch_client(spec: dict[str, Any]) -> dict[str, Any]:
    url = urlsplit(spec["base_url"])
    request = _request_bytes(
        "GET",
        f"{url.hostname}:{url.port}",
        spec["path"],
        {"Authorization": f"Bearer {spec['token']}", "Accept": "text/event-stream"},
        None,
    )
    seen: list[list[tuple[float, int]]] = []
    connected = 0
    stop_at = time.time() + spec["duration_s"]

    async def watcher() -> None:
        nonlocal connected
        record: list[tuple[float, int]] = []
        seen.append(record)
        try:
            reader, writer = await asyncio.open_connection(url.hostname, url.port)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
        except (OSError, asyncio.IncompleteReadError):
            return  # refused or reset under the connect storm: not counted as connected
        if not head.startswith(b"HTTP/1.1 200"):
            writer.close()  # a 503 at connect: not a watcher
            return
        connected += 1
        buffer = b""
        try:
            while time.time() < stop_at:
                chunk = await asyncio.wait_for(reader.read(65536), max(0.1, stop_at - time.time()))
                if not chunk:
                    break
                buffer += chunk
                now = time.time()
                for match in _VOTERS_RE.finditer(buffer):
                    record.append((now, int(match.group(1))))
                buffer = buffer[buffer.rfind(b"\n") + 1 :] if b"\n" in buffer else buffer
                if b'"final": true' in chunk:
                    break
        except (TimeoutError, OSError):
            pass
        writer.close()

    await asyncio.gather(*(watcher() for _ in range(spec["count"])))
    return {"seen": seen, "connected": connected}


def _client_main() -> None:
    mode = sys.argv[1]
    if mode == "ballots":
        client_main(_ballot_client)
        return
    spec = json.loads(sys.stdin.read())
    import uvloop

    write_report(uvloop.run(_watch_client(spec)))


async def _spawn(mode: str, spec: dict[str, Any]) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.events",
        mode,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(spec).encode())
    await proc.stdin.drain()
    proc.stdin.close()
    return proc


async def _collect(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    assert proc.stdout is not None
    out = await proc.stdout.read()
    await proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"bench client exited with {proc.returncode}")
    result: dict[str, Any] = json.loads(out)
    return result


async def run_ballots(
    ctx: Context,
    label: str,
    requests: list[str],
    *,
    rate: float | None = None,
    procs: int = 2,
) -> tuple[Result, list[float]]:
    """Send every prepared ballot request from ``procs`` client processes released at one
    start time; ballots/s is the new ballots over the span from that start to the last reply.
    Checks its books like :func:`bench.loadgen.run_load` and more: every voter got exactly
    one new 201, and every replay was identical to it."""
    # Keep each voter's two copies together in one process (pairs are adjacent).
    shares: list[list[str]] = [[] for _ in range(procs)]
    for pair in range(len(requests) // 2):
        shares[pair % procs] += requests[2 * pair : 2 * pair + 2]
    path = requests[0].split(" ", 2)[1]  # from the request line
    done_at: list[float] = []

    async def drive() -> Result:
        specs = [
            {
                "base_url": ctx.base_url,
                "requests": share,
                "connections": CONNECTIONS // procs,
                "rate": rate / procs if rate else None,
            }
            for share in shares
        ]
        reports = await run_clients("bench.events", specs, "ballots")
        check_books(label, reports, None)
        problems = [
            f"process {n}: {r['voters']} voters but {len(r['done_at'])} new ballots"
            for n, r in enumerate(reports)
            if len(r["done_at"]) != r["voters"]
        ] + [
            f"process {n}: {r['mismatched']} replays differ from the first reply"
            for n, r in enumerate(reports)
            if r["mismatched"]
        ]
        if problems:
            raise LoadAccountingError(f"{label}: " + "; ".join(problems))
        start = reports[0]["go"]
        end = max(r["last_done"] for r in reports)
        elapsed = max(end - start, 1e-9)
        latencies = sorted(x for r in reports for x in r["latencies"])
        done_at.extend(sorted(t for r in reports for t in r["done_at"]))
        return Result(
            label=label,
            rps=len(done_at) / elapsed,
            p50_ms=percentile(latencies, 0.5),
            p99_ms=percentile(latencies, 0.99),
            count=len(latencies),
            errors=sum(r["errors"] for r in reports),
            statuses=merge_statuses(reports),
            duration_s=elapsed,
            concurrency=CONNECTIONS,
            client_cpu_s=sum(r["cpu_s"] for r in reports),
            mean_ms=sum(latencies) / len(latencies) if latencies else 0.0,
            max_ms=latencies[-1] if latencies else 0.0,
            window=(start, end),
            in_flight=sum(r["busy_s"] for r in reports) / elapsed,
            processes=procs,
            sent=sum(r["sent"] for r in reports),
            answered=sum(r["answered"] for r in reports),
        )

    result = await ctx.measured("POST", path, drive())
    return result, done_at


def delivery_delays(done_at: list[float], seen: list[list[tuple[float, int]]]) -> list[float]:
    """For each watcher and each ballot n (the n-th 201): first time the watcher saw a tally
    counting ≥ n, minus the time of that 201 (at most 0: the tally may beat the reply)."""
    delays: list[float] = []
    for record in seen:
        counted = 0
        for at, voters in record:
            while counted < min(voters, len(done_at)):
                delays.append(max(0.0, at - done_at[counted]) * 1000)
                counted += 1
    return sorted(delays)


async def sql_only(
    ctx: Context, user_ids: list[uuid.UUID], lanes: int = 2, batch: int = 32
) -> Result:
    """The statements of one ballot batch (src/votes/batcher.py: voters, shuffled ballots,
    one transaction), ``batch`` ballots each, on ``lanes`` raw asyncpg connections, no HTTP
    (its ceiling); rps counts ballots."""
    from src.votes import repository, secrecy

    eid, options, _ = await open_meeting(ctx, "SQL-only ballot ceiling")
    event_id = uuid.UUID(eid)
    conn = await ctx.pg()
    try:
        community = await conn.fetchval("SELECT id FROM areas WHERE code = $1", COMMUNITY)
        fams = {
            r["user_id"]: r["id"]
            for r in await conn.fetch(
                "SELECT id, user_id FROM auth_families WHERE user_id = ANY($1)", user_ids
            )
        }
    finally:
        await conn.close()
    latencies: list[float] = []
    queue = list(user_ids)
    ballots = 0

    async def worker(conn: Any) -> None:
        nonlocal ballots
        while queue:
            users = [queue.pop() for _ in range(min(batch, len(queue)))]
            sent = time.perf_counter()
            async with conn.transaction():
                got, _ = await repository.record_voters(
                    conn,
                    event_id=event_id,
                    community_id=community,
                    need_check_in=False,
                    casters=[repository.Caster(u, fams[u], None, None) for u in users],
                    ttl_s=3600,
                )
                assert all(o.inserted for o in got)
                choices = [
                    secrecy.Choice(uuid.uuid4(), secrecy.new_receipt()[0], (uuid.UUID(options[0]),))
                    for _ in users
                ]
                await repository.write_ballots(conn, event_id, secrecy.shuffled(choices))
            latencies.append((time.perf_counter() - sent) * 1000)
            ballots += len(users)

    conns = [await ctx.pg() for _ in range(lanes)]
    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(c) for c in conns))
    finally:
        for c in conns:
            await c.close()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(
        label="SQL-only ballot batches",
        rps=ballots / elapsed,
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
        count=len(latencies),
        errors=0,
        statuses={},
        duration_s=elapsed,
        concurrency=lanes,
    )


async def watch(ctx: Context, eid: str, token: str, count: int, procs: int) -> list[Any]:
    """``count`` SSE watchers of the meeting's results stream from ``procs`` processes."""
    return [
        await _spawn(
            "watch",
            {
                "base_url": ctx.base_url,
                "path": f"/api/v1/events/{eid}/results/stream",
                "token": token,
                "count": count // procs,
                "duration_s": ctx.scaled(120),
            },
        )
        for _ in range(procs)
    ]


async def delivery(ctx: Context, label: str, watchers: list[Any], done_at: list[float]) -> None:
    reports = [await _collect(p) for p in watchers]
    seen = [record for r in reports for record in r["seen"]]
    delays = delivery_delays(done_at, seen)
    ctx.note(
        label,
        watchers=sum(r["connected"] for r in reports),
        samples=len(delays),
        p50_ms=round(percentile(delays, 0.5), 1) if delays else None,
        p99_ms=round(percentile(delays, 0.99), 1) if delays else None,
    )


async def check_tally(ctx: Context, eid: str, committee: str, expected: int) -> dict[str, Any]:
    conn = await ctx.pg()
    try:
        voters = await conn.fetchval(
            "SELECT count(*) FROM ballot_voters WHERE event_id = $1", uuid.UUID(eid)
        )
        # In clear and still sealed (fewer than a crowd wait: src/votes/secrecy.py).
        ballots = await conn.fetchval(
            "SELECT (SELECT count(*) FROM ballots WHERE event_id = $1)"
            " + (SELECT count(*) FROM sealed_ballots WHERE event_id = $1)",
            uuid.UUID(eid),
        )
    finally:
        await conn.close()
    async with ctx.http() as http:
        closed = await http.post(f"/api/v1/events/{eid}/close", headers=ctx.auth_headers(committee))
        closed.raise_for_status()
        final = (
            await http.get(f"/api/v1/events/{eid}/results", headers=ctx.auth_headers(committee))
        ).json()
    ok = (
        voters
        == ballots
        == expected
        == final["voters"]
        == sum(o["votes"] for o in final["options"])
    )
    return {"voters": voters, "ballots": ballots, "expected": expected, "tally_ok": ok}


async def run(ctx: Context) -> None:
    base = await ctx.baseline()
    ctx.record("GET /health (baseline)", base)
    started = time.monotonic()
    user_ids, tokens = await seed_voters(ctx)
    await ctx.restart_server()
    ctx.note("seeded voters (COPY)", voters=VOTERS, seconds=round(time.monotonic() - started, 1))

    sql = await sql_only(ctx, user_ids[: VOTERS // 2])
    ctx.record("SQL-only ballot batches, 2 raw asyncpg conns", sql, base)

    # The main run: everyone votes twice, as fast as they can, while the watchers follow.
    eid, options, committee = await open_meeting(ctx, "曹杨一村中心绿地方案（压测）")
    requests = ballot_requests(ctx.base_url, eid, options, tokens, seed=1)
    watchers = await watch(ctx, eid, tokens[0], WATCHERS, 2)
    await asyncio.sleep(10)  # let the streams connect (a busy machine: give them time)
    # The same run's baseline with the watchers connected (they are idle between tallies).
    health = await ctx.load(f"GET /health ({WATCHERS} SSE)", "GET", "/health", duration_s=5)
    ctx.record(health.label, health, base)
    result, done_at = await run_ballots(
        ctx, f"POST ballots ({VOTERS:,} × 2, {WATCHERS} SSE)", requests
    )
    ctx.record(result.label, result, health, ballots_per_s=round(result.rps, 1))
    results_load = await ctx.load(
        "GET results (resident)",
        "GET",
        f"/api/v1/events/{eid}/results",
        headers=ctx.auth_headers(tokens[1]),
        duration_s=5,
    )
    ctx.record("GET results", results_load, base)
    tally = await check_tally(ctx, eid, committee, VOTERS)
    ctx.note("final tally (one ballot per voter)", **tally)
    await delivery(ctx, f"SSE delivery delay ({WATCHERS} watchers, full speed)", watchers, done_at)

    # Paced: 200 ballots/s (each still sent twice) while 2,000 watchers follow.
    paced_id, paced_options, paced_committee = await open_meeting(ctx, "限速投票（压测）")
    paced_requests = ballot_requests(
        ctx.base_url, paced_id, paced_options, tokens[: VOTERS // 2], seed=2
    )
    many = await watch(ctx, paced_id, tokens[0], PACED_WATCHERS, 4)
    await asyncio.sleep(5)
    paced, paced_done = await run_ballots(
        ctx,
        f"POST ballots at {PACED_RATE:.0f}/s ({PACED_WATCHERS} SSE)",
        paced_requests,
        rate=PACED_RATE,
    )
    ctx.record(paced.label, paced, base, ballots_per_s=round(paced.rps, 1))
    ctx.note("paced tally", **await check_tally(ctx, paced_id, paced_committee, VOTERS // 2))
    await delivery(
        ctx, f"SSE delivery delay ({PACED_WATCHERS} watchers, {PACED_RATE:.0f}/s)", many, paced_done
    )


if __name__ == "__main__":
    _client_main()
