"""Stream tickets: a browser's EventSource (no headers) follows the live results with a
short-lived ticket; a display link's stream sees the public view and ends when revoked."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.votes import tickets
from tests.events.helpers import make_world
from tests.votes.helpers import GUARD_S, LiveServer, coordination, more_residents, vote

HEADER = "X-Display-Link"


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event, data) of an SSE response."""
    event, data = None, []
    async for line in response.aiter_lines():
        if line == "":
            if event and data:
                yield event, json.loads("\n".join(data))
            event, data = None, []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


async def ticket_for(
    client: httpx.AsyncClient, event_id: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(f"/api/v1/events/{event_id}/results/stream-tickets", headers=headers)


async def test_ticket_opens_the_stream_without_headers(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    live_server: LiveServer,
    settings: Settings,
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="after_vote")
    assert (await vote(client, w.h["resident"], eid, [opts[2]])).status_code == 201
    # Four more make a crowd of five: only then are choices counted (src/votes/secrecy.py).
    for headers in await more_residents(db, client, w, 4):
        assert (await vote(client, headers, eid, [opts[2]])).status_code == 201
    got = await ticket_for(client, eid, w.h["resident"])
    assert got.status_code == 201, got.text
    body = got.json()
    assert body["expires_in"] == settings.event_stream_ticket_ttl_s
    stream_url = f"/api/v1/events/{eid}/results/stream"
    async with (
        httpx.AsyncClient(base_url=live_server.url, timeout=GUARD_S) as http,
        http.stream("GET", stream_url, params={"ticket": body["ticket"]}) as response,
    ):
        assert response.status_code == 200
        assert "authorization" not in response.request.headers
        name, tally = await asyncio.wait_for(anext(events(response)), GUARD_S)
        # The resident voted: under after_vote they see the figures, as with their token.
        assert name == "tally" and tally["options"][2]["votes"] == 5

    # Without a ticket or a token: 401; a ticket of another meeting, altered or old: 401.
    async with httpx.AsyncClient(base_url=live_server.url, timeout=GUARD_S) as http:
        bare = await http.get(stream_url)
        assert bare.status_code == 401
        other, _ = await coordination(client, w, results_visibility="live")
        foreign = await http.get(
            f"/api/v1/events/{other}/results/stream", params={"ticket": body["ticket"]}
        )
        assert foreign.status_code == 401 and foreign.json()["code"] == "stream_ticket_invalid"
        expires, subject, signature = body["ticket"].split(".")
        forged = f"{expires}.u{uuid.uuid4().hex}{subject[33:]}.{signature}"
        altered = await http.get(stream_url, params={"ticket": forged})
        assert altered.status_code == 401 and altered.json()["code"] == "stream_ticket_invalid"
        stale = tickets.issue(
            settings.secret_key,
            tickets.verify(settings.secret_key, uuid.UUID(eid), body["ticket"]),
            ttl_s=60,
            now=time.time() - 120,
        )
        old = await http.get(stream_url, params={"ticket": stale})
        assert old.status_code == 401 and old.json()["code"] == "stream_ticket_expired"
        junk = await http.get(stream_url, params={"ticket": "nonsense"})
        assert junk.status_code == 401

    # Only who may watch gets one: not another community's resident, not anonymously.
    assert (await ticket_for(client, eid, w.h["outsider"])).status_code == 404
    assert (await ticket_for(client, eid, {})).status_code == 401


async def test_display_stream_is_public_and_ends_when_revoked(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], live_server: LiveServer
) -> None:
    w = await make_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="after_close")
    assert (await vote(client, w.h["resident"], eid, [opts[0]])).status_code == 201
    made = await client.post(f"/api/v1/events/{eid}/display-links", headers=w.h["committee"])
    link_id, secret = made.json()["id"], made.json()["url"].partition("#display=")[2]
    got = await ticket_for(client, eid, {HEADER: secret})
    assert got.status_code == 201, got.text
    async with (
        httpx.AsyncClient(base_url=live_server.url, timeout=GUARD_S) as http,
        http.stream(
            "GET",
            f"/api/v1/events/{eid}/results/stream",
            # audience=me is ignored: a display link sees the public view only.
            params={"ticket": got.json()["ticket"], "audience": "me"},
        ) as response,
    ):
        assert response.status_code == 200
        stream = events(response)
        name, tally = await asyncio.wait_for(anext(stream), GUARD_S)
        assert name == "tally" and tally["hidden"] is True and tally["voters"] == 1
        assert [o["votes"] for o in tally["options"]] == [None, None, None]

        # Check-ins reach the screen through the stream (no polling).
        code = (
            await client.get(f"/api/v1/events/{eid}/check-in-code", headers=w.h["committee"])
        ).json()["code"]
        checked = await client.post(
            f"/api/v1/events/{eid}/check-ins", json={"code": code}, headers=w.h["neighbour"]
        )
        assert checked.status_code in (200, 201), checked.text
        while tally["check_in_count"] < 1:
            name, tally = await asyncio.wait_for(anext(stream), GUARD_S)
        assert tally["hidden"] is True

        revoked = await client.delete(
            f"/api/v1/events/{eid}/display-links/{link_id}", headers=w.h["committee"]
        )
        assert revoked.status_code == 204
        while name != "revoked":
            name, last = await asyncio.wait_for(anext(stream), GUARD_S)
        assert last["code"] == "display_link_revoked" and "撤销" in last["detail"]
        finished = False
        try:
            await asyncio.wait_for(anext(stream), GUARD_S)
        except StopAsyncIteration:
            finished = True
        assert finished, "the stream goes on after its link was revoked"
