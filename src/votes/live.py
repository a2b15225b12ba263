"""Live results: one tally per watched meeting per process, woken through Redis pub/sub.

Any worker that commits a change to a meeting's count (a ballot, a paper count, a check-in,
a close) announces the meeting id on a Redis channel; every worker that has watchers for that
meeting recomputes the tally from PostgreSQL once (however many watchers it has) and wakes
them. Nothing is kept in Redis: after a Redis restart or flush the tallies come back from
PostgreSQL on the next wake (and every ``refresh_s`` regardless). Without Redis the hub wakes
the watchers of its own process only.

Streams hold no Redis connection: a process has one subscription (and borrows a connection
for each batched publish) on the app's shared client, however many watchers it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar
from redis.asyncio import Redis
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from src.core.redis import cancel_and_wait
from src.events import repository as events_repository
from src.votes import tally

logger = logging.getLogger("lifecircle.votes.live")

CHANNEL = "lifecircle:events:tally"
RETRY_S = 1.0  # a failed recompute (database away) is tried again after this
_DIRTY_KEY = "lc_tally_dirty"
POOL_CLOSE_TIMEOUT_S = 5.0


def _comparable(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != "computed_at"}


class Watch:
    """The tally of one meeting, shared by the watchers of this process."""

    def __init__(self, hub: TallyHub, event_id: uuid.UUID) -> None:
        self.hub = hub
        self.event_id = event_id
        self.version = 0
        self.payload: dict[str, Any] | None = None
        self.watchers = 0
        self.dirty = asyncio.Event()
        # Set once when the version moves past the one it was made for, then replaced: every
        # watcher waits on it without a lock, so a new tally wakes them all in one turn of
        # the loop (a Condition hands its lock from waiter to waiter: a thousand watchers
        # took a thousand turns of a busy loop to wake).
        self._moved = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self._encoded: dict[tuple[int, bool], str] = {}

    def encoded(self, version: int, payload: dict[str, Any], visible: bool) -> str:
        """The ``tally`` data as JSON, encoded once per version for all watchers."""
        key = (version, visible)
        found = self._encoded.get(key)
        if found is None:
            from src.votes.service import masked, shown

            body = shown(payload) if visible else masked(payload)
            found = json.dumps(body, ensure_ascii=False)
            self._encoded = {k: v for k, v in self._encoded.items() if k[0] == version}
            self._encoded[key] = found
        return found

    async def run(self) -> None:
        while True:
            self.dirty.clear()
            wait_s = self.hub.refresh_s
            try:
                payload = await self.hub.compute(self.event_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: keep the last tally, try again
                logger.warning("tally recompute failed", exc_info=True)
                payload = self.payload
                # Soon, not at the next refresh: ballots committed just before the outage
                # would otherwise stay off the screen until another ballot arrives.
                wait_s = min(wait_s, RETRY_S)
            if payload is not None and (
                self.payload is None or _comparable(payload) != _comparable(self.payload)
            ):
                self.payload = payload
                self.version += 1
                moved, self._moved = self._moved, asyncio.Event()
                moved.set()
            if payload is not None and payload.get("final"):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.dirty.wait(), wait_s)
            # Coalesce a burst of ballots into one recompute: at most 2.5 tallies a second
            # per meeting and worker, each written to every watcher. At 0.1 s the frames to
            # 500 watchers took a good part of the workers (events bench: ballots 667/s, SSE
            # p99 191 ms); at 0.25 s ballots 755/s, SSE p99 347 ms; at 0.4 s (a later run,
            # after other cuts) ballots 0.147 -> 0.164 x /health, SSE p99 305 -> 457 ms with
            # 500 watchers and 345 -> 494 ms with 2,000 (goal: under 1 s).
            await asyncio.sleep(self.hub.coalesce_s)

    async def next(self, seen: int, wait_s: float) -> tuple[int, dict[str, Any]] | None:
        """The tally once its version is past ``seen``; None after ``wait_s`` seconds."""
        if self.version <= seen:
            moved = self._moved
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await moved.wait()
        if self.version <= seen or self.payload is None:
            return None
        return self.version, self.payload


class TallyHub:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        redis: Redis | str | None,
        *,
        coalesce_s: float = 0.4,
        refresh_s: float = 15.0,
        publish_every_s: float = 0.05,
    ) -> None:
        self.sessionmaker = sessionmaker
        # A URL: a client of the hub's own (closed with it); a client: the app's, shared.
        self._owns_redis = isinstance(redis, str)
        self.redis: Redis | None = Redis.from_url(redis) if isinstance(redis, str) else redis
        self.coalesce_s = coalesce_s
        self.refresh_s = refresh_s
        self.publish_every_s = publish_every_s
        self.watches: dict[uuid.UUID, Watch] = {}
        self._pending: set[uuid.UUID] = set()
        self._pending_event = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._tasks.append(asyncio.create_task(self._publisher()))
        if self.redis is not None:
            self._tasks.append(asyncio.create_task(self._listener()))

    async def stop(self) -> None:
        for watch in list(self.watches.values()):
            if watch.task is not None:
                watch.task.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            await cancel_and_wait(task)  # a cancel redis-py swallowed is sent again
        if self.redis is not None and self._owns_redis:
            await self.redis.aclose()

    # --- announcing changes --------------------------------------------------------

    def changed(self, *event_ids: uuid.UUID) -> None:
        """A change to these meetings' counts was committed (called from the event loop)."""
        self._pending.update(event_ids)
        self._pending_event.set()

    async def _publisher(self) -> None:
        # Batched: a thousand ballots a second become ~20 messages a second per meeting.
        failing = False  # Redis away: log the outage once, not every batch
        while True:
            await self._pending_event.wait()
            self._pending_event.clear()
            ids, self._pending = self._pending, set()
            if self.redis is None:
                self._wake(ids)
            else:
                try:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for event_id in ids:
                            pipe.publish(CHANNEL, str(event_id))
                        await pipe.execute()
                except Exception:
                    if not failing:
                        logger.warning("tally publish failed; waking local watchers", exc_info=True)
                    failing = True
                    self._wake(ids)
                else:
                    if failing:
                        logger.info("tally publish restored")
                    failing = False
            await asyncio.sleep(self.publish_every_s)

    async def _listener(self) -> None:
        assert self.redis is not None
        lost = False  # Redis away: log the outage once, not every retry
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                if lost:
                    logger.info("tally subscription restored")
                    lost = False
                # (Re)subscribed: whatever was missed meanwhile is rebuilt from PostgreSQL.
                self._wake(set(self.watches))
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = message.get("data")
                    raw = data.decode() if isinstance(data, bytes) else str(data)
                    with contextlib.suppress(ValueError):
                        self._wake({uuid.UUID(raw)})
            except asyncio.CancelledError:
                raise
            except Exception:
                if not lost:
                    logger.warning("tally subscription lost; retrying", exc_info=True)
                lost = True
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.reset()

    def _wake(self, ids: set[uuid.UUID]) -> None:
        for event_id in ids:
            watch = self.watches.get(event_id)
            if watch is not None:
                watch.dirty.set()

    # --- watching -------------------------------------------------------------------

    async def compute(self, event_id: uuid.UUID) -> dict[str, Any] | None:
        async with self.sessionmaker() as session:
            event = await events_repository.get(session, event_id)
            if event is None:
                return None
            return await tally.results(session, event)

    @contextlib.asynccontextmanager
    async def watch(self, event_id: uuid.UUID) -> AsyncIterator[Watch]:
        watch = self.watches.get(event_id)
        if watch is None:
            watch = self.watches[event_id] = Watch(self, event_id)
        elif watch.payload is not None and not watch.payload.get("final"):
            # A newcomer's first frame is the shared tally, which may trail the last commits
            # (a wake lost with a Redis connection, or still in the coalescing window): ask
            # for a recompute, coalesced like any other wake, so it is current within a turn.
            watch.dirty.set()
        watch.watchers += 1
        if watch.task is None or (watch.task.done() and not watch.payload):
            watch.task = asyncio.create_task(watch.run())
        try:
            yield watch
        finally:
            watch.watchers -= 1
            if watch.watchers == 0 and self.watches.get(event_id) is watch:
                del self.watches[event_id]
                if watch.task is not None:
                    watch.task.cancel()


