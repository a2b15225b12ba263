"""One transaction per request: the audit row and the outbox message commit with the change, or
vanish with it. GET requests read without a transaction unless they ask for one."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from litestar import get, post
from litestar.params import FromQuery
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.app import create_app
from src.config import Settings
from src.core import audit, outbox
from src.core.deps import DbSession
from src.core.errors import conflict
from tests.core.helpers import serve


async def _write_then_maybe_fail(session: AsyncSession, tag: str, fail: bool) -> dict[str, str]:
    await audit.record(session, None, "test.write", "test", tag, details={"tag": tag})
    await outbox.enqueue(session, "test.happened", f"test:{tag}", {"tag": tag})
    await session.execute(
        text(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, state) VALUES (:s, :k, '', 'x')"
        ),
        {"s": "test-tx", "k": tag},
    )
    if fail:
        raise conflict("test_refused", "测试拒绝", "Refused by the test")
    return {"tag": tag}


@post("/test/write")
async def write(
    db_session: DbSession, tag: FromQuery[str], fail: FromQuery[bool] = False
) -> dict[str, str]:
    return await _write_then_maybe_fail(db_session, tag, fail)


@get("/test/write-on-get", opt={"db_transaction": True})
async def write_on_get(
    db_session: DbSession, tag: FromQuery[str], fail: FromQuery[bool] = False
) -> dict[str, str]:
    return await _write_then_maybe_fail(db_session, tag, fail)


@get("/test/in-transaction")
async def in_transaction(db_session: DbSession) -> dict[str, Any]:
    # In autocommit each statement is its own transaction, with its own id.
    xid1 = (await db_session.execute(text("SELECT pg_current_xact_id()::text"))).scalar()
    xid2 = (await db_session.execute(text("SELECT pg_current_xact_id()::text"))).scalar()
    return {"same_transaction": xid1 == xid2}


async def _rows(db: async_sessionmaker[AsyncSession], tag: str) -> tuple[int, int, int]:
    async with db() as session:
        audits = await session.scalar(
            text("SELECT count(*) FROM audit_log WHERE object_id = :t"), {"t": tag}
        )
        messages = await session.scalar(
            text("SELECT count(*) FROM outbox WHERE ordering_key = :k"), {"k": f"test:{tag}"}
        )
        changes = await session.scalar(
            text("SELECT count(*) FROM idempotency_keys WHERE scope = 'test-tx' AND key = :t"),
            {"t": tag},
        )
        return int(audits or 0), int(messages or 0), int(changes or 0)


async def test_audit_and_outbox_commit_and_roll_back_with_the_request(
    settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    app = create_app(settings)
    for handler in (write, write_on_get, in_transaction):
        app.register(handler)
    async with serve(app) as client:
        ok, refused = uuid.uuid4().hex, uuid.uuid4().hex
        assert (await client.post(f"/test/write?tag={ok}")).status_code == 201
        reply = await client.post(f"/test/write?tag={refused}&fail=true")
        assert reply.status_code == 409
        assert await _rows(db, ok) == (1, 1, 1)
        assert await _rows(db, refused) == (0, 0, 0)

        # A GET that asked for a transaction gets the same all-or-nothing.
        ok, refused = uuid.uuid4().hex, uuid.uuid4().hex
        assert (await client.get(f"/test/write-on-get?tag={ok}")).status_code == 200
        assert (await client.get(f"/test/write-on-get?tag={refused}&fail=1")).status_code == 409
        assert await _rows(db, ok) == (1, 1, 1)
        assert await _rows(db, refused) == (0, 0, 0)

        # A plain GET runs each statement on its own: no BEGIN/COMMIT round trips.
        plain = (await client.get("/test/in-transaction")).json()
        assert plain["same_transaction"] is False


async def test_a_failed_request_in_the_real_api_leaves_nothing_behind(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    from tests.builders import login, make_tree, make_user

    tree = await make_tree(db, 1)
    user = await make_user(db, community=tree.communities[0])
    headers = await login(client, user)
    before = await _outbox_count(db)
    refused = await client.post(
        "/api/v1/proposals",
        json={"title": "加装电梯", "body": "x", "category": "no-such"},
        headers=headers,
    )
    assert refused.status_code == 422
    assert await _outbox_count(db) == before
    created = await client.post(
        "/api/v1/proposals",
        json={"title": "加装电梯", "body": "x", "category": "accessibility"},
        headers=headers,
    )
    assert created.status_code == 201
    async with db() as session:
        topics = (
            await session.scalars(
                text("SELECT topic FROM outbox WHERE ordering_key = :k"),
                {"k": f"proposal:{created.json()['id']}"},
            )
        ).all()
    assert list(topics) == ["proposal.created"]


async def _outbox_count(db: async_sessionmaker[AsyncSession]) -> int:
    async with db() as session:
        return int(await session.scalar(text("SELECT count(*) FROM outbox")) or 0)
