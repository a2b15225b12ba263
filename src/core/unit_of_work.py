"""One unit of work per request: the transaction, the idempotency record, the caller.

Every HTTP request gets one :class:`UnitOfWork` (``scope["state"]["unit"]``), created by
:func:`unit_of_work_middleware`, the innermost middleware. It owns everything that must
succeed or fail together:

- **One connection, at most.** The request's connection is taken on first use and is the
  only one the request gets; the principal (``principal`` / ``maybe_principal``, one raw
  statement on it: a read that needs nothing else never makes an ORM session), the
  idempotency record, the ORM session (``db_session``, bound to that connection) and a fast
  path's raw asyncpg statements (:meth:`UnitOfWork.raw_connection`) all run on it. Nothing
  in a request waits for a second connection of the pool while holding one.
- **Writes commit before the response starts.** A request that writes (any method but GET and
  HEAD, or a GET with ``opt={"db_transaction": True}``) has its response held back until the
  handler has finished; then a 2xx/3xx commits, anything else rolls back, and only then is the
  first byte sent. A failed commit is therefore an ordinary 503 problem+json
  (``database_unavailable``), never a 2xx for a write that did not commit, and the access log
  records the status the client really got.
- **Reads take no transaction.** GET and HEAD run each statement on its own (autocommit: under
  READ COMMITTED each statement has its own snapshot anyway), and the connection goes back to
  the pool as the response starts, so a long stream holds none. A write that is a single
  statement (the ballot: ``opt={"db_transaction": False}``) runs the same way, and keeps its
  Idempotency-Key inside that statement (``unit.claim``); a copy of it that arrives while it
  runs, in this worker or another of the host, waits for its reply instead of running again
  (src/core/twins.py).
- **The Idempotency-Key is part of the transaction** (:mod:`src.core.idempotency`): the key is
  claimed first with a transaction-scoped advisory lock (a concurrent duplicate gets 409
  ``request_in_progress`` at once), and the stored reply is inserted in the same transaction
  as the change it describes: a replay exists only for a committed write, and a crash before
  the commit leaves nothing behind, so the key is claimable again at once.
- **Work that must outlive a refusal** (revoking a stolen sign-in while answering 401) is
  registered with :meth:`UnitOfWork.on_failure` and runs on the same connection, in its own
  transaction, after the rollback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.types import ASGIApp
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from src.core import idempotency
from src.core.auth import Principal, load_principal
from src.core.caller import token_claims
from src.core.db import driver_connection
from src.core.errors import AppError, Message, internal_error_handler, send_problem, unauthorized
from src.core.principals import PrincipalCache

logger = logging.getLogger("lifecircle.unit_of_work")

UNIT_KEY = "unit"
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})

FailureWork = Callable[[AsyncSession], Awaitable[None]]


def commit_failed() -> AppError:
    return AppError(
        503,
        "database_unavailable",
        Message("服务暂不可用，请稍后重试（未保存）", "Service unavailable, nothing saved: retry"),
        headers={"Retry-After": "2"},
    )


class UnitOfWork:
    """The request's session, transaction and failure work; see the module docstring."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        transactional: bool,
        engine: AsyncEngine | None = None,
    ) -> None:
        self._factory = factory
        self.transactional = transactional
        # Reads: a raw statement needs no ORM session; the connection is taken straight from
        # the pool (``engine``, autocommit) and a session, if one is asked for later, is bound
        # to that same connection.
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._session: AsyncSession | None = None
        self._on_failure: list[FailureWork] = []
        # The Idempotency-Key of a single-statement write (src/core/idempotency.py, claim).
        self.claim: idempotency.Claim | None = None

    @property
    def session(self) -> AsyncSession:
        """The request's one session (made on first use; connects on its first statement)."""
        if self._session is None:
            if self._connection is not None:
                self._session = self._factory(bind=self._connection)
            else:
                self._session = self._factory()
        return self._session

    async def raw_connection(self) -> Any:
        """The asyncpg connection of the request (inside its transaction when it has one),
        for a fast path's hand-written statements."""
        if self._session is None and self._engine is not None and not self.transactional:
            if self._connection is None:
                self._connection = await self._engine.connect()
            fairy = await self._connection.get_raw_connection()
            return fairy.driver_connection
        return await driver_connection(self.session)

    @property
    def has_pending_changes(self) -> bool:
        session = self._session
        return session is not None and bool(session.new or session.dirty or session.deleted)

    def on_failure(self, work: FailureWork) -> None:
        """Run ``work`` in its own transaction after this request's rollback."""
        self._on_failure.append(work)

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()

    async def rollback(self) -> None:
        if self._session is None:
            return
        await self._session.rollback()
        if self._on_failure:
            work, self._on_failure = self._on_failure, []
            for item in work:
                await item(self._session)
            await self._session.commit()

    async def close(self) -> None:
        session, self._session = self._session, None
        connection, self._connection = self._connection, None
        if session is not None:
            await session.close()
        if connection is not None:
            await connection.close()


def current_unit(scope: Any) -> UnitOfWork:
    unit: UnitOfWork = scope["state"][UNIT_KEY]
    return unit


async def provide_unit(request: Request[Any, Any, Any]) -> UnitOfWork:
    """Dependency ``unit``."""
    return current_unit(request.scope)


async def provide_db_session(request: Request[Any, Any, Any]) -> AsyncSession:
    """Dependency ``db_session``: the unit's session. A plain function, not a generator: its
    end is the unit's business, and a generator dependency costs every request a cleanup
    group."""
    return current_unit(request.scope).session


