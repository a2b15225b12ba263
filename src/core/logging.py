"""Structured logs: one JSON line per request, with a request id.

Only the path is logged, never the query string (it may carry a position) nor any header
(tokens), and phone-like digit runs in messages are masked.
"""

from __future__ import annotations

import atexit
import copy
import json
import logging
import logging.handlers
import queue
import re
import sys
import time
from typing import Any

from litestar.types import ASGIApp

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
access_logger = logging.getLogger("lifecircle.access")


def mask_phones(text: str) -> str:
    return _PHONE.sub(r"\1****\2", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_phones(record.getMessage()),
        }
        for key in ("request_id", "method", "path", "status", "ms", "user_id"):
            if key in record.__dict__:
                entry[key] = record.__dict__[key]
        if record.exc_info:
            entry["exc"] = mask_phones(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class _Enqueue(logging.handlers.QueueHandler):
    """Hands the record to the writer thread as it is: formatting (JSON, masking) and the
    write to stderr happen off the event loop."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        record.msg, record.args = record.getMessage(), None
        return record


_listener: logging.handlers.QueueListener | None = None


def _writer() -> logging.handlers.QueueListener:
    global _listener
    if _listener is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        _listener = logging.handlers.QueueListener(queue.SimpleQueue(), handler)
        _listener.start()
        atexit.register(_listener.stop)  # flush what is queued at exit
    return _listener


def configure_logging(level: str) -> None:
    writer = _writer()
    root = logging.getLogger()
    root.handlers[:] = [_Enqueue(writer.queue)]
    root.setLevel(level.upper())
    # uvicorn's own access log repeats ours and includes query strings.
    logging.getLogger("uvicorn.access").disabled = True
    # Even at DEBUG, libraries must not write what passes through them: httpx logs every
    # URL at INFO (WeChat's code exchange carries the app secret and the login code in its
    # query), httpcore the headers, SQLAlchemy the statements' parameters (phones).
    quiet = max(logging.WARNING, root.level)
    for name in ("httpx", "httpcore", "sqlalchemy.engine", "sqlalchemy.pool"):
        logging.getLogger(name).setLevel(quiet)


def access_log_middleware(app: ASGIApp) -> ASGIApp:
    """One line per request, with the request id the web layer gave it (src/core/web.py,
    which runs inside this one and puts ``X-Request-Id`` on the response)."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_seen(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_seen)
        finally:
            access_logger.info(
                "request",
                extra={
                    "request_id": scope["state"].get("request_id"),
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                    "user_id": scope["state"].get("user_id"),
                },
            )

    return middleware
