from __future__ import annotations

import httpx
import pytest
from litestar import Litestar

from src.facilities_nearby.runtime import NearbyRuntime


@pytest.fixture
async def nearby_runtime(client: httpx.AsyncClient, app: Litestar) -> NearbyRuntime:
    """The app's walking-graph holder, brought up to date with the database."""
    runtime: NearbyRuntime = app.state.facilities
    await runtime.refresh()
    return runtime
