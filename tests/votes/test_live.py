"""Live results over real HTTP: a second app instance (its own tally hub, as another worker
would be) follows the stream while ballots arrive through the first; Redis pub/sub carries
the wake-ups. Also the disconnects, the big screen page and the QR image."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.events.helpers import make_world
from tests.votes.helpers import GUARD_S, LiveServer, coordination, vote


async def tallies(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The ``tally`` events of an SSE response, parsed."""
    event, data = None, []
    async for line in response.aiter_lines():
        if line == "":
            if event == "tally" and data:
                yield json.loads("\n".join(data))
            event, data = None, []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


async def next_tally(stream: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(anext(stream), GUARD_S)


async def test_stream_follows_ballots_across_instances(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], live_server: LiveServer
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="live")
    async with (
        httpx.AsyncClient(base_url=live_server.url, timeout=GUARD_S) as http,
        http.stream(
            "GET", f"/api/v1/events/{eid}/results/stream", headers=w.h["neighbour"]
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = tallies(response)
        first = await next_tally(stream)
        assert first["voters"] == 0 and first["final"] is False

        # Cast through the other instance; the stream's hub learns it through Redis.
        assert (await vote(client, w.h["resident"], eid, [opts[1]])).status_code == 201
        update = await next_tally(stream)
        while update["voters"] < 1:
            update = await next_tally(stream)
        # One ballot is no crowd: counted as a voter, its choice sealed until close.
        assert update["options"][1]["votes"] == 0 and update["turnout"] == 0.5

        assert (await vote(client, w.h["neighbour"], eid, [opts[1]])).status_code == 201
        closed = await client.post(f"/api/v1/events/{eid}/close", headers=w.h["committee"])
        assert closed.status_code == 200
        last = await next_tally(stream)
        while not last["final"]:
            last = await next_tally(stream)
        assert last["voters"] == 2 and last["options"][1]["votes"] == 2
        # After the final tally the server ends the stream.
        with pytest.raises(StopAsyncIteration):
            await next_tally(stream)


async def test_stream_hides_what_the_rule_hides(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], live_server: LiveServer
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="after_close")
    assert (await vote(client, w.h["resident"], eid, [opts[0]])).status_code == 201
    async with httpx.AsyncClient(base_url=live_server.url, timeout=GUARD_S) as http:
        url = f"/api/v1/events/{eid}/results/stream"
        async with http.stream("GET", url, headers=w.h["resident"]) as response:
            masked = await next_tally(tallies(response))
        assert masked["hidden"] is True and masked["voters"] == 1
        assert [o["votes"] for o in masked["options"]] == [None, None, None]
        async with http.stream("GET", url, headers=w.h["committee"]) as response:
            staff = await next_tally(tallies(response))
        assert staff["hidden"] is False and staff["voters"] == 1
        assert [o["votes"] for o in staff["options"]] == [0, 0, 0]  # sealed: no crowd yet
        # The big screen asks for what residents may see, even with the committee's token.
        async with http.stream(
            "GET", url, params={"audience": "public"}, headers=w.h["committee"]
        ) as response:
            screen = await next_tally(tallies(response))
        assert screen["hidden"] is True
        outsider = await http.get(url, headers=w.h["outsider"])
        assert outsider.status_code == 404


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_disconnects_are_clean(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], live_server: LiveServer
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="live")
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    hub = live_server.app.state.tally_hub
    try:
        for _ in range(5):
            async with (
                httpx.AsyncClient(base_url=live_server.url, timeout=GUARD_S) as http,
                http.stream(
                    "GET", f"/api/v1/events/{eid}/results/stream", headers=w.h["resident"]
                ) as response,
            ):
                await next_tally(tallies(response))
            # Leaving the block drops the connection in the middle of the body.
        deadline = time.monotonic() + GUARD_S
        while any(str(e) == eid for e in map(str, hub.watches)):
            assert time.monotonic() < deadline, "the watch was not released"
            await asyncio.sleep(0.05)
        # The server is fine afterwards and logged no error for the dropped streams.
        assert (await vote(client, w.h["resident"], eid, [opts[0]])).status_code == 201
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            assert (await http.get("/health")).status_code == 200
    finally:
        logging.getLogger().removeHandler(errors)
    assert [r.getMessage() for r in errors.records] == []


async def test_big_screen_and_qr(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    eid, _ = await coordination(client, w)
    page = await client.get(f"/events/{eid}/live")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert eid in page.text and "http://" not in page.text and "https://" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    missing = await client.get("/events/not-an-id/live")
    assert missing.status_code == 404

    png = await client.get(f"/api/v1/events/{eid}/check-in-code.png", headers=w.h["committee"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    denied = await client.get(f"/api/v1/events/{eid}/check-in-code.png", headers=w.h["resident"])
    assert denied.status_code == 403


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def test_redis_away_local_tally_still_moves_and_the_outage_is_logged_once(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """Found by the chaos run: with Redis down every ballot batch logged a full traceback
    (hundreds a second). The hub must keep its own watchers current and say it once."""
    from src.core.servers import free_port
    from src.votes.live import TallyHub

    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="live")
    # Nothing listens on this port: every publish fails as when Redis is stopped.
    hub = TallyHub(db, f"redis://127.0.0.1:{free_port()}/0", coalesce_s=0.0)
    records = _Records()
    logger = logging.getLogger("lifecircle.votes.live")
    logger.addHandler(records)
    await hub.start()
    try:
        event_id = uuid.UUID(eid)
        async with hub.watch(event_id) as watch:
            got = await watch.next(0, GUARD_S)
            assert got is not None and got[1]["voters"] == 0
            seen = got[0]
            for n, who in enumerate(("resident", "neighbour")):
                assert (await vote(client, w.h[who], eid, [opts[0]])).status_code == 201
                hub.changed(event_id)  # the app's hub announces its commits; so does this one
                deadline = time.monotonic() + GUARD_S
                while True:
                    got = await watch.next(seen, 1.0)
                    if got is not None:
                        seen = got[0]
                        if got[1]["voters"] == n + 1:
                            break
                    assert time.monotonic() < deadline, "the local tally did not move"
        # The subscriber retries every second meanwhile: it too says so once.
        await asyncio.sleep(2.5)
    finally:
        await hub.stop()
        logger.removeHandler(records)
    failures = [m for m in records.messages if m.startswith("tally publish failed")]
    assert len(failures) == 1, records.messages
    lost = [m for m in records.messages if m.startswith("tally subscription lost")]
    assert len(lost) == 1, records.messages


async def test_a_newcomer_gets_a_current_tally_when_a_wake_was_lost(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """Found by the chaos run: a wake lost with a broken Redis connection left a worker's
    shared tally behind, and every stream opened there started (and stayed, until the next
    ballot or the 15 s refresh) on the old count."""
    from src.votes.live import TallyHub

    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="live")
    # Hears nothing of the app's commits, and no periodic refresh within the test.
    hub = TallyHub(db, None, coalesce_s=0.0, refresh_s=3600)
    await hub.start()
    try:
        event_id = uuid.UUID(eid)
        async with hub.watch(event_id) as first:
            got = await first.next(0, GUARD_S)
            assert got is not None and got[1]["voters"] == 0
            assert (await vote(client, w.h["resident"], eid, [opts[0]])).status_code == 201
            # The ballot's wake never reaches this hub: the first watcher keeps the old count.
            assert await first.next(got[0], 0.5) is None
            async with hub.watch(event_id) as second:
                moved = await second.next(got[0], GUARD_S)
                assert moved is not None and moved[1]["voters"] == 1
    finally:
        await hub.stop()
