"""Keep-alive HTTP/1.1 load from separate client processes, all measuring one window.

Each client process (``python -m bench.loadgen``) reads a JSON spec line on stdin, opens its
share of the connections as raw asyncio sockets (uvloop when installed) and says it is ready;
when every process is ready the coordinator sends them all one start time. From then on each
process sends requests back to back on each connection and finally prints one JSON report:
latencies, status counts, its send/answer totals and the CPU it used.

:func:`run_load` merges the reports over the *common* window (every process warms up, then
measures the same ``duration_s`` seconds of wall clock), so the rate is what the server
answered while all the connections were open at once. It also checks its own books: every
request sent was answered or failed, each process covered the whole window, and the
concurrency really sent (mean requests in flight, by Little's law) is reported next to the
number of connections asked for. A mismatch raises :class:`LoadAccountingError`.

Templating: the text ``{seq}`` in a header value or a body is replaced by a token unique to
the request (e.g. ``Idempotency-Key: bench-{seq}``).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SEQ = "{seq}"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Time from "go" to the start, so the line reaches every process before it is due.
START_DELAY_S = 0.1
# How late a process may begin sending after the start and still count as simultaneous.
START_SLACK_S = 0.5


class LoadAccountingError(RuntimeError):
    """The load's own totals do not add up: the figures would be wrong, so none are given."""


