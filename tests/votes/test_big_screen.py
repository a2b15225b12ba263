"""The big screen in a real headless browser (Debian's ``chromium`` driven by its
``chromedriver`` over the WebDriver protocol, installed by ``make test`` from
system-packages.txt): opened with a display link (no staff token), it fills a 1920×1080 and a
1280×720 projector with type readable from the back of the hall, follows ballots and
check-ins live, hides the QR once the meeting has closed and shows the results with their
digest, in Shanghai time whatever the browser's zone; a revoked or expired link, or none,
gives a clear message instead of a broken page."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.servers import free_port
from tests.events.helpers import World, make_world
from tests.votes.helpers import GUARD_S, OPTIONS, LiveServer, coordination, vote

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
if os.environ.get("CI") and (CHROMIUM is None or DRIVER is None):  # never skipped in CI
    raise RuntimeError("chromium and chromium-driver are needed: see system-packages.txt")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None, reason="chromium and chromedriver are not installed"
)
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Browser:
    def __init__(self, http: httpx.AsyncClient, session: str) -> None:
        self.http = http
        self.session = session

    async def open(self, url: str) -> None:
        reply = await self.http.post(f"{self.session}/url", json={"url": url})
        assert reply.status_code == 200, reply.text

    async def js(self, script: str) -> Any:
        reply = await self.http.post(
            f"{self.session}/execute/sync", json={"script": script, "args": []}
        )
        assert reply.status_code == 200, reply.text
        return reply.json()["value"]

    async def until(self, script: str, what: str) -> Any:
        """Wait (against a hang only) until ``script`` returns something truthy."""
        deadline = time.monotonic() + GUARD_S
        while not (value := await self.js(script)):
            assert time.monotonic() < deadline, what
            await asyncio.sleep(0.2)
        return value

    async def screenshot(self, name: str) -> None:
        shot = base64.b64decode((await self.http.get(f"{self.session}/screenshot")).json()["value"])
        assert shot.startswith(b"\x89PNG") and len(shot) > 10_000
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / name).write_bytes(shot)


BrowserFactory = Callable[[int, int, str], Awaitable[Browser]]


@pytest.fixture
async def browsers() -> AsyncIterator[BrowserFactory]:
    """Start a chromium of a given viewport and time zone (``TZ``, as a projector's PC set to
    another zone would be)."""
    assert DRIVER is not None and CHROMIUM is not None
    started: list[tuple[asyncio.subprocess.Process, httpx.AsyncClient, str]] = []

    async def start(width: int, height: int, zone: str) -> Browser:
        assert DRIVER is not None
        port = free_port()
        driver = await asyncio.create_subprocess_exec(
            DRIVER,
            f"--port={port}",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "TZ": zone},
        )
        http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=GUARD_S)
        started.append((driver, http, ""))
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
                "--hide-scrollbars",
                f"--window-size={width},{height}",
            ],
        }
        made = await http.post(
            "/session", json={"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}}
        )
        assert made.status_code == 200, made.text
        session = f"/session/{made.json()['value']['sessionId']}"
        started[-1] = (driver, http, session)
        browser = Browser(http, session)
        size = await browser.js("return [innerWidth, innerHeight]")
        if size != [width, height]:  # the window's frame took some: size the viewport itself
            await http.post(
                f"{session}/window/rect",
                json={"width": 2 * width - size[0], "height": 2 * height - size[1]},
            )
        assert await browser.js("return [innerWidth, innerHeight]") == [width, height]
        return browser

    try:
        yield start
    finally:
        for driver, http, session in started:
            if session:
                await http.delete(session)
            await http.aclose()
            driver.terminate()
            await driver.wait()


async def display_link(client: httpx.AsyncClient, w: World, event_id: str) -> tuple[str, str]:
    made = await client.post(f"/api/v1/events/{event_id}/display-links", headers=w.h["committee"])
    assert made.status_code == 201, made.text
    return made.json()["id"], made.json()["url"]


def on(server: LiveServer, url: str) -> str:
    """The link's path and fragment on the test server (the link names the public host)."""
    return server.url + url[url.index("/events/") :]


