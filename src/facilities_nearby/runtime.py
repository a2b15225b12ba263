"""The graph each worker queries: built once per data version, loaded from files by all.

Every ``facilities_poll_s`` a worker reads the data key (one tiny query, off the request
path). When it changed, the worker memory-maps ``<data_dir>/walk-graph/graph-<key>-v<n>``;
if no worker has built that yet, one has a child process build it under a file lock while
the others wait, then all load the same files. Requests never touch the database for walking times.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import shutil
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import asyncpg
from litestar import Litestar

from src.config import Settings
from src.core.db import plain_dsn
from src.facilities_nearby import repository
from src.facilities_nearby.build import graph_dir_name
from src.facilities_nearby.graph import Graph, load_graph

logger = logging.getLogger("lifecircle.facilities")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CategoryInfo:
    code: str
    name_zh: str
    name_en: str
    group: str
    tier_minutes: int


@dataclass(frozen=True)
class Loaded:
    graph: Graph
    categories: list[CategoryInfo]
    by_code: dict[str, int]


def graph_root(settings: Settings) -> Path:
    return Path(settings.data_dir) / "walk-graph"


async def _lock(path: Path) -> IO[str]:
    """The build lock, polled without blocking: a waiter that is cancelled (shutdown) leaves
    no thread stuck in ``flock`` and no lock held by a handle nobody owns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return handle
            except BlockingIOError:
                await asyncio.sleep(0.1)
    except BaseException:
        handle.close()
        raise


def _unlock(handle: IO[str]) -> None:
    fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()


def _prune(root: Path, keep: str) -> None:
    """Drop graphs of old versions that nobody has loaded for an hour."""
    cutoff = time.time() - 3600
    for old in root.glob("graph-*"):
        if old.name != keep and old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)


async def build_files(settings: Settings, conn: asyncpg.Connection) -> tuple[Path, dict[str, Any]]:
    """Build the current version's graph files unless present; (directory, build stats).

    The build runs in a child process (see :mod:`src.facilities_nearby.build`) under a file
    lock, so one worker builds while the others wait, and no worker keeps the build's memory.
    """
    root = graph_root(settings).resolve()
    key = await repository.read_key(conn)
    directory = root / graph_dir_name(key)
    if directory.exists():
        return directory, {"built": False}
    handle = await _lock(root / "build.lock")
    try:
        if directory.exists():  # another worker built it while we waited
            return directory, {"built": False}
        started = time.perf_counter()
        assert settings.database_url
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "src.facilities_nearby.build",
            plain_dsn(settings.database_url),
            str(root),
            str(settings.walk_snap_max_m),
            cwd=PROJECT_ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await child.communicate()
        except asyncio.CancelledError:
            # Shutting down mid-build: the child must not outlive the worker.
            child.kill()
            await child.wait()
            raise
        if child.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise RuntimeError(f"walking graph build failed: {tail[0][:300]}")
        directory = Path(out.decode().strip().splitlines()[-1])
        stats = {"built": True, "total_s": time.perf_counter() - started}
        logger.info("walking graph built", extra={"ms": round(stats["total_s"] * 1000)})
        await asyncio.to_thread(_prune, root, directory.name)
        return directory, stats
    finally:
        _unlock(handle)


def _loaded_from(directory: Path) -> Loaded:
    graph = load_graph(directory)
    categories = [CategoryInfo(**c) for c in graph.meta["category_info"]]
    return Loaded(graph, categories, {c.code: i for i, c in enumerate(categories)})


class NearbyRuntime:
    """Holds the loaded graph of this worker and keeps it current."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loaded: Loaded | None = None
        self._lock = asyncio.Lock()
        assert settings.database_url
        self._dsn = plain_dsn(settings.database_url)

    async def refresh(self) -> bool:
        """Load the current data version if it is not the one loaded; True when it changed."""
        async with self._lock:
            conn = await asyncpg.connect(self._dsn)
            try:
                key = await repository.read_key(conn)
                if self.loaded is not None and self.loaded.graph.key == key:
                    return False
                directory, _ = await build_files(self.settings, conn)
            finally:
                await conn.close()
            self.loaded = await asyncio.to_thread(_loaded_from, directory)
            return True

    async def poll(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep polling: the next data version may load fine
                logger.warning("walking graph refresh failed: %s", type(exc).__name__)
            await asyncio.sleep(self.settings.facilities_poll_s)


@asynccontextmanager
async def facilities_lifespan(app: Litestar) -> AsyncIterator[None]:
    runtime = NearbyRuntime(app.state.settings)
    app.state.facilities = runtime
    task = asyncio.create_task(runtime.poll())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
