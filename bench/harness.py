"""The bench harness: a fresh database and Redis, the real API in worker processes, and a
:class:`Context` that plugins (``bench/<name>.py`` with ``async def run(ctx)``) use to seed,
drive load and record figures next to a baseline measured in the same run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import json
import os
import pkgutil
import platform
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from bench.loadgen import LoadAccountingError, Result, run_load
from src.core.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
NOT_PLUGINS = {"harness", "loadgen", "__main__"}

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/lifecircle_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"

# Bench load comes from one IP: lift the per-IP and login limits so they do not shape results.
BASE_SERVER_ENV = {
    "LIFECIRCLE_ENV": "test",
    "LIFECIRCLE_RATE_LIMIT_IP_PER_MINUTE": str(10**9),
    "LIFECIRCLE_RATE_LIMIT_LOGIN_PER_MINUTE": str(10**9),
    # One bench user sends thousands of requests a second: the limits still count (their cost
    # is measured), with budgets no load reaches.
    "LIFECIRCLE_RATE_LIMIT_USER_PER_MINUTE": str(10**9),
    "LIFECIRCLE_RATE_LIMIT_LOGIN_ACCOUNT_PER_MINUTE": str(10**9),
    # The API alone: a portal address of its own keeps `lifecircle run` from starting the demo
    # portal fake and its outbox delivery beside the workers (bench/portal measures delivery).
    "LIFECIRCLE_PORTAL_API_BASE": "http://127.0.0.1:9",
}


# --- plugins ------------------------------------------------------------------------------


# A bulk seed numbers its suggestions afterwards, in one statement, as migration 1400's
# backfill does: the trigger's one-row counter updated 200,000 times in one transaction is
# quadratic (every update walks the row's version chain), so the seed skips it.
_RENUMBER = """
WITH numbered AS (
    SELECT p.id, p.street_id, p.year,
           coalesce(c.n, 0) + row_number() OVER (
               PARTITION BY p.street_id, p.year ORDER BY p.created_at, p.id)::integer AS n
    FROM (SELECT id, street_id, created_at,
                 extract(year FROM created_at AT TIME ZONE 'Asia/Shanghai')::integer AS year
          FROM proposals WHERE reference LIKE 'seed-%') AS p
    LEFT JOIN proposal_reference_counters c ON c.street_id = p.street_id AND c.year = p.year
), counted AS (
    INSERT INTO proposal_reference_counters AS c (street_id, year, n)
    SELECT street_id, year, max(n) FROM numbered GROUP BY street_id, year
    ON CONFLICT (street_id, year) DO UPDATE SET n = excluded.n
)
UPDATE proposals SET reference = lc_proposal_reference(
    coalesce(a.reference_prefix, a.code), numbered.year, numbered.n)
FROM numbered JOIN areas a ON a.id = numbered.street_id
WHERE proposals.id = numbered.id
"""


async def copy_proposals(conn: asyncpg.Connection, **copy_args: Any) -> None:
    """COPY into ``proposals`` while the seed runs with ``session_replication_role = replica``
    (triggers skipped), then number the seeded suggestions by the reference rule
    (src/proposals/references.py) after those already filed, and move the counters on."""
    await conn.execute(
        "ALTER TABLE proposals ALTER COLUMN reference SET DEFAULT 'seed-' || gen_random_uuid()"
    )
    try:
        await conn.copy_records_to_table("proposals", **copy_args)
    finally:
        await conn.execute("ALTER TABLE proposals ALTER COLUMN reference DROP DEFAULT")
    await conn.execute(_RENUMBER)


def discover() -> dict[str, ModuleType]:
    """Plugins: every ``bench/<name>.py`` defining ``async def run(ctx)``."""
    plugins: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda i: i.name):
        if info.name in NOT_PLUGINS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if callable(getattr(module, "run", None)):
            plugins[info.name] = module
    return plugins


def summary(module: ModuleType) -> str:
    return (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""


# --- database, Redis, server ----------------------------------------------------------------


def _admin_url(database_url: str) -> tuple[str, str]:
    base, _, name = database_url.rpartition("/")
    return f"{base}/postgres", name.split("?")[0]


async def recreate_database(database_url: str) -> None:
    admin, name = _admin_url(database_url)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def flush_redis(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


def _cpu_of(stat: str) -> tuple[int, float]:
    """(process group, CPU seconds) from the text of ``/proc/<pid>/stat``."""
    # Fields after the name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12)
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[2]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Cumulative CPU of the server's process group and of the PostgreSQL backends serving
    the bench database (found by their process title, so no SQL is needed to find them).

    Processes that exit keep their last figure, so the totals only grow. PostgreSQL's shared
    processes (WAL writer, checkpointer) are not counted; the backends and autovacuum of the
    bench database are."""

    def __init__(self, database: str) -> None:
        self._title = f" {database} ".encode()
        self._server: dict[int, float] = {}
        self._pg: dict[int, float] = {}

    def sample(self, pgid: int | None) -> tuple[float, float, float]:
        """(API, PostgreSQL backends, whole host) CPU seconds so far."""
        with open("/proc/stat") as stat:
            # cpu  user nice system idle iowait irq softirq steal ...
            ticks = [int(x) for x in stat.readline().split()[1:]]
        host = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                group, cpu = _cpu_of((entry / "stat").read_text())
                if pgid is not None and group == pgid:
                    self._server[pid] = cpu
                elif pid in self._pg or self._title in (entry / "cmdline").read_bytes():
                    self._pg[pid] = cpu
            except (OSError, ValueError, IndexError):
                continue
        return sum(self._server.values()), sum(self._pg.values()), host


