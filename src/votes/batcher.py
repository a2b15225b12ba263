"""Group commit of ballots: the ballot requests of a worker are gathered for a few
milliseconds and written in one transaction per batch (docs/ballot-secrecy.md).

In one batch, per meeting (src/votes/repository.py):

1. the voters are recorded (one statement: the meeting locked FOR KEY SHARE, eligibility, the
   Idempotency-Keys' stored replies, ``ballot_voters`` ON CONFLICT DO NOTHING, the sealed
   first replies of the recorded ballots (src/core/idempotency.py), and the sealed ballots
   already waiting for that meeting taken out);
2. the new ballots and those taken out are written by a second statement, in shuffled order,
   in clear when there are at least ``secrecy.CROWD`` of them, else sealed again to wait
   (``sealed_ballots``);

then the transaction commits, and only then is any request of the batch answered: a 201 means
the ballot is durable. A failed batch answers each of its requests with the failure (a 503
when PostgreSQL is away: the client retries with its key); a batch that fails on one bad row
(not an outage) is tried again one request at a time, so one request cannot sink the others.

Two requests of one resident for one meeting never share a batch: the later one waits for the
next, where it meets the first one's voter row (a replay of its reply, or ``already_voted``).

The batcher has a small asyncpg pool of its own (``lanes`` connections, no SQLAlchemy: its
checkout cost a batch more CPU than the statement it ran): a request waiting for its batch
holds none of the app's pool, and no batch waits behind requests for a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from src.core.idempotency import Answer, Claim
from src.votes import repository, secrecy
from src.votes.repository import Caster, CastOutcome
from src.votes.secrecy import Choice, Sealer

logger = logging.getLogger("lifecircle.votes.batcher")

_OUTAGES = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.InterfaceError,
    ConnectionError,
    OSError,
)


@dataclass
class Cast:
    """One ballot request waiting for its batch."""

    event_id: uuid.UUID
    community_id: uuid.UUID
    need_check_in: bool
    user_id: uuid.UUID
    family_id: uuid.UUID
    choice: Choice
    claim: Claim | None
    reply: list[Any] | None  # the sealed first reply (``Claim.reply_args``), with a key
    future: asyncio.Future[tuple[CastOutcome, Answer | None]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def voter(self) -> tuple[uuid.UUID, uuid.UUID]:
        return self.event_id, self.user_id


async def _as_left(conn: asyncpg.Connection) -> None:
    """A batch leaves its connection as it found it (one transaction, committed or rolled back,
    nothing set): no reset statement, which would be one more round trip per batch."""


async def open_pool(dsn: str, lanes: int, timeout_s: float) -> asyncpg.Pool:
    """The batcher's connections. The batch statements' plans are fixed by their shape
    (src/votes/repository.py: index probes per item): planned once per connection, not per
    batch. Replanning the voters' statement cost PostgreSQL 1.0-1.7 ms per batch, as much as
    running it (EXPLAIN). A connection the server closed (a restart) is replaced on its next
    acquire."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn,
        min_size=0,
        max_size=lanes,
        timeout=timeout_s,
        reset=_as_left,
        server_settings={
            "application_name": "lifecircle ballots",
            "timezone": "UTC",
            "jit": "off",
            "plan_cache_mode": "force_generic_plan",
        },
    )
    return pool


class BallotBatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        sealer: Sealer,
        *,
        # 5 ms: at a hall's full speed (64 phones in flight, each ballot tapped twice) batches
        # of 5 ms carried 6-8 % more ballots per second than 2 or 3 ms (fewer round trips per
        # ballot) and 25 % more than 10 ms (the phones then wait on the window, not the CPU).
        window_s: float = 0.005,
        max_batch: int = 400,
        lanes: int = 2,
        ttl_s: int = 48 * 3600,
    ) -> None:
        self.pool = pool  # see open_pool
        self.sealer = sealer
        self.window_s = window_s
        self.max_batch = max_batch
        self.ttl_s = ttl_s
        self._lanes = asyncio.Semaphore(lanes)
        self._queue: deque[Cast] = deque()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._writing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._writing):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        # Requests still queued were written by no batch: a 503, the client retries.
        while self._queue:
            item = self._queue.popleft()
            if not item.future.done():
                item.future.set_exception(ConnectionError("the worker is stopping"))

    async def cast(self, item: Cast) -> tuple[CastOutcome, Answer | None]:
        """Queue one ballot; returns once its batch has committed (or failed: raises). The
        answer is the stored first reply of the request's key, when it was not recorded."""
        self._queue.append(item)
        self._ready.set()
        # A client that goes away does not take the ballot out of its batch (it may already be
        # written): its retry with the same key gets the reply.
        return await asyncio.shield(item.future)

    # --- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._lanes.acquire()
            try:
                while not self._queue:
                    self._ready.clear()
                    await self._ready.wait()
                await asyncio.sleep(self.window_s)  # gather the burst
                batch = self._take()
            except BaseException:
                self._lanes.release()
                raise
            task = asyncio.create_task(self._write_released(batch))
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)

    def _take(self) -> list[Cast]:
        """Up to ``max_batch`` requests, at most one per (meeting, resident); the others stay
        queued, in order, for the next batch."""
        batch: list[Cast] = []
        seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
        later: list[Cast] = []
        while self._queue and len(batch) < self.max_batch:
            item = self._queue.popleft()
            if item.voter in seen:
                later.append(item)
            else:
                seen.add(item.voter)
                batch.append(item)
        self._queue.extendleft(reversed(later))
        if self._queue:
            self._ready.set()
        return batch

    async def _write_released(self, batch: list[Cast]) -> None:
        try:
            await self._write(batch)
        finally:
            self._lanes.release()

    async def _write(self, batch: list[Cast]) -> None:
        try:
            results = await self._commit(batch)
        except Exception as exc:
            if len(batch) > 1 and not isinstance(exc, _OUTAGES):
                logger.warning("ballot batch failed; writing its requests one by one")
                for item in batch:
                    await self._write([item])
                return
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        for item, result in zip(batch, results, strict=True):
            if not item.future.done():
                item.future.set_result(result)

    async def _commit(self, batch: list[Cast]) -> list[tuple[CastOutcome, Answer | None]]:
        by_event: dict[uuid.UUID, list[int]] = {}
        for i, item in enumerate(batch):
            by_event.setdefault(item.event_id, []).append(i)
        outcomes: list[CastOutcome | None] = [None] * len(batch)
        answers: list[Answer | None] = [None] * len(batch)
        conn: Any
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                # One lock order for every batch (meetings by id): no deadlock between lanes.
                for event_id in sorted(by_event):
                    members = [batch[i] for i in by_event[event_id]]
                    first = members[0]
                    got, waiting = await repository.record_voters(
                        conn,
                        event_id=event_id,
                        community_id=first.community_id,
                        need_check_in=first.need_check_in,
                        casters=[
                            Caster(
                                m.user_id,
                                m.family_id,
                                m.claim.scope if m.claim else None,
                                m.claim.key if m.claim else None,
                                m.reply,
                            )
                            for m in members
                        ],
                        ttl_s=self.ttl_s,
                    )
                    new = [m.choice for m, o in zip(members, got, strict=True) if o.inserted]
                    if new:
                        await self._write_choices(conn, event_id, new, waiting)
                    for i, o in zip(by_event[event_id], got, strict=True):
                        outcomes[i] = o
            # Committed. A key whose request recorded nothing: the reply a twin committed
            # (one statement for those a concurrent batch committed after ours began).
            missing: list[int] = []
            for i, item in enumerate(batch):
                found = outcomes[i]
                assert found is not None
                if item.claim is not None and not found.inserted:
                    if found.earlier is not None:
                        answers[i] = item.claim.answer(found.earlier)
                    else:
                        missing.append(i)
            claims = [batch[i].claim for i in missing]
            stored = await Claim.stored_many(conn, [c for c in claims if c is not None])
            for i, answer in zip(missing, stored, strict=True):
                answers[i] = answer
        return [(o, a) for o, a in zip(outcomes, answers, strict=True) if o is not None]

    async def _write_choices(
        self, conn: Any, event_id: uuid.UUID, new: list[Choice], taken: list[bytes]
    ) -> None:
        """The new ballots with those waiting (taken out by ``record_voters``): in clear when
        they make a crowd, else sealed."""
        waiting = [self.sealer.open(event_id, s) for s in taken]
        choices = secrecy.shuffled(new + waiting)
        if len(choices) >= secrecy.CROWD:
            await repository.write_ballots(conn, event_id, choices)
        else:
            sealed = [self.sealer.seal(event_id, c) for c in choices]
            await repository.write_sealed(conn, event_id, sealed)