MEASURE = """
const px = (el) => parseFloat(getComputedStyle(el).fontSize);
const all = (sel) => [...document.querySelectorAll(sel)];
const rows = all('.option');
const last = rows[rows.length - 1].getBoundingClientRect();
const bars = all('.option .bar').map((b) => b.getBoundingClientRect());
return {
  title: px(document.getElementById('title')),
  labels: Math.min(...all('.option .name').map(px)),
  figures: Math.min(...all('.figure b').map(px)),
  counts: Math.min(...all('.option .count b').map(px)),
  bar_height: Math.min(...bars.map((b) => b.height)),
  bar_width: Math.min(...bars.map((b) => b.width)),
  options_bottom: last.bottom,
  board_bottom: document.getElementById('board').getBoundingClientRect().bottom,
  aside_bottom: document.querySelector('aside').getBoundingClientRect().bottom,
  qr_width: document.getElementById('qr-img').getBoundingClientRect().width,
  scroll: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],
  viewport: [innerWidth, innerHeight],
};
"""
SHOWN = "return (el => el && !el.hidden && el.getBoundingClientRect().width > 0)"


def shanghai(moment: str) -> str:
    at = dt.datetime.fromisoformat(moment).astimezone(SHANGHAI)
    return f"{at.month}月{at.day}日 {at:%H:%M}"


async def test_big_screen_1080p_follows_the_meeting(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    live_server: LiveServer,
    browsers: BrowserFactory,
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="live", electorate=10)
    assert (await vote(client, w.h["resident"], eid, [opts[1]])).status_code == 201
    _, url = await display_link(client, w, eid)
    browser = await browsers(1920, 1080, "America/New_York")
    await browser.open(on(live_server, url))
    await browser.until(
        "return document.getElementById('participants').textContent === '1'",
        "the page never showed the ballot",
    )
    await browser.until(
        "return document.getElementById('qr-img').naturalWidth > 0", "the QR did not load"
    )
    dom = await browser.js("return document.body.innerText")
    assert "口袋公园设计方案协调会" in dom
    for title in OPTIONS:
        assert title in dom
    assert await browser.js("return document.getElementById('turnout').textContent") == "10%"
    assert len(await browser.js("return document.getElementById('qr-code').textContent")) == 8

    # Readable from 15 m and filling the projector: labels ≥ 48 px, figures ≥ 96 px, no
    # scrolling, the options reaching down the screen, nothing large left empty.
    m = await browser.js(MEASURE)
    assert m["viewport"] == [1920, 1080] and m["scroll"] == [1920, 1080], m
    assert m["labels"] >= 48 and m["title"] >= 48, m
    assert m["figures"] >= 96 and m["counts"] >= 96, m
    assert m["bar_height"] >= 40 and m["bar_width"] >= 850, m
    assert m["options_bottom"] >= 0.75 * 1080 and m["board_bottom"] >= 0.9 * 1080, m
    assert m["aside_bottom"] >= 0.9 * 1080 and m["qr_width"] >= 450, m

    # Shanghai time, though the browser runs in New York.
    assert await browser.js("return Intl.DateTimeFormat().resolvedOptions().timeZone") == (
        "America/New_York"
    )
    event = (await client.get(f"/api/v1/events/{eid}", headers=w.h["committee"])).json()
    when = await browser.js("return document.getElementById('when').textContent")
    assert when == f"{shanghai(event['starts_at'])}–{shanghai(event['ends_at'])[-5:]}"
    clock = await browser.js("return document.getElementById('clock').textContent")
    now = dt.datetime.now(SHANGHAI)
    assert clock.startswith("北京时间 ") and clock[5:7] in {f"{now:%H}", f"{now.hour - 1:02d}"}

    # Check-ins arrive live, through the stream: with the page's own reads of the meeting
    # blocked, the count still follows.
    await browser.js(
        "window.__fetch = window.fetch; window.fetch = (u, o) => String(u).endsWith('/display')"
        " ? Promise.reject(new Error('blocked by the test')) : window.__fetch(u, o);"
    )
    code = (
        await client.get(f"/api/v1/events/{eid}/check-in-code", headers=w.h["committee"])
    ).json()["code"]
    for who in ("resident", "neighbour"):
        checked = await client.post(
            f"/api/v1/events/{eid}/check-ins", json={"code": code}, headers=w.h[who]
        )
        assert checked.status_code in (200, 201), checked.text
    await browser.until(
        "return document.getElementById('checkins').textContent === '2'",
        "the check-ins did not reach the screen through the stream",
    )
    assert (await vote(client, w.h["neighbour"], eid, [opts[0]])).status_code == 201
    await browser.until(
        "return document.getElementById('participants').textContent === '2'",
        "the page did not follow the stream",
    )
    await browser.js("window.fetch = window.__fetch;")
    await browser.screenshot("events-big-screen.png")

    # Closed: the QR goes, the final page shows the results and their digest.
    closed = await client.post(f"/api/v1/events/{eid}/close", headers=w.h["committee"])
    assert closed.status_code == 200
    await browser.until(SHOWN + "(document.getElementById('final'))", "no final page")
    results = (await client.get(f"/api/v1/events/{eid}/results", headers=w.h["resident"])).json()
    digest = await browser.js("return document.getElementById('digest').textContent")
    assert digest.split() == [results["digest"][i : i + 16] for i in range(0, 64, 16)]
    assert not await browser.js(SHOWN + "(document.getElementById('qr'))")
    assert await browser.js("return document.getElementById('qr-img').getAttribute('src')") is None
    counts = await browser.js(
        "return [...document.querySelectorAll('.option .count b')].map(b => b.textContent)"
    )
    assert counts == [str(o["votes"]) for o in results["options"]] == ["1", "1", "0"]
    m = await browser.js(MEASURE)
    assert m["scroll"] == [1920, 1080] and m["labels"] >= 48 and m["figures"] >= 96, m
    # Still closed after a reload: no QR comes back.
    await browser.open(on(live_server, url))
    await browser.until(SHOWN + "(document.getElementById('final'))", "no final page on reload")
    assert not await browser.js(SHOWN + "(document.getElementById('qr'))")
    await browser.screenshot("events-big-screen-final.png")