def _interpolate(samples: list[tuple[float, float]], at: float) -> float:
    """The cumulative CPU at time ``at`` from (time, cpu) samples."""
    before = max((s for s in samples if s[0] <= at), default=samples[0])
    after = min((s for s in samples if s[0] >= at), default=samples[-1])
    if after[0] == before[0]:
        return before[1]
    return before[1] + (after[1] - before[1]) * (at - before[0]) / (after[0] - before[0])


def route_pattern(template: str) -> re.Pattern[str]:
    """A Litestar path template (``/events/{event_id:uuid}/ballots``) as a regex."""
    parts = re.split(r"\{[^}]*\}", template)
    return re.compile("[^/]+".join(re.escape(p) for p in parts))


def count_requests(metrics_text: str, method: str, path: str) -> int:
    """Requests the API has answered on the route serving ``method path``, by its own
    Prometheus counter (all workers summed)."""
    from prometheus_client.parser import text_string_to_metric_families

    bare = path.split("?", 1)[0]
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "lifecircle_requests":
            continue
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "lifecircle_requests_total"
                and labels.get("method") == method.upper()
                and route_pattern(labels.get("path", "")).fullmatch(bare)
            ):
                total += sample.value
    return int(total)


class Server:
    """``python -m src.cli run --workers N`` in its own process group."""

    def __init__(self, database_url: str, redis_url: str, workers: int, log_path: Path) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.workers = workers
        self.log_path = log_path
        self.port = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.env: dict[str, str] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.env = {**BASE_SERVER_ENV, **(extra_env or {})}
        env = {key: value for key, value in os.environ.items() if not key.startswith("LIFECIRCLE_")}
        env.update(self.env)
        env.update(
            {
                "LIFECIRCLE_DATABASE_URL": self.database_url,
                "LIFECIRCLE_REDIS_URL": self.redis_url,
                "LIFECIRCLE_HOST": "127.0.0.1",
                "LIFECIRCLE_PORT": str(self.port),
                "PYTHONUNBUFFERED": "1",
            }
        )
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "src.cli",
                "run",
                "--workers",
                str(self.workers),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        await self._wait_ready()

    async def _wait_ready(self, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.returncode is not None:
                    raise RuntimeError(f"the API exited early; see {self.log_path}")
                try:
                    # Every worker must be up: ask a few times on fresh connections.
                    if (await client.get("/ready")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.3)
        raise RuntimeError(f"the API did not become ready; see {self.log_path}")

    @property
    def pgid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.returncode is None else None

    async def requests_served(self, method: str, path: str) -> int | None:
        """The API's own count of answered ``method path`` requests (None: no metrics)."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as client:
            reply = await client.get("/metrics")
        if reply.status_code != 200:
            return None
        return count_requests(reply.text, method, path)

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=20)
        except TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


# --- the plugin's view --------------------------------------------------------------------


class Context:
    """What a plugin gets: the running API, the bench database and a place for figures."""

    def __init__(self, runner: Runner, name: str) -> None:
        self._runner = runner
        self.name = name
        self.rows: list[dict[str, Any]] = []
        self._tokens: dict[str, str] = {}

    @property
    def base_url(self) -> str:
        return self._runner.server.base_url

    @property
    def database_url(self) -> str:
        return self._runner.database_url

    @property
    def redis_url(self) -> str:
        return self._runner.redis_url

    def scaled(self, duration_s: float) -> float:
        """A load duration after ``--quick``."""
        return min(duration_s, self._runner.max_duration_s)

    async def token(self, phone: str) -> str:
        """An access token of the seeded user with ``phone`` (dev login)."""
        if phone not in self._tokens:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as client:
                response = await client.post("/api/v1/auth/dev-login", json={"phone": phone})
                response.raise_for_status()
                self._tokens[phone] = response.json()["access_token"]
        return self._tokens[phone]

    @staticmethod
    def auth_headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def http(self, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx client on the API for set-up calls (not for load)."""
        return httpx.AsyncClient(base_url=self.base_url, timeout=60, **kwargs)

    async def load(
        self,
        label: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        bodies: list[bytes] | None = None,
        concurrency: int = 32,
        duration_s: float = 10.0,
        requests: int | None = None,
    ) -> Result:
        """Keep-alive load from separate client processes; ``{seq}`` in headers/bodies is
        replaced by a per-request unique token."""
        if body is not None:
            bodies = [body]
        return await self.measured(
            method,
            path,
            run_load(
                self.base_url,
                label,
                method,
                path,
                headers=headers,
                bodies=bodies,
                concurrency=concurrency,
                duration_s=self.scaled(duration_s),
                requests=requests,
            ),
        )

    async def measured(self, method: str, path: str, load: Awaitable[Result]) -> Result:
        """Run ``load`` (a driver returning a :class:`Result` with its ``window`` and
        ``answered`` filled) while sampling the CPU of the API and of PostgreSQL, then check
        that the API's own counter for ``method path`` grew by exactly the number of replies
        the clients read. Raises :class:`LoadAccountingError` when it did not."""
        server = self._runner.server
        meter = self._runner.meter
        samples: list[tuple[float, float, float, float]] = []
        served_before = await server.requests_served(method, path)

        async def sample_cpu() -> None:
            while True:
                samples.append((time.time(), *meter.sample(server.pgid)))
                await asyncio.sleep(0.2)

        sampler = asyncio.ensure_future(sample_cpu())
        try:
            result = await load
        finally:
            sampler.cancel()
        samples.append((time.time(), *meter.sample(server.pgid)))
        start, end = result.window

        def used(column: int) -> float:
            series = [(s[0], s[column]) for s in samples]
            return _interpolate(series, end) - _interpolate(series, start)

        result.server_cpu_s, result.pg_cpu_s, result.host_cpu_s = used(1), used(2), used(3)
        served_after = await server.requests_served(method, path)
        if served_before is not None and served_after is not None:
            result.server_counted = served_after - served_before
            if result.server_counted != result.answered:
                raise LoadAccountingError(
                    f"{result.label}: the API counted {result.server_counted} {method} {path} "
                    f"requests, the clients read {result.answered} replies"
                )
        unexpected = {k: v for k, v in result.statuses.items() if not k.startswith(("2", "3"))}
        if unexpected or result.errors:
            print(
                f"  ! {result.label}: statuses {result.statuses}, errors {result.errors}",
                flush=True,
            )
        return result

    async def baseline(self) -> Result:
        """GET /health under the default load shape, measured once per run."""
        return await self._runner.baseline(self)

    def record(
        self, label: str, result: Result, baseline: Result | None = None, **extra: Any
    ) -> None:
        row: dict[str, Any] = {**result.to_dict(), "label": label, **extra}
        if baseline is not None and baseline.rps:
            row["baseline"] = baseline.label
            row["ratio"] = result.rps / baseline.rps
            row["p99_ratio"] = result.p99_ms / baseline.p99_ms if baseline.p99_ms else None
        self.rows.append(row)
        print("  " + format_row(row), flush=True)

    def note(self, label: str, **figures: Any) -> None:
        """A row that is not a load result (e.g. seeding time, a pgbench-style figure)."""
        row = {"label": label, **figures}
        self.rows.append(row)
        print("  " + format_row(row), flush=True)

    async def pg(self) -> asyncpg.Connection:
        """An asyncpg connection to the bench database (close it when done)."""
        return await asyncpg.connect(self.database_url)

    async def restart_server(
        self, env: dict[str, str] | None = None, *, workers: int | None = None
    ) -> None:
        """Restart the API (after bulk seeding, with extra ``LIFECIRCLE_*`` settings, or with
        another number of worker processes; the next plugin gets the run's own again)."""
        await self._runner.restart(
            env if env is not None else self._runner.server_env_extra, workers=workers
        )

    @property
    def workers(self) -> int:
        """Worker processes of the API right now."""
        return self._runner.server.workers


# --- output -------------------------------------------------------------------------------


def format_row(row: dict[str, Any]) -> str:
    if "rps" not in row:
        extras = "  ".join(f"{k}={_fmt(v)}" for k, v in row.items() if k != "label")
        return f"{row['label']:<44} {extras}"
    ratio = f"{row['ratio']:.3f}×" if row.get("ratio") is not None else "—"
    statuses = ",".join(f"{k}:{v}" for k, v in row.get("statuses", {}).items())
    duration = row.get("duration_s") or 0.0
    cpu = "—"
    if duration and row.get("server_cpu_s") is not None:
        used = [
            row["client_cpu_s"],
            row["server_cpu_s"],
            row.get("pg_cpu_s"),
            row.get("host_cpu_s"),
        ]
        cpu = "/".join(f"{c / duration:.1f}" for c in used if c is not None)
    in_flight = row.get("in_flight")
    conc = f"{in_flight:.1f}/{row.get('concurrency', 0)}" if in_flight is not None else "—"
    return (
        f"{row['label']:<44} {row['rps']:>9.0f} {ratio:>8} {row['p50_ms']:>8.2f} "
        f"{row['p99_ms']:>8.2f} {row['count']:>8} {row['errors']:>4} {conc:>9} {cpu:>18}"
        f"  {statuses}"
    )


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


HEADER = (
    f"{'benchmark':<44} {'req/s':>9} {'vs base':>8} {'p50 ms':>8} {'p99 ms':>8} "
    f"{'count':>8} {'err':>4} {'conc':>9} {'cpu cl/api/pg/host':>18}  statuses"
)


# --- the runner ---------------------------------------------------------------------------


class Runner:
    def __init__(
        self,
        database_url: str = DEFAULT_DATABASE_URL,
        redis_url: str = DEFAULT_REDIS_URL,
        workers: int = 2,
        max_duration_s: float = float("inf"),
    ) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        RESULTS_DIR.mkdir(exist_ok=True)
        log = RESULTS_DIR / "server.log"
        log.unlink(missing_ok=True)
        self.workers = workers
        self.server = Server(database_url, redis_url, workers, log)
        self.meter = CpuMeter(_admin_url(database_url)[1])
        self.server_env_extra: dict[str, str] = {}
        self.max_duration_s = max_duration_s
        self._baselines: dict[int, Result] = {}

    async def restart(self, extra_env: dict[str, str], workers: int | None = None) -> None:
        await self.server.stop()
        await flush_redis(self.redis_url)
        self.server.workers = workers or self.workers
        await self.server.start(extra_env)
        self.server_env_extra = extra_env

    async def baseline(self, ctx: Context) -> Result:
        """GET /health at the default load shape, once per run and worker count."""
        workers = self.server.workers
        if workers not in self._baselines:
            self._baselines[workers] = await ctx.load("GET /health (baseline)", "GET", "/health")
        return self._baselines[workers]

    async def run(self, plugins: dict[str, ModuleType]) -> int:
        admin, name = _admin_url(self.database_url)
        # Two runs on one bench database would drop it under each other: take turns.
        lock = await asyncpg.connect(admin)
        try:
            if not await lock.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", name):
                print(f"• another bench run uses {name}; waiting for it…", flush=True)
                await lock.execute("SELECT pg_advisory_lock(hashtext($1))", name)
            return await self._run(plugins)
        finally:
            await lock.close()

    async def _run(self, plugins: dict[str, ModuleType]) -> int:
        print(f"• fresh database {self.database_url}, Redis {self.redis_url}", flush=True)
        await recreate_database(self.database_url)
        await flush_redis(self.redis_url)
        started = time.monotonic()
        print("• starting the API (migrations, demo data)…", flush=True)
        await self.server.start()
        print(
            f"✓ API on {self.server.base_url} ({self.server.workers} workers) "
            f"in {time.monotonic() - started:.1f} s",
            flush=True,
        )
        failures = 0
        try:
            for name, module in plugins.items():
                wanted: dict[str, str] = dict(getattr(module, "SERVER_ENV", {}))
                if wanted != self.server_env_extra or self.server.workers != self.workers:
                    await self.restart(wanted)
                ctx = Context(self, name)
                print(f"\n== {name}: {summary(module)}", flush=True)
                print("  " + HEADER, flush=True)
                plugin_started = time.monotonic()
                run: Callable[[Context], Awaitable[None]] = module.run
                try:
                    await run(ctx)
                except Exception as exc:
                    failures += 1
                    print(f"  ✗ {name} failed: {exc!r}", flush=True)
                    import traceback

                    traceback.print_exc()
                self._write(name, ctx, time.monotonic() - plugin_started)
        finally:
            await self.server.stop()
        return 1 if failures else 0

    def _write(self, name: str, ctx: Context, elapsed: float) -> None:
        path = RESULTS_DIR / f"{name}.json"
        git = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        payload = {
            "plugin": name,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "git": git,
            "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "workers": self.workers,
            "elapsed_s": round(elapsed, 1),
            "rows": ctx.rows,
        }
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
        print(f"  → {path.relative_to(ROOT)}", flush=True)
