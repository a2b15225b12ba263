"""The big screen in a real headless browser (Debian's ``chromium`` driven by its
``chromedriver`` over the WebDriver protocol): the page reads the meeting with the token of its
fragment, follows the live stream and draws a bar per option. Skipped without chromium."""

from __future__ import annotations

import asyncio
import base64
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.servers import free_port
from tests.events.helpers import make_world
from tests.votes.helpers import (
    GUARD_S,
    OPTIONS,
    LiveServer,
    coordination,
    more_residents,
    vote,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None, reason="chromium and chromedriver are not installed"
)
SCREENSHOT = Path(__file__).resolve().parents[2] / "bench" / "results" / "events-big-screen.png"


@pytest.fixture
async def browser() -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    assert DRIVER is not None and CHROMIUM is not None
    port = free_port()
    driver = await asyncio.create_subprocess_exec(
        DRIVER,
        f"--port={port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=GUARD_S)
    try:
        deadline = time.monotonic() + GUARD_S
        while True:
            try:
                if (await http.get("/status")).json()["value"]["ready"]:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "chromedriver did not start"
            await asyncio.sleep(0.1)
        options = {
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1280,720",
            ],
        }
        made = await http.post(
            "/session",
            json={"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}},
        )
        session = made.json()["value"]["sessionId"]
        yield http, f"/session/{session}"
        await http.delete(f"/session/{session}")
    finally:
        await http.aclose()
        driver.terminate()
        await driver.wait()


async def _script(http: httpx.AsyncClient, session: str, script: str) -> Any:
    reply = await http.post(f"{session}/execute/sync", json={"script": script, "args": []})
    return reply.json()["value"]


async def test_big_screen_in_chromium(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    live_server: LiveServer,
    browser: tuple[httpx.AsyncClient, str],
) -> None:
    http, session = browser
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="live")
    assert (await vote(client, w.h["resident"], eid, [opts[1]])).status_code == 201
    token = w.h["committee"]["Authorization"].removeprefix("Bearer ")
    await http.post(
        f"{session}/url", json={"url": f"{live_server.url}/events/{eid}/live#token={token}"}
    )

    text = "return document.getElementById('participants').textContent"
    deadline = time.monotonic() + GUARD_S
    while await _script(http, session, text) != "1":
        assert time.monotonic() < deadline, "the page never showed the ballot"
        await asyncio.sleep(0.2)
    # A second ballot arrives while the page is open: the screen follows the stream.
    assert (await vote(client, w.h["neighbour"], eid, [opts[0]])).status_code == 201
    while await _script(http, session, text) != "2":
        assert time.monotonic() < deadline, "the page did not follow the stream"
        await asyncio.sleep(0.2)
    # Three more make a crowd of five: the choices are counted (src/votes/secrecy.py).
    for headers in await more_residents(db, client, w, 3):
        assert (await vote(client, headers, eid, [opts[2]])).status_code == 201
    while await _script(http, session, text) != "5":
        assert time.monotonic() < deadline, "the page did not follow the stream"
        await asyncio.sleep(0.2)

    dom = (await http.get(f"{session}/source")).json()["value"]
    assert "口袋公园设计方案协调会" in dom  # the meeting's title, read with the token
    for title in OPTIONS:
        assert title in dom
    assert dom.count("1 票 · 20%") == 2 and dom.count("3 票 · 60%") == 1
    assert (
        await _script(http, session, "return document.getElementById('turnout').textContent")
        == "100%"
    )
    code = await _script(http, session, "return document.getElementById('qr-code').textContent")
    assert len(code) == 8
    while not await _script(
        http, session, "return document.getElementById('qr-img').naturalWidth > 0"
    ):
        assert time.monotonic() < deadline, "the QR image did not load"
        await asyncio.sleep(0.2)

    shot = base64.b64decode((await http.get(f"{session}/screenshot")).json()["value"])
    assert shot.startswith(b"\x89PNG") and len(shot) > 10_000
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.write_bytes(shot)