# --- after-commit hook ------------------------------------------------------------------

# The hubs of this process (one per app; tests may run two apps side by side).
_hubs: list[TallyHub] = []


def install(hub: TallyHub) -> None:
    _hubs.append(hub)


def uninstall(hub: TallyHub) -> None:
    if hub in _hubs:
        _hubs.remove(hub)


def after_commit(session: AsyncSession, event_id: uuid.UUID) -> None:
    """Announce a change to ``event_id``'s count once ``session`` commits (not before: a
    watcher woken early would read the old count)."""
    session.info.setdefault(_DIRTY_KEY, set()).add(event_id)


def _local_hubs() -> list[TallyHub]:
    """The hubs of the running event loop (asyncio objects are not shared across loops; a hub
    elsewhere learns of the change through Redis)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return []
    return [hub for hub in _hubs if hub.loop is loop]


def announce(event_id: uuid.UUID) -> None:
    """A change to ``event_id``'s count was committed."""
    for hub in _local_hubs():
        hub.changed(event_id)


@sa_event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    ids: set[uuid.UUID] | None = session.info.pop(_DIRTY_KEY, None)
    if ids:
        for hub in _local_hubs():
            hub.changed(*ids)


@sa_event.listens_for(Session, "after_rollback")
def _on_rollback(session: Session) -> None:
    session.info.pop(_DIRTY_KEY, None)


@contextlib.asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """Start this process's hub, ballot batcher and sealer (after the lifespan that made
    ``state.sessionmaker``)."""
    from src.core.db import plain_dsn
    from src.votes import scrub, secrecy
    from src.votes.batcher import BallotBatcher, open_pool
    from src.votes.service import RulesCache

    settings = app.state.settings
    hub = TallyHub(app.state.sessionmaker, app.state.redis)
    await hub.start()
    app.state.tally_hub = hub
    app.state.ballot_rules = RulesCache()
    sealer = secrecy.Sealer(settings.secret_key)
    secrecy.install(sealer)
    lanes = 2
    pool = await open_pool(plain_dsn(settings.database_url), lanes, settings.db_pool_timeout_s)
    batcher = BallotBatcher(pool, sealer, lanes=lanes, ttl_s=settings.idempotency_ttl_s)
    await batcher.start()
    app.state.ballot_batcher = batcher
    scrubber = scrub.Scrubber(app.state.autocommit_engine)
    scrubber.start()
    scrub.install(scrubber)
    app.state.ballot_scrubber = scrubber
    install(hub)
    try:
        yield
    finally:
        uninstall(hub)
        scrub.uninstall(scrubber)
        await scrubber.idle()
        await batcher.stop()
        await pool.close()
        secrecy.uninstall(sealer)
        await hub.stop()
