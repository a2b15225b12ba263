"""GET /metrics: what an operator's Prometheus scrapes."""

from __future__ import annotations

import re

import httpx
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.app import create_app
from src.config import Settings
from tests.proposals.helpers import make_world, submit


def _sample(body: str, name: str, **labels: str) -> float | None:
    """The value of one sample line, or None when the series is absent."""
    for line in body.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_requests_are_counted_per_route_template(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    area_id = (await client.get("/api/v1/areas?level=street")).json()["items"][0]["id"]
    for _ in range(3):
        assert (await client.get(f"/api/v1/areas/{area_id}")).status_code == 200
    reply = await client.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    template = "/api/v1/areas/{area_id:uuid}"
    path_label = next(
        m.group(1)
        for m in re.finditer(r'path="([^"]+)"', reply.text)
        # The detail's template, not another route under it (/areas/{id}/staff …).
        if re.fullmatch(r"/api/v1/areas/\{[^}/]+\}", m.group(1))
    )
    assert "{" in path_label, template  # grouped by template: ids never become labels
    name = "lifecircle_requests_total"
    was = _sample(before, name, path=path_label, status_code="200") or 0.0
    now = _sample(reply.text, name, path=path_label, status_code="200")
    assert now == was + 3
    assert _sample(reply.text, "lifecircle_request_duration_seconds_count", path=path_label)
    assert area_id not in reply.text


async def test_pool_outbox_and_sse_gauges_are_exported(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    before = _sample((await client.get("/metrics")).text, "lifecircle_outbox_pending") or 0.0
    world = await make_world(db, client)
    await submit(client, world.h["resident"])  # tells the portal: one more outbox message
    body = (await client.get("/metrics")).text
    for name in (
        "lifecircle_db_pool_size",
        "lifecircle_db_pool_checked_out",
        "lifecircle_outbox_pending",
        "lifecircle_outbox_oldest_pending_seconds",
        "lifecircle_sse_connections",
    ):
        assert _sample(body, name) is not None, name
    # No portal worker runs in the tests: the new suggestion waits in the outbox.
    assert _sample(body, "lifecircle_outbox_pending") == before + 1


async def test_metrics_token_when_configured(settings: Settings) -> None:
    app: Litestar = create_app(settings.model_copy(update={"metrics_token": "scrape-secret"}))
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            refused = await http.get("/metrics")
            assert refused.status_code == 401
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["code"] == "metrics_token_required"
            allowed = await http.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
            assert allowed.status_code == 200


async def test_metrics_switched_off_are_404(settings: Settings) -> None:
    app: Litestar = create_app(settings.model_copy(update={"metrics_enabled": False}))
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            gone = await http.get("/metrics")
            assert gone.status_code == 404
            assert gone.json()["code"] == "not_found"
