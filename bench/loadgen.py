"""Keep-alive HTTP/1.1 load from separate client processes.

Each client process (``python -m bench.loadgen``) reads a JSON spec on stdin, opens its share
of the connections as raw asyncio sockets (uvloop when installed), sends requests back to back
on each connection and prints one JSON line: latencies, status counts, errors and the CPU it
used. :func:`run_load` starts the processes, merges their reports and returns a
:class:`Result`. No HTTP library sits in the hot loop, so the client stays cheap next to the
server it measures.

Templating: the text ``{seq}`` in a header value or a body is replaced by a token unique to
the request (e.g. ``Idempotency-Key: bench-{seq}``).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

SEQ = "{seq}"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Result:
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    count: int
    errors: int
    statuses: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    concurrency: int = 0
    mean_ms: float = 0.0
    max_ms: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float | None = None
    window: tuple[float, float] = (0.0, 0.0)  # wall-clock span the figures cover (epoch s)

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
    warmup_s: float = spec.get("warmup_s", 0.0)
    budget = _Budget(spec.get("requests"))
    prefix = f"{os.getpid()}-{spec['index']}-{time.time_ns()}"
    counter = 0

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    start = time.perf_counter() + warmup_s
    deadline = start + spec["duration_s"] if spec.get("requests") is None else float("inf")

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

    async def worker(offset: int) -> None:
        nonlocal errors
        i = offset
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while time.perf_counter() < deadline and budget.take():
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                assert reader is not None
                payload = build(i)
                i += 1
                sent = time.perf_counter()
                writer.write(payload)
                status, keep_alive = await _read_response(reader)
                done = time.perf_counter()
                if sent >= start:
                    latencies.append((done - sent) * 1000)
                    statuses[str(status)] = statuses.get(str(status), 0) + 1
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

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    window: dict[str, float] = {}

    async def mark_start() -> None:
        # CPU and wall clock from the end of the warm-up: what the figures cover.
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        window["cpu"], window["at"] = cpu(), time.time()

    marker = asyncio.ensure_future(mark_start())
    await asyncio.gather(*(worker(n * 7919) for n in range(connections)))
    await marker
    elapsed = time.perf_counter() - start
    return {
        "latencies": latencies,
        "statuses": statuses,
        "errors": errors,
        "elapsed_s": elapsed,
        "cpu_s": cpu() - window["cpu"],
        "window": [window["at"], time.time()],
    }


def _client_main() -> None:
    spec = json.loads(sys.stdin.read())
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        report = asyncio.run(_client(spec))
    else:
        report = uvloop.run(_client(spec))
    sys.stdout.write(json.dumps(report))


# --- the coordinator -------------------------------------------------------------------


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

    With ``requests`` set, exactly that many requests are sent (no warm-up, no deadline);
    otherwise the load runs ``duration_s`` seconds after ``warmup_s`` seconds of warm-up.
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
    spawned = []
    for n in range(procs):
        spec = {
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
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.loadgen",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        spawned.append((proc, json.dumps(spec).encode()))
    reports = []
    for proc, payload in spawned:
        out, _ = await proc.communicate(payload)
        if proc.returncode != 0:
            raise RuntimeError(f"load client exited with {proc.returncode}")
        reports.append(json.loads(out))
    latencies = sorted(x for r in reports for x in r["latencies"])
    statuses: dict[str, int] = {}
    for r in reports:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    elapsed = max(r["elapsed_s"] for r in reports) or 1e-9
    count = len(latencies)
    return Result(
        label=label,
        rps=count / elapsed,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        count=count,
        errors=sum(r["errors"] for r in reports),
        statuses=dict(sorted(statuses.items())),
        duration_s=elapsed,
        concurrency=concurrency,
        mean_ms=sum(latencies) / count if count else 0.0,
        max_ms=latencies[-1] if latencies else 0.0,
        client_cpu_s=sum(r["cpu_s"] for r in reports),
        window=(min(r["window"][0] for r in reports), max(r["window"][1] for r in reports)),
    )


if __name__ == "__main__":
    _client_main()
