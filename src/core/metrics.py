"""Prometheus metrics at ``GET /metrics``.

Per route (the path template, never the concrete path, so ids don't explode the label set):
request count by status, a latency histogram, errors and requests in progress
(:func:`request_metrics_middleware`). Also: the database pool of each worker, the outbox
backlog (read from PostgreSQL at scrape time) and open server-sent-event connections.

With several workers (``lifecircle run`` with ``LIFECIRCLE_WORKERS`` > 1) each process writes
its figures to ``PROMETHEUS_MULTIPROC_DIR`` and any worker answers the scrape with the sum.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from litestar import Request, get
from litestar.response import Response
from litestar.types import ASGIApp
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.core.errors import not_found, unauthorized

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Seconds; mobile requests are judged in tens to hundreds of milliseconds.
LATENCY_BUCKETS: list[str | float] = [
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
]

APP_NAME = "lifecircle"
_LABELS = ["method", "path", "status_code", "app_name"]
REQUESTS = Counter("lifecircle_requests_total", "Total requests", _LABELS)
REQUEST_TIME = Histogram(
    "lifecircle_request_duration_seconds",
    "Request duration, in seconds",
    _LABELS,
    buckets=LATENCY_BUCKETS,
)
IN_PROGRESS = Gauge(
    "lifecircle_requests_in_progress",
    "Total requests currently in progress",
    _LABELS,
    multiprocess_mode="livesum",
)
ERRORS = Counter("lifecircle_requests_error_total", "Total errors in requests", _LABELS)

# The labelled series of each route and status, looked up once: ``labels()`` validates and
# joins its values on every call, and Litestar's Prometheus middleware also built a Request,
# parsed the URL and wrapped ``send`` per request (about 8 % of a GET /api/v1/me in py-spy).
_DONE: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}
_RUNNING: dict[tuple[str, str], Any] = {}


def _done(method: str, path: str, status: int) -> tuple[Any, Any, Any]:
    key = (method, path, status)
    found = _DONE.get(key)
    if found is None:
        values = (method, path, str(status), APP_NAME)
        found = (
            REQUESTS.labels(*values),
            REQUEST_TIME.labels(*values),
            ERRORS.labels(*values) if status >= 500 else None,
        )
        _DONE[key] = found
    return found


def request_metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Per route (the path template, never the concrete path, so ids don't explode the label
    set): requests by status, their latency up to the last byte of the body, errors (5xx) and
    requests in progress. Litestar runs it only for routes it matched; ``/metrics`` itself is
    not counted."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await app(scope, receive, send)
            return
        method, path = scope["method"], scope["path_template"]
        running = _RUNNING.get((method, path))
        if running is None:
            # Labelled with status 200, as Litestar's middleware labelled it: the status is
            # not known yet, and dashboards sum the series.
            running = _RUNNING[method, path] = IN_PROGRESS.labels(method, path, "200", APP_NAME)
        started = time.perf_counter()
        status = 200
        duration = 0.0

        async def timed_send(message: Any) -> None:
            nonlocal status, duration
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                duration = time.perf_counter() - started
            await send(message)

        running.inc()
        try:
            await app(scope, receive, timed_send)
        finally:
            running.dec()
            count, timing, errors = _done(method, path, status)
            if errors is not None:
                errors.inc()
            count.inc()
            timing.observe(duration)

    return middleware


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
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST, status_code=200)