async def test_big_screen_720p_and_links_that_stop(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    live_server: LiveServer,
    browsers: BrowserFactory,
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="after_close")
    assert (await vote(client, w.h["resident"], eid, [opts[2]])).status_code == 201
    link_id, url = await display_link(client, w, eid)
    browser = await browsers(1280, 720, "Europe/London")
    await browser.open(on(live_server, url))
    await browser.until(
        "return document.getElementById('participants').textContent === '1'", "no data"
    )
    # The figures are hidden before close (what residents see), the turnout is not.
    assert await browser.js("return document.getElementById('turnout').textContent") == "50%"
    assert await browser.js(SHOWN + "(document.getElementById('hidden'))")
    assert "—" in await browser.js("return document.getElementById('options').innerText")

    # Scaled for 720p: two thirds of the 1080p sizes, still filling the screen.
    m = await browser.js(MEASURE)
    assert m["viewport"] == [1280, 720] and m["scroll"] == [1280, 720], m
    assert m["labels"] >= 32 and m["figures"] >= 64 and m["counts"] >= 64, m
    assert m["options_bottom"] >= 0.7 * 720 and m["board_bottom"] >= 0.9 * 720, m
    await browser.screenshot("events-big-screen-720p.png")

    # Revoked while on screen: the data goes, a clear message stays.
    revoked = await client.delete(
        f"/api/v1/events/{eid}/display-links/{link_id}", headers=w.h["committee"]
    )
    assert revoked.status_code == 204
    await browser.until(SHOWN + "(document.getElementById('notice'))", "no revoked notice")
    notice = await browser.js("return document.getElementById('notice').innerText")
    assert "撤销" in notice
    assert not await browser.js(SHOWN + "(document.getElementById('screen'))")

    # No link at all: a message, not a blank 401 with a broken image.
    await browser.open(f"{live_server.url}/events/{eid}/live")
    await browser.until(SHOWN + "(document.getElementById('notice'))", "no notice without a link")
    assert "投屏链接" in await browser.js("return document.getElementById('notice').innerText")
    broken = "return [...document.images].filter(i => i.src && i.naturalWidth === 0).length"
    assert await browser.js(broken) == 0

    # Expired (the meeting ended more than a day ago): a message too.
    _, second = await display_link(client, w, eid)
    await client.post(f"/api/v1/events/{eid}/close", headers=w.h["committee"])
    async with db() as session, session.begin():
        await session.execute(
            text("UPDATE events SET closed_at = now() - interval '2 days' WHERE id = :e"),
            {"e": eid},
        )
    await browser.open(on(live_server, second))
    await browser.until(SHOWN + "(document.getElementById('notice'))", "no expired notice")
    assert "过期" in await browser.js("return document.getElementById('notice').innerText")
