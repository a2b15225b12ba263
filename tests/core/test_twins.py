"""The table of twins between the workers of a host (src/core/twins.py): a copy gets the first
reply, and nothing else: not a refusal, not a reply too big for its slot, not one left behind
by a worker that died."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from src.core import twins
from src.core.twins import Ticket, Twins, tag_of


async def test_a_copy_in_another_worker_gets_the_first_reply(tmp_path: Path) -> None:
    path = str(tmp_path / "table")
    first, other = Twins.open(path), Twins.open(path)
    try:
        assert first.region != other.region
        tag = tag_of("user-1", "key-1", "fingerprint-1")
        ticket = first.join(tag)
        assert isinstance(ticket, Ticket)
        waiting = other.join(tag)
        assert isinstance(waiting, asyncio.Future)
        assert isinstance(other.join(tag_of("user-1", "key-1", "another body")), Ticket)
        ticket.done(201, b"sealed reply")
        assert await other.wait(waiting) == (201, b"sealed reply")
        late = other.join(tag)  # just after the reply went out: still handed over
        assert isinstance(late, asyncio.Future)
        assert await other.wait(late) == (201, b"sealed reply")

        refused = first.join(tag_of("user-2", "key-2", "f"))
        assert isinstance(refused, Ticket)
        copy = other.join(tag_of("user-2", "key-2", "f"))
        assert isinstance(copy, asyncio.Future)
        refused.drop()
        assert await other.wait(copy) is None  # the copy runs on its own

        big = first.join(tag_of("user-3", "key-3", "f"))
        assert isinstance(big, Ticket)
        copy = other.join(tag_of("user-3", "key-3", "f"))
        assert isinstance(copy, asyncio.Future)
        big.done(201, b"x" * (twins.PAYLOAD_BYTES + 1))
        assert await other.wait(copy) is None
    finally:
        first.close()
        other.close()


async def test_a_dead_workers_region_is_cleared_before_it_is_used_again(tmp_path: Path) -> None:
    path = str(tmp_path / "table")
    dead = Twins.open(path)
    ticket = dead.join(tag_of("user-1", "key-1", "f"))
    assert isinstance(ticket, Ticket)
    ticket.done(201, b"left behind")
    assert dead._lock_fd is not None
    os.close(dead._lock_fd)  # the process died: its lock went with it, its slots did not
    heir = Twins.open(path)
    try:
        assert heir.region == dead.region
        start = twins.HEADER_BYTES + heir.region * twins.REGION_BYTES
        assert b"left behind" not in _region(path, start)
        assert isinstance(heir.join(tag_of("user-1", "key-1", "f")), Ticket)
    finally:
        heir.close()
        dead._mm.close()


def _region(path: str, start: int) -> bytes:
    with open(path, "rb") as table:
        table.seek(start)
        return table.read(twins.REGION_BYTES)


async def test_a_reply_changed_in_the_table_is_not_handed_over(tmp_path: Path) -> None:
    """A slot whose bytes are not the ones written for its tag (another layout, a stray
    writer, memory order) is no reply: the copy runs on its own."""
    path = str(tmp_path / "table")
    first, other = Twins.open(path), Twins.open(path)
    try:
        tag = tag_of("user-1", "key-1", "f")
        ticket = first.join(tag)
        assert isinstance(ticket, Ticket)
        copy = other.join(tag)
        assert isinstance(copy, asyncio.Future)
        ticket.done(201, b"sealed reply")
        start = twins.HEADER_BYTES + first.region * twins.REGION_BYTES
        offset = start + ticket.index * twins.SLOT_BYTES + twins._HEAD.size
        first._mm[offset : offset + 6] = b"forged"
        assert await other.wait(copy) is None
    finally:
        first.close()
        other.close()


async def test_a_closed_table_lets_every_request_run_on_its_own(tmp_path: Path) -> None:
    path = str(tmp_path / "table")
    first, other = Twins.open(path), Twins.open(path)
    try:
        tag = tag_of("user-1", "key-1", "f")
        ticket = first.join(tag)
        local = first.join(tag)  # a copy in the same worker waits on the first's future
        assert isinstance(ticket, Ticket) and isinstance(local, asyncio.Future)
        busy = first.join(tag_of("user-2", "key-2", "f"))
        assert isinstance(busy, Ticket)
        first.close()  # the worker stops while requests still run
        assert await first.wait(local) is None
        ticket.done(201, b"late")  # no error: nothing is handed over any more
        assert first.join(tag) is None
    finally:
        other.close()
