"""Schemathesis against the served OpenAPI document, as every role and anonymously.

Zero server errors, zero responses that break the documented schema, every refusal a
problem+json with a ``code`` (tests/security/st_hooks.py). The API runs over real HTTP on its
own database (the fuzzer creates junk). Bounded in ``make test``: the fuzzing phase with
``LIFECIRCLE_FUZZ_EXAMPLES`` (default 2) cases per operation; ``make fuzz`` adds the coverage
(boundary values) and stateful phases and many more cases.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from src.app import create_app
from src.config import Settings
from src.core.db import create_engine, make_sessionmaker
from src.core.servers import BackgroundServer
from src.demo import seed_demo
from src.integrations.city_portal.fake import FakePortal
from tests.conftest import ROOT, _recreate_database

ROLES = {
    "resident": "13820101000",
    "committee": "13900002101",
    "street": "13900000011",
    "admin": "13900000001",
}
CHECKS = (
    "not_a_server_error,response_schema_conformance,content_type_conformance,"
    "problem_details,no_personal_data"
)


async def _seed(url: str) -> None:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await seed_demo(session)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def fuzz_api(settings: Settings) -> Iterator[str]:
    assert settings.database_url
    url = make_url(settings.database_url)
    fuzz_url = url.set(database=f"{url.database}_fuzz").render_as_string(hide_password=False)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_recreate_database(fuzz_url))
        env = {**os.environ, "LIFECIRCLE_DATABASE_URL": fuzz_url}
        subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True
        )
        loop.run_until_complete(_seed(fuzz_url))
    finally:
        loop.close()
    # The city portal's single sign-on answers through its fake, as in the demo.
    portal = BackgroundServer(
        FakePortal(settings.portal_app_id, settings.portal_app_secret, seed=1).app
    ).start()
    app = create_app(
        settings.model_copy(update={"database_url": fuzz_url, "portal_api_base": portal.url})
    )
    server = BackgroundServer(app, lifespan="on").start()
    # The walking graph loads in the background after start-up (503 `network_loading` until
    # then, which is right for a client but not what the fuzzer should meet).
    deadline = time.monotonic() + 120
    while app.state.facilities.loaded is None:
        assert time.monotonic() < deadline, "the walking graph did not load"
        time.sleep(0.2)
    yield server.url
    server.stop()
    portal.stop()


# ``make test`` fuzzes as an outsider, a resident and street staff (the widest staff role of
# the demo's street); ``make fuzz`` as everyone.
FUZZ_ROLES = (
    ["anonymous", *ROLES]
    if os.environ.get("LIFECIRCLE_FUZZ_ROLES") == "all"
    else ["anonymous", "resident", "street"]
)


@pytest.mark.parametrize("role", FUZZ_ROLES)
def test_schemathesis_finds_nothing(fuzz_api: str, role: str, tmp_path: Path) -> None:
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{fuzz_api}/schema/openapi.json",
        "--checks",
        CHECKS,
        "--phases",
        os.environ.get("LIFECIRCLE_FUZZ_PHASES", "fuzzing"),
        "--max-examples",
        os.environ.get("LIFECIRCLE_FUZZ_EXAMPLES", "2"),
        "--workers",
        "1",
        "--suppress-health-check",
        "all",
        "--no-color",
        # A request that never ends is a bug to report, not a reason to hang the run.
        "--request-timeout",
        "30",
        "--seed",
        os.environ.get("LIFECIRCLE_FUZZ_SEED", "20261130"),
    ]
    if role != "anonymous":
        reply = httpx.post(f"{fuzz_api}/api/v1/auth/dev-login", json={"phone": ROLES[role]})
        reply.raise_for_status()
        token = reply.json()["access_token"]
        # Sign-in endpoints are fuzzed anonymously; fuzzing them here could end this session.
        command += ["-H", f"Authorization: Bearer {token}"]
        command += ["--exclude-path-regex", "^/api/v1/auth/"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.security.st_hooks", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
