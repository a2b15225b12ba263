"""Rewriting the ballot tables after a close (docs/ballot-secrecy.md).

At close the meeting's ballots are rewritten in random order (src/votes/tally.py, freeze), but
the old row versions stay in the table's pages as dead tuples with the transaction ids of
their batches, and a plain VACUUM only marks their space free: the bytes stay readable with
``pageinspect``'s ``get_raw_page`` until overwritten. Once the close has committed, the
scrubber rewrites ``ballots`` and ``sealed_ballots`` into new files (``VACUUM FULL``, which
copies the live rows only and drops the old files; it cannot run inside a transaction, hence
the autocommit engine). It holds an exclusive lock on those tables while it runs: ballots of
other meetings wait for it (they are not refused).

A dead row version that some transaction could still see (a snapshot older than the close,
anywhere in the cluster: a backup, a long report) is copied, not dropped. The scrubber reads
VACUUM's own count of those ("N dead row versions cannot be removed yet") and runs again,
backing off, until there are none.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

logger = logging.getLogger("lifecircle.votes.scrub")

TABLES = ("ballots", "sealed_ballots")
_KEY = "lc_ballots_scrub"
_KEPT = re.compile(r"(\d+) dead row versions cannot be removed yet")
FIRST_RETRY_S = 0.5
MAX_RETRY_S = 30.0


class Scrubber:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine  # autocommit
        self.loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()

    def request(self) -> None:
        """Scrub soon (once more after the running scrub, when one runs)."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._run())

    async def idle(self) -> None:
        """Until no scrub is running or due (for tests and shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        wait_s = FIRST_RETRY_S
        while True:
            self._again = False
            try:
                kept = await self.scrub()
            except Exception:
                logger.warning("scrub of the ballot tables failed", exc_info=True)
                kept = -1
            if kept == 0 and not self._again:
                return
            if kept > 0:
                logger.info("ballot tables: %d dead row versions still visible; again soon", kept)
            await asyncio.sleep(wait_s)
            wait_s = min(wait_s * 2, MAX_RETRY_S)

    async def scrub(self) -> int:
        """Rewrite the ballot tables; returns how many dead row versions VACUUM had to keep."""
        kept = 0

        def heard(_conn: Any, message: Any) -> None:
            nonlocal kept
            for text in (getattr(message, "message", ""), getattr(message, "detail", "")):
                found = _KEPT.search(text or "")
                if found:
                    kept += int(found.group(1))

        async with self.engine.connect() as connection:
            conn: Any = (await connection.get_raw_connection()).driver_connection
            conn.add_log_listener(heard)
            try:
                for table in TABLES:
                    await conn.execute(f"VACUUM (FULL, VERBOSE) {table}")
            finally:
                conn.remove_log_listener(heard)
        return kept


_scrubbers: list[Scrubber] = []


def install(scrubber: Scrubber) -> None:
    _scrubbers.append(scrubber)


def uninstall(scrubber: Scrubber) -> None:
    if scrubber in _scrubbers:
        _scrubbers.remove(scrubber)


def after_commit(session: AsyncSession) -> None:
    """Scrub the ballot tables once ``session`` commits (a meeting closed)."""
    session.info[_KEY] = True


@sa_event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    if session.info.pop(_KEY, False):
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for scrubber in _scrubbers:
            if scrubber.loop is loop:
                scrubber.request()


@sa_event.listens_for(Session, "after_rollback")
def _on_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
