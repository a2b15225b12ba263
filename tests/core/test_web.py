"""The web conventions of API.md (src/core/web.py), through HTTP: request ids on every
response, CORS, OPTIONS, 415, ETag/304 and compression — and streams left alone."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import brotli
import httpx
import uvicorn
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.app import create_app
from src.config import Settings
from src.core.servers import free_port
from tests.builders import login, make_tree, make_user
from tests.core.helpers import serve
from tests.events.helpers import make_world as make_event_world
from tests.exports.helpers import add_proposal, copy_proposals
from tests.exports.helpers import make_world as make_export_world
from tests.votes.helpers import GUARD_S, coordination, vote
from tests.votes.test_live import next_tally, tallies

CONSOLE = "https://console.lifecircle.test"
AREAS = "/api/v1/areas?level=street&limit=100"  # a public list, well over 500 bytes
RAW = {"Accept-Encoding": "identity"}


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


@asynccontextmanager
async def over_http(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` (already started by the ``client`` fixture) over real HTTP, so that a stream
    arrives piece by piece as the server sends it."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=GUARD_S) as http:
            yield http
    finally:
        server.should_exit = True
        await serving


# -- X-Request-Id ------------------------------------------------------------------------


async def test_a_clients_request_id_is_echoed_and_logged(client: httpx.AsyncClient) -> None:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    access = logging.getLogger("lifecircle.access")
    keep, level = Keep(), access.level
    access.addHandler(keep)
    access.setLevel(logging.INFO)
    try:
        mine = f"trace-{uuid.uuid4().hex}"
        reply = await client.get("/health", headers={"X-Request-Id": mine})
        missing = await client.get("/api/v1/no-such-thing", headers={"X-Request-Id": mine + "x"})
    finally:
        access.removeHandler(keep)
        access.setLevel(level)
    assert reply.status_code == 200 and reply.headers["x-request-id"] == mine
    assert missing.status_code == 404 and missing.headers["x-request-id"] == mine + "x"
    logged = {r.__dict__["request_id"]: r.__dict__["status"] for r in seen}
    assert logged[mine] == 200
    assert logged[mine + "x"] == 404  # a router-level 404 is logged, with the same id


async def test_an_unusable_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    for bad in ("", "has space", "x" * 129, "中文"):
        reply = await client.get("/health", headers={"X-Request-Id": bad.encode()})
        given = reply.headers["x-request-id"]
        assert given != bad and 0 < len(given) <= 128 and given.isascii()
    ok = "x" * 128
    assert (await client.get("/health", headers={"X-Request-Id": ok})).headers["x-request-id"] == ok
    first, second = (await client.get("/health")).headers, (await client.get("/health")).headers
    assert first["x-request-id"] != second["x-request-id"]


async def test_router_errors_and_limits_carry_a_request_id(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    not_found = await client.get("/api/v1/no-such-thing")
    assert not_found.status_code == 404 and not_found.headers["x-request-id"]
    not_allowed = await client.delete("/health")
    assert not_allowed.status_code == 405 and not_allowed.headers["x-request-id"]
    assert not_allowed.headers["content-type"].startswith("application/problem+json")

    limited_app = create_app(settings.model_copy(update={"rate_limit_ip_per_minute": 1}))
    ip = f"10.77.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    async with serve(limited_app, ip) as limited:
        await limited.get("/api/v1/areas?level=street")
        refused = await limited.get("/api/v1/areas?level=street", headers={"X-Request-Id": "r-1"})
    assert refused.status_code == 429 and refused.headers["x-request-id"] == "r-1"

    down = settings.model_copy(
        update={"database_url": "postgresql://postgres@127.0.0.1:1/nothing", "redis_url": None}
    )
    async with serve(create_app(down)) as broken:
        unavailable = await broken.get(
            "/api/v1/areas?level=street", headers={"X-Request-Id": "r-2"}
        )
    assert unavailable.status_code == 503 and unavailable.headers["x-request-id"] == "r-2"


# -- CORS and OPTIONS --------------------------------------------------------------------


async def test_cors_for_a_configured_origin_only(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"cors_origins": f"{CONSOLE}, https://h5.test"}))
    async with serve(app) as http:
        preflight = await http.options(
            "/api/v1/proposals",
            headers={
                "Origin": CONSOLE,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, idempotency-key",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == CONSOLE
        assert preflight.headers["access-control-allow-methods"] == "GET, OPTIONS, POST"
        allowed_headers = preflight.headers["access-control-allow-headers"].lower()
        for name in ("authorization", "content-type", "idempotency-key", "accept-language"):
            assert name in allowed_headers
        assert int(preflight.headers["access-control-max-age"]) > 0
        assert preflight.headers["x-request-id"]

        actual = await http.get(AREAS, headers={"Origin": CONSOLE})
        assert actual.status_code == 200
        assert actual.headers["access-control-allow-origin"] == CONSOLE
        assert "origin" in actual.headers["vary"].lower()
        exposed = actual.headers["access-control-expose-headers"].lower()
        for name in ("x-request-id", "etag", "idempotent-replayed", "retry-after"):
            assert name in exposed

        # Errors are readable by the console too (else it cannot show the message).
        missing = await http.get("/api/v1/no-such-thing", headers={"Origin": CONSOLE})
        assert missing.headers["access-control-allow-origin"] == CONSOLE

        for origin in ("https://evil.test", "null"):
            other = await http.options(
                "/api/v1/proposals",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            assert not any(h.startswith("access-control-") for h in other.headers)
            reply = await http.get(AREAS, headers={"Origin": origin})
            assert reply.status_code == 200
            assert not any(h.startswith("access-control-") for h in reply.headers)


async def test_no_cors_headers_without_configured_origins(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/v1/proposals", headers={"Origin": CONSOLE, "Access-Control-Request-Method": "POST"}
    )
    reply = await client.get(AREAS, headers={"Origin": CONSOLE})
    for response in (preflight, reply):
        assert not any(h.startswith("access-control-") for h in response.headers)


async def test_plain_options_lists_the_real_methods(client: httpx.AsyncClient) -> None:
    proposals = await client.options("/api/v1/proposals")
    assert proposals.status_code == 204 and proposals.content == b""
    assert proposals.headers["allow"] == "GET, OPTIONS, POST"
    one = await client.options(f"/api/v1/proposals/{uuid.uuid4()}/support")
    assert one.status_code == 204
    assert set(one.headers["allow"].split(", ")) == {"DELETE", "OPTIONS", "PUT"}
    assert one.headers["x-request-id"]
    assert (await client.options("/api/v1/no-such-thing")).status_code == 404


# -- 415 ---------------------------------------------------------------------------------


async def test_non_json_bodies_get_415(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(db, communities=1)
    headers = await login(client, await make_user(db, community=tree.communities[0]))
    body = json.dumps({"title": "路灯", "body": "坏了", "category": "safety"})
    plain = await client.post(
        "/api/v1/proposals", content=body, headers={**headers, "Content-Type": "text/plain"}
    )
    assert plain.status_code == 415
    assert plain.headers["content-type"].startswith("application/problem+json")
    assert plain.json()["code"] == "unsupported_media_type"
    assert "不支持" in plain.json()["detail"]
    english = await client.post(
        "/api/v1/proposals",
        content=body,
        headers={**headers, "Content-Type": "text/plain", "Accept-Language": "en"},
    )
    assert english.status_code == 415 and "JSON" in english.json()["detail"]
    form = await client.post(
        "/api/v1/proposals", files={"file": ("a.png", _png(), "image/png")}, headers=headers
    )
    assert form.status_code == 415 and form.json()["code"] == "unsupported_media_type"

    # Multipart stays the way to upload; JSON with a charset or a +json type is JSON.
    upload = await client.post(
        "/api/v1/uploads", files={"file": ("a.png", _png(), "image/png")}, headers=headers
    )
    assert upload.status_code == 201, upload.text
    not_form = await client.post(
        "/api/v1/uploads", content=b"{}", headers={**headers, "Content-Type": "text/plain"}
    )
    assert not_form.status_code == 415
    charset = await client.post(
        "/api/v1/proposals",
        content=body,
        headers={**headers, "Content-Type": "application/json; charset=utf-8"},
    )
    assert charset.status_code != 415

    # A POST that takes no body still works with none and no content type.
    logout = await client.post("/api/v1/auth/logout", headers=headers)
    assert logout.status_code == 204


# -- ETag and 304 ------------------------------------------------------------------------


async def test_etag_and_304_on_lists_and_details(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    listed = await client.get(AREAS)
    assert listed.status_code == 200
    etag = listed.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    again = await client.get(AREAS, headers={"If-None-Match": etag, "X-Request-Id": "cached-1"})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["x-request-id"] == "cached-1"
    other = await client.get(AREAS, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.json() == listed.json()

    w = await make_export_world(db, client)
    proposal = await add_proposal(db, w.a, w.author)
    url = f"/api/v1/proposals/{proposal.id}"
    detail = await client.get(url, headers=w.h["author"])
    assert detail.status_code == 200
    tag = detail.headers["etag"]
    unchanged = await client.get(url, headers={**w.h["author"], "If-None-Match": f"W/{tag}"})
    assert unchanged.status_code == 304
    # A change gives a new tag, so the old one no longer matches.
    reply = await client.post(
        f"{url}/replies", json={"body": "已安排维修"}, headers=w.h["street_staff"]
    )
    assert reply.status_code == 201, reply.text
    changed = await client.get(url, headers={**w.h["author"], "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


# -- compression -------------------------------------------------------------------------


async def test_gzip_and_br_decode_to_the_same_json(
    client: httpx.AsyncClient, app: Litestar
) -> None:
    raw = await client.get(AREAS, headers=RAW)
    assert "content-encoding" not in raw.headers
    assert len(raw.content) >= 500
    assert "accept-encoding" in raw.headers["vary"].lower()
    for coding, decode in (("gzip", gzip.decompress), ("br", brotli.decompress)):
        # A client without the suite's response hook, which reads (and decodes) every body.
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://lifecircle.test"
            ) as bare,
            bare.stream("GET", AREAS, headers={"Accept-Encoding": coding}) as reply,
        ):
            body = b"".join([chunk async for chunk in reply.aiter_raw()])
        assert reply.headers["content-encoding"] == coding
        assert int(reply.headers["content-length"]) == len(body) < len(raw.content)
        assert json.loads(decode(body)) == raw.json()
        assert reply.headers["etag"] == raw.headers["etag"]
    # q-values decide; q=0 refuses.
    prefer_gzip = await client.get(AREAS, headers={"Accept-Encoding": "br;q=0.5, gzip;q=0.9"})
    assert prefer_gzip.headers["content-encoding"] == "gzip"
    refused = await client.get(AREAS, headers={"Accept-Encoding": "gzip;q=0, br;q=0"})
    assert "content-encoding" not in refused.headers
    # Small bodies and 304s are not compressed.
    small = await client.get("/health", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
    cached = await client.get(
        AREAS, headers={"Accept-Encoding": "gzip", "If-None-Match": raw.headers["etag"]}
    )
    assert cached.status_code == 304 and "content-encoding" not in cached.headers


async def test_png_is_not_compressed(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_event_world(db, client)
    eid, _ = await coordination(client, w)
    png = await client.get(
        f"/api/v1/events/{eid}/check-in-code.png",
        headers={**w.h["committee"], "Accept-Encoding": "gzip, br"},
    )
    assert png.status_code == 200 and "content-encoding" not in png.headers
    assert "etag" not in png.headers


async def test_a_live_stream_is_not_compressed_and_stays_live(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], app: Litestar
) -> None:
    w = await make_event_world(db, client)
    eid, opts = await coordination(client, w, results_visibility="live")
    async with (
        over_http(app) as http,
        http.stream(
            "GET",
            f"/api/v1/events/{eid}/results/stream",
            headers={**w.h["neighbour"], "Accept-Encoding": "gzip, br"},
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers and "etag" not in response.headers
        assert response.headers["x-request-id"]
        stream = tallies(response)
        assert (await next_tally(stream))["voters"] == 0
        # The next event arrives while the stream is open: nothing holds it back.
        assert (await vote(client, w.h["resident"], eid, [opts[0]])).status_code == 201
        assert (await next_tally(stream))["voters"] == 1


async def test_a_csv_export_is_still_streamed(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    app: Litestar,
    database_url: str,
) -> None:
    w = await make_export_world(db, client)
    rows = 5000  # three batches of the export
    await copy_proposals(database_url, w.a, w.author, rows)
    pieces, body = 0, bytearray()
    async with (
        over_http(app) as http,
        http.stream(
            "GET",
            "/api/v1/exports/proposals",
            params={"street_id": str(w.street.id), "format": "csv"},
            headers={**w.h["street_staff"], "Accept-Encoding": "gzip, br"},
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked"
        assert "content-encoding" not in response.headers and "etag" not in response.headers
        assert response.headers["x-request-id"]
        async for chunk in response.aiter_raw():
            pieces += 1
            body += chunk
    assert pieces > 1, "the file arrives batch by batch, not in one piece"
    parsed = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert len(parsed) == rows + 1