def _wants_transaction(scope: Any) -> bool:
    """Writes take a transaction, reads don't; a route may say otherwise with
    ``opt={"db_transaction": …}`` (a GET that writes; a write that is one statement)."""
    handler = scope.get("route_handler")
    chosen = handler.opt.get("db_transaction") if handler is not None else None
    if chosen is not None:
        return bool(chosen)
    return scope["method"] not in READ_ONLY_METHODS


async def _send_error(scope: Any, receive: Any, send: Any, exc: BaseException) -> None:
    """A problem+json for an error outside the handler (a failed lookup, a failed commit)."""
    if isinstance(exc, AppError):
        await send_problem(scope, receive, send, exc)
        return
    request: Request[Any, Any, Any] = Request(scope)
    response = internal_error_handler(request, exc if isinstance(exc, Exception) else Exception())
    await response.to_asgi_response(None, request)(scope, receive, send)


def unit_of_work_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        state: State = scope["litestar_app"].state
        transactional = _wants_transaction(scope)
        factory = state.sessionmaker if transactional else state.autocommit_sessionmaker
        unit = UnitOfWork(factory, transactional, state.get("autocommit_engine"))
        scope["state"][UNIT_KEY] = unit
        try:
            if transactional:
                await _run_writing(app, scope, receive, send, unit, state)
                return
            found = await idempotency.claim(
                scope, receive, unit, state.settings, state.get("twins")
            )
            if isinstance(found, idempotency.Answer):
                await found.send(scope, receive, send)
                return
            await _run_reading(app, scope, found.receive if found else receive, send, unit)
        finally:
            if unit.claim is not None:
                unit.claim.release()
            await unit.close()

    return middleware


async def _run_reading(app: ASGIApp, scope: Any, receive: Any, send: Any, unit: UnitOfWork) -> None:
    failed = False

    async def release_then_send(message: Any) -> None:
        nonlocal failed
        if failed:
            return
        if message["type"] == "http.response.start":
            try:
                # Bookkeeping a read may leave (an export's record) is flushed before the
                # first byte; each statement commits on its own.
                if message["status"] < 400 and unit.has_pending_changes:
                    await unit.commit()
            except Exception:
                logger.warning("flush of a read failed", extra={"path": scope["path"]})
                failed = True
                await unit.close()
                await _send_error(scope, receive, send, commit_failed())
                return
            await unit.close()  # a long stream holds no connection
        if unit.claim is not None:
            unit.claim.observe(message)  # its twins may be waiting for it
        await send(message)

    await app(scope, receive, release_then_send)


async def _run_writing(
    app: ASGIApp, scope: Any, receive: Any, send: Any, unit: UnitOfWork, state: State
) -> None:
    try:
        claim = await idempotency.claim(scope, receive, unit, state.settings)
    except Exception as exc:  # PostgreSQL away, say: a 503 problem, not a bare 500
        await _rollback_quietly(unit)
        await _send_error(scope, receive, send, exc)
        return
    if isinstance(claim, idempotency.Answer):
        await _rollback_quietly(unit)  # releases the claim's lock
        await claim.send(scope, receive, send)
        return
    if claim is not None:
        receive = claim.receive

    held: list[Any] = []

    async def hold(message: Any) -> None:
        held.append(message)

    try:
        await app(scope, receive, hold)
    except BaseException:
        await _rollback_quietly(unit)
        raise
    start = next((m for m in held if m["type"] == "http.response.start"), None)
    status = start["status"] if start is not None else 500
    try:
        if status < 400:
            if claim is not None:
                replay = await claim.store(unit.session, held)
                if replay is not None:  # a twin committed first: its reply, not ours
                    await unit.rollback()
                    await replay.send(scope, receive, send)
                    return
            await unit.commit()
        else:
            await unit.rollback()
            if claim is not None and claim.keeps(status):
                await claim.store(unit.session, held)
                await unit.commit()
    except Exception as exc:
        logger.warning("commit failed: %s", type(exc).__name__, extra={"path": scope["path"]})
        await _rollback_quietly(unit)
        await _send_error(scope, receive, send, commit_failed())
        return
    for message in held:
        await send(message)


async def _rollback_quietly(unit: UnitOfWork) -> None:
    try:
        await unit.rollback()
    except Exception:  # the connection is gone: closing the session discards it
        logger.debug("rollback failed", exc_info=True)


# --- the principal dependencies -------------------------------------------------------------


async def provide_principal(
    request: Request[Any, Any, Any], state: State, unit: NamedDependency[UnitOfWork]
) -> Principal:
    """Dependency ``principal``: the signed-in caller, or 401 (a revoked role or sign-in
    takes effect at once in this worker, within milliseconds in the others)."""
    claims = token_claims(request.scope, state.settings)
    if claims is None:
        raise unauthorized()
    # Reads take the worker's kept principal (src/core/principals.py: forgotten as soon as
    # PostgreSQL announces a change); writes always read it afresh.
    cache: PrincipalCache | None = None if unit.transactional else state.get("principals")
    principal = cache.get(claims) if cache is not None else None
    if principal is None:
        generation = cache.generation if cache is not None else 0
        principal = await load_principal(await unit.raw_connection(), claims)
        if cache is not None:
            cache.put(claims, principal, generation)
    request.scope["state"]["user_id"] = str(principal.user_id)
    return principal


async def provide_optional_principal(
    request: Request[Any, Any, Any], state: State, unit: NamedDependency[UnitOfWork]
) -> Principal | None:
    """Dependency ``maybe_principal``: the caller when a token is sent, else None."""
    if request.headers.get("authorization") is None:
        return None
    return await provide_principal(request, state, unit)
