"""Prometheus metrics at ``GET /metrics``.

Per route (the path template, never the concrete path, so ids don't explode the label set):
request count by status, a latency histogram, errors and requests in progress — from
Litestar's Prometheus middleware. Added here: the database pool of each worker, the outbox
backlog (read from PostgreSQL at scrape time) and open server-sent-event connections.

With several workers (``lifecircle run`` with ``LIFECIRCLE_WORKERS`` > 1) each process writes
its figures to ``PROMETHEUS_MULTIPROC_DIR`` and any worker answers the scrape with the sum.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from litestar import Request, get
from litestar.plugins.prometheus import PrometheusConfig
from litestar.response import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.core.errors import not_found, unauthorized

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Seconds; mobile requests are judged in tens to hundreds of milliseconds.
LATENCY_BUCKETS: list[str | float] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
]

metrics_config = PrometheusConfig(
    app_name="lifecircle",
    prefix="lifecircle",
    group_path=True,
    exclude_unhandled_paths=True,
    exclude=["^/metrics$"],
    buckets=LATENCY_BUCKETS,
)

DB_POOL_SIZE = Gauge(
    "lifecircle_db_pool_size", "Connections the pool keeps open", multiprocess_mode="livesum"
)
DB_POOL_CHECKED_OUT = Gauge(
    "lifecircle_db_pool_checked_out",
    "Connections in use by requests right now",
    multiprocess_mode="livesum",
)
OUTBOX_PENDING = Gauge(
    "lifecircle_outbox_pending",
    "Outbox messages not yet delivered to the city portal",
    multiprocess_mode="mostrecent",
)
OUTBOX_DEAD = Gauge(
    "lifecircle_outbox_dead",
    "Outbox messages given up after their last attempt (need a retry by an admin)",
    multiprocess_mode="mostrecent",
)
OUTBOX_OLDEST_AGE = Gauge(
    "lifecircle_outbox_oldest_pending_seconds",
    "Age of the oldest undelivered outbox message",
    multiprocess_mode="mostrecent",
)
SSE_CONNECTIONS = Gauge(
    "lifecircle_sse_connections",
    "Open server-sent-event streams (live results)",
    multiprocess_mode="livesum",
)


def prepare_multiprocess_dir(data_dir: str) -> None:
    """Called by ``lifecircle run`` before it starts several workers: a fresh directory."""
    path = Path(data_dir).resolve() / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(path)


def instrument_pool(engine: AsyncEngine, pool_size: int) -> None:
    """Count connections as they are checked out and in, so every worker's figure is live
    (a scrape is answered by one worker; the gauges are summed over all of them)."""
    DB_POOL_SIZE.set(pool_size)

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(*_: object) -> None:
        DB_POOL_CHECKED_OUT.inc()

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(*_: object) -> None:
        DB_POOL_CHECKED_OUT.dec()


async def _observe_outbox(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE status = 'pending'),"
                    " count(*) FILTER (WHERE status = 'failed'),"
                    " coalesce(extract(epoch FROM now() - min(created_at)"
                    "   FILTER (WHERE status = 'pending')), 0)"
                    " FROM outbox WHERE status IN ('pending', 'failed')"
                )
            )
        ).one()
    OUTBOX_PENDING.set(row[0])
    OUTBOX_DEAD.set(row[1])
    OUTBOX_OLDEST_AGE.set(float(row[2]))


def _check_token(request: Request[Any, Any, Any]) -> None:
    if not request.app.state.settings.metrics_enabled:
        raise not_found()
    token = request.app.state.settings.metrics_token
    if token and request.headers.get("authorization") != f"Bearer {token}":
        raise unauthorized("metrics_token_required", "需要监控令牌", "A metrics token is required")


@get("/metrics", tags=["system"], summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    _check_token(request)
    engine: AsyncEngine = request.app.state.engine
    # The database being down is what /ready reports; metrics keep being served.
    with contextlib.suppress(Exception):
        await _observe_outbox(engine)
    registry = REGISTRY
    if MULTIPROC_ENV in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(
        generate_latest(registry), media_type=CONTENT_TYPE_LATEST, status_code=200
    )