@dataclass
class Result:
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    count: int  # responses completed inside the window (what rps, p50 and p99 cover)
    errors: int
    statuses: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    concurrency: int = 0  # connections asked for
    mean_ms: float = 0.0
    max_ms: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float | None = None
    window: tuple[float, float] = (0.0, 0.0)  # wall-clock span the figures cover (epoch s)
    in_flight: float | None = None  # mean requests outstanding in the window: sent concurrency
    processes: int = 0
    sent: int = 0  # requests written, warm-up and tail included
    answered: int = 0  # responses read, warm-up and tail included
    server_counted: int | None = None  # the API's own request counter for the route
    pg_cpu_s: float | None = None  # CPU of the bench database's backends in the window
    host_cpu_s: float | None = None  # CPU used on the whole host in the window (all users)

    @property
    def ok(self) -> int:
        """Responses with a 2xx status."""
        return sum(n for code, n in self.statuses.items() if code.startswith("2"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


# --- the client process ----------------------------------------------------------------


class _Budget:
    """Shared request budget for ``requests=`` runs (None: run until the deadline)."""

    def __init__(self, total: int | None) -> None:
        self.left = total

    def take(self) -> bool:
        if self.left is None:
            return True
        if self.left <= 0:
            return False
        self.left -= 1
        return True


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return (status, keep_alive)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    chunked = False
    keep_alive = True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and value.strip().lower() == b"close":
            keep_alive = False
    if chunked:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep_alive


def _request_bytes(
    method: str, host: str, path: str, headers: dict[str, str], body: bytes | None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def cpu_s() -> float:
    """CPU seconds this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wait_for_start() -> float:
    """Client side of the start barrier: say ready, block until the common start time
    arrives on stdin, return it as a ``time.perf_counter()`` value."""
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise SystemExit("the coordinator went away before the start")
    start_at: float = json.loads(line)["start_at"]
    return start_at - time.time() + time.perf_counter()


def to_epoch(perf: float) -> float:
    return perf - time.perf_counter() + time.time()


async def _client(spec: dict[str, Any]) -> dict[str, Any]:
    url = urlsplit(spec["base_url"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    host_header = f"{host}:{port}"
    method: str = spec["method"]
    path: str = spec["path"]
    headers: dict[str, str] = spec.get("headers") or {}
    bodies = [b.encode("latin-1") for b in spec.get("bodies") or []] or [None]
    templated = any(SEQ in v for v in headers.values()) or any(
        b is not None and SEQ.encode() in b for b in bodies
    )
    fixed = [
        None if templated else _request_bytes(method, host_header, path, headers, b) for b in bodies
    ]
    connections: int = spec["connections"]
    budget = _Budget(spec.get("requests"))
    prefix = f"{os.getpid()}-{spec['index']}-{time.time_ns()}"
    counter = 0

    latencies: list[float] = []
    statuses: dict[str, int] = {}  # in the window
    all_statuses: dict[str, int] = {}  # everything answered
    errors = sent = answered = reconnects = 0
    busy = 0.0  # seconds of requests outstanding inside the window (Little's law)
    first_send = float("inf")
    last_done = 0.0

    def build(i: int) -> bytes:
        nonlocal counter
        raw = fixed[i % len(fixed)]
        if raw is not None:
            return raw
        counter += 1
        token = f"{prefix}-{counter}"
        body = bodies[i % len(bodies)]
        return _request_bytes(
            method,
            host_header,
            path,
            {k: v.replace(SEQ, token) for k, v in headers.items()},
            body.replace(SEQ.encode(), token.encode()) if body is not None else None,
        )

    # Connections are opened before the barrier: the window measures requests, not connects.
    opened = [await asyncio.open_connection(host, port) for _ in range(connections)]
    go = wait_for_start()
    start = go + spec.get("warmup_s", 0.0)  # the window: [start, deadline]
    deadline = start + spec["duration_s"] if spec.get("requests") is None else float("inf")

    async def worker(offset: int, reader: Any, writer: Any) -> None:
        nonlocal errors, sent, answered, reconnects, busy, first_send, last_done
        i = offset
        await asyncio.sleep(max(0.0, go - time.perf_counter()))
        while time.perf_counter() < deadline and budget.take():
            try:
                if writer is None:
                    reconnects += 1
                    reader, writer = await asyncio.open_connection(host, port)
                payload = build(i)
                i += 1
                now = time.perf_counter()
                first_send = min(first_send, now)
                writer.write(payload)
                sent += 1
                status, keep_alive = await _read_response(reader)
                done = time.perf_counter()
                answered += 1
                last_done = max(last_done, done)
                code = str(status)
                all_statuses[code] = all_statuses.get(code, 0) + 1
                if start <= done <= deadline:
                    latencies.append((done - now) * 1000)
                    statuses[code] = statuses.get(code, 0) + 1
                busy += max(0.0, min(done, deadline) - max(now, start))
                if not keep_alive:
                    writer.close()
                    reader = writer = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                errors += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(0.01)
        if writer is not None:
            writer.close()

    window: dict[str, float] = {}

    async def mark_start() -> None:
        # CPU and wall clock from the end of the warm-up: what the figures cover.
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        window["cpu"] = cpu_s()

    marker = asyncio.ensure_future(mark_start())
    await asyncio.gather(*(worker(n * 7919, r, w) for n, (r, w) in enumerate(opened)))
    await marker
    return {
        "latencies": latencies,
        "statuses": statuses,
        "all_statuses": all_statuses,
        "errors": errors,
        "sent": sent,
        "answered": answered,
        "reconnects": reconnects,
        "busy_s": busy,
        "cpu_s": cpu_s() - window["cpu"],
        "go": to_epoch(go),
        "start": to_epoch(start),
        "deadline": to_epoch(deadline) if deadline != float("inf") else None,
        "first_send": to_epoch(first_send) if sent else None,
        "last_done": to_epoch(last_done) if answered else None,
    }


def client_main(runner: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> None:
    """Entry point of a client process: spec line in, ready line and report line out."""
    spec = json.loads(sys.stdin.readline())
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        report = asyncio.run(runner(spec))
    else:
        report = uvloop.run(runner(spec))
    write_report(report, spec.get("report_path"))


def write_report(report: Any, path: str | None = None) -> None:
    """The report, whole: into ``path`` when given (what :func:`run_clients` asks for: a
    report of a few hundred KiB through a pipe was once read cut short), else as a line on
    stdout (the event loop may have left the pipe non-blocking: it is made blocking first)."""
    if path is not None:
        Path(path).write_text(json.dumps(report))
        return
    os.set_blocking(sys.stdout.fileno(), True)
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


# --- the coordinator -------------------------------------------------------------------


async def run_clients(
    module: str, specs: list[dict[str, Any]], *args: str, ready_timeout_s: float = 120.0
) -> list[dict[str, Any]]:
    """Start one ``python -m module *args`` per spec, release them all at one start time
    (see :func:`wait_for_start`) and return their reports, in order (each written to a file
    of its own, read once the process has exited)."""
    reports_dir = tempfile.TemporaryDirectory(prefix="lc-bench-")
    paths = [Path(reports_dir.name) / f"report-{i}.json" for i in range(len(specs))]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            limit=2**20,
        )
        for _ in specs
    ]
    try:
        for proc, spec, path in zip(procs, specs, paths, strict=True):
            assert proc.stdin is not None
            spec = {**spec, "report_path": str(path)}
            proc.stdin.write(json.dumps(spec).encode() + b"\n")
            await proc.stdin.drain()
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), ready_timeout_s)
            if not line or json.loads(line) != {"ready": True}:
                raise LoadAccountingError(f"a {module} client did not get ready: {line!r}")
        start_at = time.time() + START_DELAY_S
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"start_at": start_at}).encode() + b"\n")
            await proc.stdin.drain()
            proc.stdin.close()

        async def collect(proc: asyncio.subprocess.Process, path: Path) -> dict[str, Any]:
            assert proc.stdout is not None
            await proc.stdout.read()
            await proc.wait()
            if proc.returncode != 0:
                raise RuntimeError(f"{module} client exited with {proc.returncode}")
            report: dict[str, Any] = json.loads(path.read_text())  # noqa: ASYNC240 - once, after exit
            return report

        return list(
            await asyncio.gather(*(collect(p, f) for p, f in zip(procs, paths, strict=True)))
        )
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        reports_dir.cleanup()


def merge_statuses(reports: list[dict[str, Any]], key: str = "statuses") -> dict[str, int]:
    statuses: dict[str, int] = {}
    for r in reports:
        for code, n in r[key].items():
            statuses[code] = statuses.get(code, 0) + n
    return dict(sorted(statuses.items()))


def check_books(label: str, reports: list[dict[str, Any]], requests: int | None) -> None:
    """Every request sent was answered or failed; with ``requests`` exactly that many were
    sent; every process began sending at the common start and (with a duration) kept
    sending through the whole window. Raises :class:`LoadAccountingError`."""
    problems = []
    for n, r in enumerate(reports):
        if r["sent"] != r["answered"] + r["errors"]:
            problems.append(
                f"process {n}: sent {r['sent']} ≠ answered {r['answered']} + errors {r['errors']}"
            )
        if sum(r["all_statuses"].values()) != r["answered"]:
            problems.append(f"process {n}: statuses do not sum to the {r['answered']} answered")
        if r["first_send"] is None or r["first_send"] > r["go"] + START_SLACK_S:
            problems.append(f"process {n} began late ({r['first_send']} vs start {r['go']})")
        if r["deadline"] is not None and (r["last_done"] or 0.0) < r["deadline"] - START_SLACK_S:
            problems.append(f"process {n} stopped before the end of the window")
    starts = [r["start"] for r in reports]
    if max(starts) - min(starts) > 0.01:
        problems.append("the processes did not share one window")
    if requests is not None:
        answered = sum(r["answered"] for r in reports)
        if answered != requests:
            problems.append(f"{answered} answered of the {requests} requests asked for")
    if problems:
        raise LoadAccountingError(f"{label}: " + "; ".join(problems))


async def run_load(
    base_url: str,
    label: str,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    bodies: list[bytes] | None = None,
    concurrency: int = 32,
    duration_s: float = 10.0,
    requests: int | None = None,
    processes: int | None = None,
    warmup_s: float = 1.0,
) -> Result:
    """Drive ``method path`` with ``concurrency`` keep-alive connections and merge the figures.

    With ``requests`` set, exactly that many requests are sent (no warm-up, no deadline; the
    window runs from the common start to the last reply); otherwise every process warms up
    ``warmup_s`` seconds, then all of them measure the same ``duration_s`` seconds.
    """
    procs = (
        processes or int(os.environ.get("BENCH_CLIENT_PROCS", "0")) or min(2, os.cpu_count() or 1)
    )
    procs = max(1, min(procs, concurrency))
    if requests is not None:
        procs = max(1, min(procs, requests))
        warmup_s = 0.0
    shares = [concurrency // procs + (1 if n < concurrency % procs else 0) for n in range(procs)]
    request_shares = (
        [requests // procs + (1 if n < requests % procs else 0) for n in range(procs)]
        if requests is not None
        else [None] * procs
    )
    all_headers = {"Accept": "application/json", **(headers or {})}
    if bodies and not any(k.lower() == "content-type" for k in all_headers):
        all_headers["Content-Type"] = "application/json"
    specs = [
        {
            "index": n,
            "base_url": base_url,
            "method": method.upper(),
            "path": path,
            "headers": all_headers,
            "bodies": [b.decode("latin-1") for b in bodies or []],
            "connections": shares[n],
            "duration_s": duration_s,
            "requests": request_shares[n],
            "warmup_s": warmup_s,
        }
        for n in range(procs)
    ]
    reports = await run_clients("bench.loadgen", specs)
    check_books(label, reports, requests)
    start = reports[0]["start"]
    end = reports[0]["deadline"] if requests is None else max(r["last_done"] for r in reports)
    elapsed = max(end - start, 1e-9)
    latencies = sorted(x for r in reports for x in r["latencies"])
    count = len(latencies)
    return Result(
        label=label,
        rps=count / elapsed,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        count=count,
        errors=sum(r["errors"] for r in reports),
        statuses=merge_statuses(reports),
        duration_s=elapsed,
        concurrency=concurrency,
        mean_ms=sum(latencies) / count if count else 0.0,
        max_ms=latencies[-1] if latencies else 0.0,
        client_cpu_s=sum(r["cpu_s"] for r in reports),
        window=(start, end),
        in_flight=sum(r["busy_s"] for r in reports) / elapsed,
        processes=procs,
        sent=sum(r["sent"] for r in reports),
        answered=sum(r["answered"] for r in reports),
    )


if __name__ == "__main__":
    client_main(_client)
