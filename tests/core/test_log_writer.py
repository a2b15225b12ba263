"""The log writer: every line reaches stderr whole, as JSON, in order, from any thread, and
what is kept when the process exits is written."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROGRAM = textwrap.dedent(
    """
    import logging, threading
    from src.core.logging import configure_logging

    configure_logging("INFO")
    log = logging.getLogger("lifecircle.test")

    def burst(name):
        for i in range(2000):
            log.info("line %s %d 13812345678", name, i)

    threads = [threading.Thread(target=burst, args=(n,)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    burst("main")
    for t in threads:
        t.join()
    log.warning("last words")
    """
)


def test_every_line_is_written_whole_in_order_and_masked() -> None:
    run = subprocess.run(
        [sys.executable, "-c", _PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr[-2000:]
    entries = [json.loads(line) for line in run.stderr.splitlines()]
    assert len(entries) == 4 * 2000 + 1
    for name in ("a", "b", "c", "main"):
        mine = [e["msg"] for e in entries if e["msg"].startswith(f"line {name} ")]
        assert mine == [f"line {name} {i} 138****5678" for i in range(2000)]
    assert entries[-1] == entries[-1] | {"level": "warning", "msg": "last words"}
