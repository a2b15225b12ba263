"""Two workers each listen on a socket of their own: 32 keep-alive connections opened at
once (a load balancer's pool, a load test) are spread over both, and stay so."""

from __future__ import annotations

import asyncio
import collections
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from src.core.servers import free_port

ROOT = Path(__file__).resolve().parents[2]

_SERVE = """
import sys, uvicorn
from src.core.workers import serve_workers
serve_workers(uvicorn.Config("tests.core.pid_app:app", host="127.0.0.1", port=int(sys.argv[1]),
                             workers=2, log_level="warning", lifespan="off"))
"""


async def _pids_of_connections(port: int, connections: int) -> list[int]:
    async def one() -> int:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            first = int((await client.get("/")).text)
            for _ in range(5):  # the same keep-alive connection keeps its worker
                assert int((await client.get("/")).text) == first
            return first

    return list(await asyncio.gather(*(one() for _ in range(connections))))


def test_connections_opened_at_once_spread_over_the_workers() -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", _SERVE, str(port)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the workers did not start"
                time.sleep(0.1)
        time.sleep(1)  # both workers listening
        for _ in range(3):
            by_worker = collections.Counter(asyncio.run(_pids_of_connections(port, 32)))
            assert len(by_worker) == 2, by_worker
            assert min(by_worker.values()) >= 6, by_worker
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
