"""Twins: copies of one request (same caller, Idempotency-Key and body) that run at the same
time, in any worker of this host. One of them does the work; the others get its reply.

A phone that double-taps sends its ballot twice at once, on two connections. Each API worker
has a socket of its own (src/core/workers.py) and the kernel hashes each connection to one of
them, so on two workers half of the copies land in the other worker, on four three quarters.
A copy that runs the whole ballot path learns only from the batch statement that its twin
voted: it cost a worker as much as the ballot itself (API CPU per ballot 0.47 ms on one worker,
0.63 on two, 0.96 on four). Here the copies meet before any of that.

**The table** is a file in shared memory (``/dev/shm``), one per service (database and
secret): a region per worker, taken with an ``flock`` for the worker's life (a dead worker's
lock goes with it; the next one clears the region), and in each region a fixed number of
slots. A worker writes only its own region; every worker reads all of them. A slot holds the
tag of a running request (a hash of the caller, the stored key and the fingerprint, never the
key itself), when it began, and once it is over its 2xx reply as the idempotency record would
store it (sealed for the secret ballot: only a request that presents the key again opens it).
A slot is read under a sequence lock: a torn read is ignored, never answered.

**Joining** (:meth:`Twins.join`): a request finds a twin already running (in this worker it
waits on the twin's future, in another it is polled every :data:`POLL_S`) or one whose reply is
fresh, else it writes its own slot and is the first. Two copies that write their slots at the
same moment in two workers both look again: the later one (by start time, then region) gives
way. Whatever goes wrong here (a full slot, a reply too big for one, a first request that is
refused or slow, a worker that dies) only makes a copy take the ordinary path, where the
stored reply and the one-ballot rule answer it: the table is a shortcut, never the rule.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import mmap
import os
import struct
import time
from collections import deque
from dataclasses import dataclass, field

logger = logging.getLogger("lifecircle.twins")

# How long a copy waits for its first twin before it runs on its own.
WAIT_S = 5.0
# How long a first reply stays to be handed over after it went out.
KEEP_S = 1.0
# How often a worker looks at the slots of other workers that its copies wait for.
POLL_S = 0.001

REGIONS = 16  # workers of one service on one host
SLOTS = 2048  # slots per region (requests running at once in one worker, with room)
SLOT_BYTES = 512
HEADER_BYTES = mmap.PAGESIZE  # byte r: region r is taken

# seq (odd while written), tag, at (time.monotonic: one clock for the host), state, status,
# payload length, digest of (tag, status, payload); the payload follows.
_HEAD = struct.Struct("<Q16sdBxHI16s")
_SEQ = struct.Struct("<Q")
PAYLOAD_BYTES = SLOT_BYTES - _HEAD.size
# In the file's name: workers of another layout use another file.
LAYOUT = f"{_HEAD.format}/{REGIONS}/{SLOTS}/{SLOT_BYTES}"
REGION_BYTES = SLOTS * SLOT_BYTES
FILE_BYTES = HEADER_BYTES + REGIONS * REGION_BYTES

FREE, RUNNING, DONE, GONE = 0, 1, 2, 3
TORN = -1  # read while it was being written

# A first reply handed over: (status, payload).
Reply = tuple[int, bytes]


def tag_of(*parts: str) -> bytes:
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=16).digest()


def _digest(tag: bytes, status: int, payload: bytes) -> bytes:
    """A reply is handed over only whole and only for its tag (whatever the memory order)."""
    return hashlib.blake2b(tag + status.to_bytes(2, "big") + payload, digest_size=16).digest()


def table_path(database_url: str, secret: str) -> str:
    """One table per service: the workers that share a database and a secret."""
    digest = hashlib.sha256(f"{LAYOUT}\0{database_url}\0{secret}".encode()).hexdigest()[:20]
    return f"/dev/shm/lifecircle-twins-{os.getuid()}-{digest}"


@dataclass
class Ticket:
    """The first request of its tag: its slot, until :meth:`done` or :meth:`drop`."""

    twins: Twins
    index: int
    tag: bytes
    seq: int
    future: asyncio.Future[Reply | None]
    over: bool = field(default=False)

    def done(self, status: int, payload: bytes) -> None:
        """The 2xx reply went out: hand it to the twins (those waiting and those to come)."""
        if self.over:
            return
        self.over = True
        try:
            self.twins._finish(self, DONE, status, payload)
        except Exception:  # a shortcut only: the twins take the ordinary path
            logger.warning("a reply was not handed to its twins", exc_info=True)

    def drop(self) -> None:
        """Over without a reply to hand over: the twins run on their own."""
        if self.over:
            return
        self.over = True
        try:
            self.twins._finish(self, GONE, 0, b"")
        except Exception:
            logger.warning("a request's twins were not released", exc_info=True)


class Twins:
    """This worker's view of the table (see the module docstring)."""

    def __init__(self, mm: mmap.mmap, region: int, lock_fd: int | None = None) -> None:
        self._mm = mm
        self.region = region
        self._lock_fd = lock_fd
        self._base = HEADER_BYTES + region * REGION_BYTES
        self._local: dict[bytes, asyncio.Future[Reply | None]] = {}
        # (region, index, tag, future, deadline) of the copies waiting on other workers
        self._polls: list[tuple[int, int, bytes, asyncio.Future[Reply | None], float]] = []
        self._poller: asyncio.Task[None] | None = None
        self._sweep: deque[tuple[float, int, int]] = deque()  # (after, index, seq)
        self.closed = False

    # --- opening and closing ----------------------------------------------------------

    @classmethod
    def open(cls, path: str) -> Twins:
        """Take a free region of the table at ``path``; a private table (twins of this worker
        only) when there is none or no shared memory."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            logger.warning("no shared table of twins (%s): this worker's only", exc)
            return cls.private()
        try:
            if os.fstat(fd).st_size < FILE_BYTES:
                os.ftruncate(fd, FILE_BYTES)
            mm = mmap.mmap(fd, FILE_BYTES)
        except OSError as exc:
            logger.warning("no shared table of twins (%s): this worker's only", exc)
            os.close(fd)
            return cls.private()
        try:
            for region in range(REGIONS):
                lock_fd = os.open(f"{path}.{region}", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(lock_fd)
                    continue
                try:
                    # The region's memory is taken now: a full /dev/shm is a private table
                    # here, not a SIGBUS at a later write.
                    os.posix_fallocate(fd, 0, HEADER_BYTES)
                    os.posix_fallocate(fd, HEADER_BYTES + region * REGION_BYTES, REGION_BYTES)
                except OSError:
                    os.close(lock_fd)
                    raise
                twins = cls(mm, region, lock_fd)
                twins._zero_region()
                mm[region] = 1
                return twins
        except OSError as exc:
            logger.warning("no shared table of twins (%s): this worker's only", exc)
            mm.close()
            return cls.private()
        finally:
            os.close(fd)
        logger.warning("the %d regions of the table of twins are taken: private", REGIONS)
        mm.close()
        return cls.private()

    @classmethod
    def private(cls) -> Twins:
        twins = cls(mmap.mmap(-1, HEADER_BYTES + REGION_BYTES), 0)
        twins._mm[0] = 1
        return twins

    def close(self) -> None:
        """Stop sharing: requests still running take the ordinary path from now on."""
        if self.closed:
            return
        self.closed = True
        if self._poller is not None:
            self._poller.cancel()
        for _, _, _, future, _ in self._polls:
            if not future.done():
                future.set_result(None)
        for future in self._local.values():
            if not future.done():
                future.set_result(None)
        self._polls.clear()
        self._local.clear()
        self._mm[self.region] = 0
        self._give_back()  # no reply stays behind the worker
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the region
            self._lock_fd = None
        self._mm.close()

    def _zero_region(self) -> None:
        self._mm[self._base : self._base + REGION_BYTES] = bytes(REGION_BYTES)

    def _give_back(self) -> None:
        """Zero the region and give its memory back (a hole in the file reads as zeros)."""
        try:
            self._mm.madvise(mmap.MADV_REMOVE, self._base, REGION_BYTES)
        except (AttributeError, OSError):  # not a shared file (the private table), or no tmpfs
            self._zero_region()

    # --- slots --------------------------------------------------------------------------

    def _offset(self, region: int, index: int) -> int:
        return HEADER_BYTES + region * REGION_BYTES + index * SLOT_BYTES

    def _read(self, region: int, index: int, tag: bytes) -> tuple[int, float, int, bytes] | None:
        """(state, at, status, payload) of the slot when it holds ``tag``, else None; state
        TORN when it was being written meanwhile. The payload only of a DONE slot."""
        offset = self._offset(region, index)
        seq, held, at, state, status, length, digest = _HEAD.unpack_from(self._mm, offset)
        if seq & 1:
            return TORN, 0.0, 0, b""
        if held != tag:
            return None
        payload = b""
        if state == DONE:
            start = offset + _HEAD.size
            payload = self._mm[start : start + min(length, PAYLOAD_BYTES)]
        if _SEQ.unpack_from(self._mm, offset)[0] != seq:
            return TORN, 0.0, 0, b""
        if state == DONE and digest != _digest(tag, status, payload):
            return TORN, 0.0, 0, b""
        return state, at, status, payload

    def _write(
        self, index: int, tag: bytes, at: float, state: int, status: int = 0, payload: bytes = b""
    ) -> int:
        """Write a slot of this worker's region; returns its new sequence number."""
        offset = self._base + index * SLOT_BYTES
        seq: int = _SEQ.unpack_from(self._mm, offset)[0] | 1  # odd: being written
        _SEQ.pack_into(self._mm, offset, seq)
        start = offset + _HEAD.size
        self._mm[start : start + len(payload)] = payload
        digest = _digest(tag, status, payload) if state == DONE else bytes(16)
        _HEAD.pack_into(self._mm, offset, seq, tag, at, state, status, len(payload), digest)
        _SEQ.pack_into(self._mm, offset, seq + 1)
        return seq + 1

    def _seq(self, index: int) -> int:
        return int(_SEQ.unpack_from(self._mm, self._base + index * SLOT_BYTES)[0])

    def _regions(self) -> list[int]:
        return [r for r, taken in enumerate(self._mm[: min(REGIONS, len(self._mm))]) if taken]

    # --- joining ------------------------------------------------------------------------

    def join(self, tag: bytes) -> Ticket | asyncio.Future[Reply | None] | None:
        """A :class:`Ticket` when this request is the first of its tag, a future of the first
        one's reply when a twin runs (or has just answered), None when this request is not
        shared (its slot is taken by another request)."""
        if self.closed:
            return None
        now = time.monotonic()
        self._swept(now)
        index = int.from_bytes(tag[:4], "little") % SLOTS
        found = self._twin(index, tag, now)
        if found is not None:
            return found
        offset = self._base + index * SLOT_BYTES
        _, _, at, state, _, _, _ = _HEAD.unpack_from(self._mm, offset)
        if state == RUNNING and now - at < WAIT_S:
            return None  # another request holds the slot
        now = time.monotonic()  # when the slot is written: the order the twins agree on
        seq = self._write(index, tag, now, RUNNING)
        # A twin that wrote its slot at the same moment in another worker: the later gives way.
        earlier = self._twin(index, tag, now, before=(now, self.region))
        if earlier is not None:
            self._write(index, tag, now, GONE)
            return earlier
        future: asyncio.Future[Reply | None] = asyncio.get_running_loop().create_future()
        self._local[tag] = future
        return Ticket(self, index, tag, seq, future)

    def _twin(
        self, index: int, tag: bytes, now: float, before: tuple[float, int] | None = None
    ) -> asyncio.Future[Reply | None] | None:
        """The reply to come (or fresh) of a running twin, in any region; with ``before``,
        only of a twin that began earlier (by start time, then region) in another region."""
        for region in self._regions():
            if before is not None and region == self.region:
                continue
            slot = self._read(region, index, tag)
            for _ in range(3):  # being written this very moment: look again
                if slot is None or slot[0] != TORN:
                    break
                slot = self._read(region, index, tag)
            if slot is None:
                continue
            state, at, status, payload = slot
            if before is not None and (state != RUNNING or (at, region) >= before):
                continue
            if state == RUNNING and now - at < WAIT_S:
                local = self._local.get(tag) if region == self.region else None
                return local if local is not None else self._poll(region, index, tag)
            if state == DONE and now - at < KEEP_S:
                ready: asyncio.Future[Reply | None] = asyncio.get_running_loop().create_future()
                ready.set_result((status, payload))
                return ready
        return None

    async def wait(self, future: asyncio.Future[Reply | None]) -> Reply | None:
        """The first twin's reply, or None (none to hand over, or not within :data:`WAIT_S`)."""
        try:
            return await asyncio.wait_for(asyncio.shield(future), WAIT_S)
        except TimeoutError:
            return None

    def _finish(self, ticket: Ticket, state: int, status: int, payload: bytes) -> None:
        if self.closed:
            return
        if self._local.get(ticket.tag) is ticket.future:
            del self._local[ticket.tag]
        reply = (status, payload) if state == DONE and len(payload) <= PAYLOAD_BYTES else None
        if not ticket.future.done():
            ticket.future.set_result(reply)
        if self._seq(ticket.index) != ticket.seq:
            return  # the slot has moved on
        now = time.monotonic()
        if reply is None:
            self._write(ticket.index, ticket.tag, now, GONE)
            return
        seq = self._write(ticket.index, ticket.tag, now, DONE, status, payload)
        self._sweep.append((now + KEEP_S, ticket.index, seq))

    def _swept(self, now: float) -> None:
        """Clear the replies that are no longer handed over (they are sealed anyway)."""
        while self._sweep and self._sweep[0][0] <= now:
            _, index, seq = self._sweep.popleft()
            if self._seq(index) == seq:
                self._write(index, bytes(16), 0.0, FREE)

    # --- waiting on other workers ---------------------------------------------------------

    def _poll(self, region: int, index: int, tag: bytes) -> asyncio.Future[Reply | None]:
        future: asyncio.Future[Reply | None] = asyncio.get_running_loop().create_future()
        self._polls.append((region, index, tag, future, time.monotonic() + WAIT_S))
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._polling())
        return future

    async def _polling(self) -> None:
        """One timer for every copy of this worker that waits on another worker's slot."""
        while self._polls:
            await asyncio.sleep(POLL_S)
            now = time.monotonic()
            waiting = []
            for entry in self._polls:
                region, index, tag, future, deadline = entry
                if future.done():
                    continue
                slot = self._read(region, index, tag)
                state, at, status, payload = slot if slot is not None else (FREE, 0.0, 0, b"")
                if state == DONE:
                    future.set_result((status, payload))
                elif now < deadline and (state == TORN or (state == RUNNING and now - at < WAIT_S)):
                    waiting.append(entry)  # running, or being written: look again next time
                else:
                    future.set_result(None)
            self._polls = waiting
