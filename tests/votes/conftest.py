"""A second app instance over real HTTP (uvicorn in a thread, its own lifespan: its own pools
and tally hub, as another worker would be)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from src.app import create_app
from src.config import Settings
from src.core.servers import free_port
from tests.votes.helpers import GUARD_S, LiveServer


@pytest.fixture(scope="module")
def live_server(settings: Settings) -> Iterator[LiveServer]:
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + GUARD_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", app)
    server.should_exit = True
    thread.join(timeout=GUARD_S)
