"""The outbox worker (``lifecircle worker``; several may run): claim due rows with a lease,
deliver them to the portal, record the outcome.

- Claims use ``FOR UPDATE SKIP LOCKED`` and lease the rows (``claimed_until``,
  ``claim_token``): a worker killed mid-delivery loses its rows to another after the lease.
  Only the lease holder may record an outcome.
- Retries (timeouts, 5xx, 429, broken replies) are persisted in ``next_attempt_at``: capped
  exponential backoff with full jitter (tenacity's ``wait_random_exponential``), never
  sooner than the portal's ``Retry-After``. After ``portal_max_attempts`` the row is
  dead-lettered (``failed``) and holds its ordering key until an admin retries it.
- A circuit breaker per process stops calling a portal that keeps failing and sends one
  probe after the cool-down.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import RetryCallState, wait_random_exponential

from src.config import Settings
from src.integrations.city_portal import repository
from src.integrations.city_portal.client import Delivery, PortalClient
from src.integrations.city_portal.repository import Claimed

logger = logging.getLogger("lifecircle.portal.worker")

RETRY_AFTER_MAX_S = 3600.0


def backoff_s(attempt: int, base_s: float, cap_s: float) -> float:
    """Full jitter: uniform in [0, min(cap, base·2^(attempt-1))]."""
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = max(1, attempt)
    return float(wait_random_exponential(multiplier=base_s, max=cap_s)(state))


class CircuitBreaker:
    """closed → (``threshold`` failures in a row) → open → (``cooldown_s``) → half-open:
    one probe; its success closes the circuit, its failure opens it again."""

    def __init__(
        self, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = max(1, threshold)
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.times_opened = 0

    @property
    def state(self) -> Literal["closed", "open", "half_open"]:
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def seconds_until_probe(self) -> float:
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.cooldown_s - (self.clock() - self.opened_at))

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def record_failure(self) -> None:
        self.failures += 1
        if self.opened_at is not None or self.failures >= self.threshold:
            if self.opened_at is None:
                self.times_opened += 1
            self.opened_at = self.clock()


@dataclasses.dataclass
class WorkerStats:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    lost_lease: int = 0


@dataclasses.dataclass(frozen=True)
class WorkerConfig:
    batch_size: int
    lease_s: float
    max_attempts: int
    backoff_base_s: float
    backoff_cap_s: float
    poll_interval_s: float
    breaker_threshold: int
    breaker_cooldown_s: float
    nonce_ttl_s: int

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        return cls(
            batch_size=settings.portal_batch_size,
            lease_s=max(settings.portal_lease_s, settings.portal_timeout_s * 2),
            max_attempts=settings.portal_max_attempts,
            backoff_base_s=settings.portal_backoff_base_s,
            backoff_cap_s=settings.portal_backoff_cap_s,
            poll_interval_s=settings.portal_poll_interval_s,
            breaker_threshold=settings.portal_breaker_threshold,
            breaker_cooldown_s=settings.portal_breaker_cooldown_s,
            nonce_ttl_s=settings.portal_webhook_max_skew_s * 2,
        )


class OutboxWorker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        client: PortalClient,
        config: WorkerConfig,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.client = client
        self.config = config
        self.breaker = CircuitBreaker(config.breaker_threshold, config.breaker_cooldown_s)
        self.stats = WorkerStats()

    async def run_once(self) -> int:
        """Claim one batch and deliver it; the number of rows handled (0: nothing to do, or
        the circuit is open)."""
        state = self.breaker.state
        if state == "open":
            return 0
        batch = 1 if state == "half_open" else self.config.batch_size
        token = uuid.uuid4()
        async with self.sessionmaker() as session, session.begin():
            items = await repository.claim(
                session, batch=batch, lease_s=self.config.lease_s, token=token
            )
        if not items:
            return 0
        self.stats.claimed += len(items)
        results = await asyncio.gather(*(self._deliver(item) for item in items))
        delivered = [i.id for i, r in zip(items, results, strict=True) if r.outcome == "delivered"]
        async with self.sessionmaker() as session, session.begin():
            kept = await repository.mark_delivered_many(session, delivered, token)
            self.stats.delivered += kept
            # Rows whose lease ran out were taken over by another worker: its outcome counts.
            self.stats.lost_lease += len(delivered) - kept
            for item, result in zip(items, results, strict=True):
                if result.outcome != "delivered":
                    await self._record(session, item, result, token)
        return len(items)

    async def _deliver(self, item: Claimed) -> Delivery:
        result = await self.client.deliver(
            item.id, item.topic, item.ordering_key, item.payload, item.created_at
        )
        if result.outcome == "retry":
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
        return result

    async def _record(
        self, session: AsyncSession, item: Claimed, result: Delivery, token: uuid.UUID
    ) -> None:
        if result.outcome == "rejected" or item.attempts >= self.config.max_attempts:
            error = f"{result.error} (attempt {item.attempts})"
            kept = await repository.dead_letter(session, item.id, token, error)
            self.stats.dead += kept
            if kept:
                logger.warning("outbox item dead-lettered", extra={"id": item.id, "error": error})
        else:
            delay = backoff_s(item.attempts, self.config.backoff_base_s, self.config.backoff_cap_s)
            if result.retry_after_s is not None:
                delay = max(delay, min(result.retry_after_s, RETRY_AFTER_MAX_S))
            kept = await repository.schedule_retry(
                session, item.id, token, delay, f"{result.error} (attempt {item.attempts})"
            )
            self.stats.retried += kept
        if not kept:
            self.stats.lost_lease += 1

    async def housekeeping(self) -> None:
        async with self.sessionmaker() as session, session.begin():
            await repository.forget_old_nonces(session, self.config.nonce_ttl_s)

    async def backlog(self) -> int:
        async with self.sessionmaker() as session:
            row = await repository.outbox_metrics(session)
        return int(row.pending)

    async def due(self) -> int:
        """Pending rows whose time has come (leased ones included)."""
        async with self.sessionmaker() as session:
            row = await repository.outbox_metrics(session)
        return int(row.due)

    async def run(
        self,
        stop: asyncio.Event,
        *,
        until_empty: bool = False,
        progress: Callable[[str], None] | None = None,
        progress_every_s: float = 5.0,
    ) -> WorkerStats:
        last_report = last_housekeeping = time.monotonic()
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:  # a database hiccup must not end the worker
                logger.exception("outbox worker round failed")
                handled = 0
            now = time.monotonic()
            if progress and now - last_report >= progress_every_s:
                last_report = now
                progress(self.describe(await self.backlog()))
            if now - last_housekeeping >= 60:
                last_housekeeping = now
                await self.housekeeping()
            if handled:
                continue
            if until_empty and await self.due() == 0:
                break
            wait = self.config.poll_interval_s
            if self.breaker.state == "open":
                wait = max(min(wait, self.breaker.seconds_until_probe()), 0.01)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
        return self.stats

    def describe(self, backlog: int | None = None) -> str:
        s = self.stats
        text = (
            f"delivered {s.delivered}, retried {s.retried}, dead-lettered {s.dead}, "
            f"circuit {self.breaker.state} (opened {self.breaker.times_opened}×)"
        )
        return text if backlog is None else f"{text}, backlog {backlog}"
