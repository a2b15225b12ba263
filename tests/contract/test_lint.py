"""Redocly CLI lints the served document on its ``recommended`` rules: no error, no warning.

The linter is pinned in tools/openapi-lint (package.json and package-lock.json); ``npm ci``
installs it there the first time, and again whenever the lock file changes."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import httpx

from tests.conftest import ROOT

LINT = ROOT / "tools" / "openapi-lint"


def _installed() -> Path:
    npm = shutil.which("npm")
    assert npm, "npm is needed for the OpenAPI lint (Node 20 or later)"
    marker = LINT / "node_modules" / ".package-lock.json"
    lock = LINT / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        run = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=LINT, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stdout + run.stderr
    return LINT / "node_modules" / ".bin" / "redocly"


async def test_redocly_finds_nothing(client: httpx.AsyncClient, tmp_path: Path) -> None:
    redocly = _installed()
    document = tmp_path / "openapi.json"
    document.write_bytes((await client.get("/schema/openapi.json")).content)
    run = await asyncio.create_subprocess_exec(
        *[str(redocly), "lint", "--extends=recommended", "--format=json", str(document)],
        cwd=LINT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await run.communicate()
    report = json.loads(out)
    problems = [
        f"{p['severity']} {p['ruleId']}: {p['message']} at {p['location'][0]['pointer']}"
        for p in report["problems"]
    ]
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}, problems
    assert run.returncode == 0, err.decode()
