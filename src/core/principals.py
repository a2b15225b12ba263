"""The principals a worker has read, kept until PostgreSQL says they changed.

Every signed-in read asked PostgreSQL who the caller is (src/core/auth.py, one statement), and
that lookup (a pooled connection taken and given back, one round trip) was the largest part of
a ``GET /api/v1/me`` beside the framework. A worker now keeps each (user, sign-in family) it
has read, and forgets it on word from the database:

- **Cross-process**: triggers on ``users``, ``role_grants`` and ``auth_families`` (migration
  1900) send the user's id on ``lc_principals`` at commit; each worker LISTENs on a connection
  of its own and forgets that user's entries (``*``: everyone) as the notification arrives.
- **In this process**: any session commit of this process forgets everything at once
  (``after_commit``), so a request that follows a revocation made here (or a test's own
  commit) never sees the old roles, whatever the notification's timing.
- **Nothing is kept while the LISTEN connection is down** (at start, after PostgreSQL went
  away): every lookup goes to the database, as before; on (re)connecting the cache starts
  empty.
- **A read racing an invalidation is not kept**: an entry is stored only if no invalidation
  arrived between the start of its read and its storing (a generation counter).
- **Writes always read the database** (src/core/unit_of_work.py): only reads use the cache.

What this changes: a role revoked or a sign-in revoked in *another* worker takes effect there
when the notification arrives (milliseconds, measured by the test), not strictly at the next
request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import asyncpg
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from src.core.auth import Principal, TokenClaims
from src.core.db import plain_dsn

logger = logging.getLogger("lifecircle.principals")

CHANNEL = "lc_principals"
RETRY_S = 1.0
MAX_ENTRIES = 50_000


class PrincipalCache:
    def __init__(self, database_url: str, max_entries: int = MAX_ENTRIES) -> None:
        self._dsn = plain_dsn(database_url)
        self.max_entries = max_entries
        self._entries: dict[TokenClaims, Principal] = {}
        self._by_user: dict[uuid.UUID, set[TokenClaims]] = {}
        self.generation = 0
        self.listening = False
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closed = asyncio.Event()

    # --- lookups -----------------------------------------------------------------------

    def get(self, claims: TokenClaims) -> Principal | None:
        return self._entries.get(claims) if self.listening else None

    def put(self, claims: TokenClaims, principal: Principal, generation: int) -> None:
        """Keep ``principal``, read since ``generation``, unless something changed meanwhile."""
        if not self.listening or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
            self._by_user.clear()
        self._entries[claims] = principal
        self._by_user.setdefault(claims.user_id, set()).add(claims)

    # --- invalidation ---------------------------------------------------------------------

    def forget_all(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._by_user.clear()

    def forget(self, user_id: uuid.UUID) -> None:
        self.generation += 1
        for claims in self._by_user.pop(user_id, ()):
            self._entries.pop(claims, None)

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload == "*":
            self.forget_all()
            return
        try:
            self.forget(uuid.UUID(payload))
        except ValueError:
            self.forget_all()

    # --- the LISTEN connection -----------------------------------------------------------------

    def _terminated(self, _conn: Any) -> None:
        # At once, not at the loop's next look: no notification can arrive any more.
        self.listening = False
        self.forget_all()
        self._closed.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen())
        _caches.append(self)
        # Start-up does not wait for it: until it listens, every lookup reads the database.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), 2.0)

    async def stop(self) -> None:
        if self in _caches:
            _caches.remove(self)
        self.listening = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _listen(self) -> None:
        lost = False  # log an outage once, not every retry
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self._dsn, server_settings={"application_name": "lifecircle principals"}
                )
                closed = self._closed = asyncio.Event()
                conn.add_termination_listener(self._terminated)
                await conn.add_listener(CHANNEL, self._notified)
                self.forget_all()  # whatever was kept may have changed while not listening
                self.listening = True
                self._connected.set()
                if lost:
                    logger.info("principal notifications restored")
                    lost = False
                while not closed.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(closed.wait(), 5.0)
                    if conn.is_closed():
                        break
            except asyncio.CancelledError:
                raise
            except Exception:
                if not lost:
                    logger.warning("principal notifications lost; reading every principal")
                lost = True
            finally:
                self.listening = False
                self.forget_all()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.terminate()
            await asyncio.sleep(RETRY_S)


# The caches of this process (one per app; tests may run two apps side by side).
_caches: list[PrincipalCache] = []


@sa_event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    for cache in _caches:
        cache.forget_all()
