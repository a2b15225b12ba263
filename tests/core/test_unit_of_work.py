"""The unit of work under bursts: retried writes on a small pool, a commit that fails, a retry
racing the first request's commit."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator

import httpx
import pytest
from litestar import post
from litestar.params import FromQuery
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.app import create_app
from src.config import Settings
from src.core.deps import DbSession
from tests.builders import login, make_tree, make_user
from tests.core.helpers import serve

# A check that runs at commit, not at the statement: a row with n = 2 makes the commit take
# 0.3 s and then fail, the widest window a retry could race.
_SETUP = [
    "CREATE TABLE IF NOT EXISTS test_deferred (tag text NOT NULL, n int NOT NULL)",
    """
    CREATE OR REPLACE FUNCTION test_deferred_check() RETURNS trigger AS $$
    BEGIN
        IF NEW.n = 2 THEN
            PERFORM pg_sleep(0.3);
            RAISE EXCEPTION 'refused at commit';
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS test_deferred_check ON test_deferred",
    "CREATE CONSTRAINT TRIGGER test_deferred_check AFTER INSERT ON test_deferred "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_deferred_check()",
]


@post("/test/deferred")
async def deferred_write(
    db_session: DbSession, tag: FromQuery[str], fail: FromQuery[bool] = False
) -> dict[str, str]:
    await db_session.execute(
        text("INSERT INTO test_deferred VALUES (:t, :n)"), {"t": tag, "n": 2 if fail else 1}
    )
    return {"tag": tag}


@pytest.fixture(scope="module")
async def deferred_table(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session, session.begin():
        for statement in _SETUP:
            await session.execute(text(statement))


class _Statuses(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[tuple[str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.statuses.append((getattr(record, "path", ""), getattr(record, "status", 0)))


@pytest.fixture
def access_log() -> Iterator[_Statuses]:
    handler = _Statuses()
    logger = logging.getLogger("lifecircle.access")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


async def _idle_in_transaction(db: async_sessionmaker[AsyncSession]) -> int:
    async with db() as session:
        found = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'lifecircle' AND state LIKE 'idle in transaction%' "
                "AND pid <> pg_backend_pid()"
            )
        )
    return int(found or 0)


def _proposal(n: int) -> dict[str, str]:
    return {"title": f"加装电梯 {n}", "body": "三号楼老人上下楼不便", "category": "accessibility"}


async def test_a_burst_of_keyed_writes_on_a_small_pool_answers_every_request(
    settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    small = settings.model_copy(
        update={"db_pool_size": 5, "db_max_overflow": 0, "proposal_submit_limit": 10_000}
    )
    tree = await make_tree(db, 1)
    user = await make_user(db, community=tree.communities[0])
    async with serve(create_app(small)) as client:
        auth = await login(client, user)

        async def send(key: str, n: int) -> httpx.Response:
            return await client.post(
                "/api/v1/proposals", json=_proposal(n), headers={**auth, "Idempotency-Key": key}
            )

        distinct = [send(f"burst-{uuid.uuid4()}", n) for n in range(50)]
        shared_key = f"burst-one-{uuid.uuid4()}"
        same = [send(shared_key, 999) for _ in range(50)]
        replies = await asyncio.wait_for(asyncio.gather(*distinct, *same), timeout=30)

        assert [r.status_code for r in replies[:50]] == [201] * 50
        codes = {r.json().get("code") for r in replies[50:] if r.status_code == 409}
        assert codes <= {"request_in_progress"}
        created = [r for r in replies[50:] if r.status_code == 201]
        assert sum("idempotent-replayed" not in r.headers for r in created) == 1
        assert {r.json()["id"] for r in created} == {created[0].json()["id"]}
        assert {r.status_code for r in replies[50:]} <= {201, 409}
        async with db() as session:
            rows = await session.scalar(
                text("SELECT count(*) FROM proposals WHERE author_id = :u"), {"u": user.id}
            )
        assert rows == 51
        assert await _idle_in_transaction(db) == 0
        after = await send(f"after-{uuid.uuid4()}", 1000)
        assert after.status_code == 201


async def test_a_failed_commit_is_a_503_problem_and_stores_no_reply(
    settings: Settings,
    db: async_sessionmaker[AsyncSession],
    deferred_table: None,
    access_log: _Statuses,
) -> None:
    app = create_app(settings)
    app.register(deferred_write)
    tag = uuid.uuid4().hex
    async with serve(app) as client:
        headers = {"Idempotency-Key": f"fail-{tag}"}
        failed = await client.post(f"/test/deferred?tag={tag}&fail=true", headers=headers)
        assert failed.status_code == 503
        assert failed.headers["content-type"].startswith("application/problem+json")
        assert failed.json()["code"] == "database_unavailable"
        assert ("/test/deferred", 503) in access_log.statuses
        assert ("/test/deferred", 201) not in access_log.statuses
        async with db() as session:
            stored = await session.scalar(
                text("SELECT count(*) FROM idempotency_keys WHERE key = :k"),
                {"k": f"fail-{tag}"},
            )
            rows = await session.scalar(
                text("SELECT count(*) FROM test_deferred WHERE tag = :t"), {"t": tag}
            )
        assert (stored, rows) == (0, 0)
        # Nothing was kept: the same key may be retried for real (here it fails again).
        retried = await client.post(f"/test/deferred?tag={tag}&fail=true", headers=headers)
        assert retried.status_code == 503
        assert "idempotent-replayed" not in retried.headers


async def test_a_retry_racing_the_commit_never_gets_a_201_for_nothing(
    settings: Settings, db: async_sessionmaker[AsyncSession], deferred_table: None
) -> None:
    app = create_app(settings)
    app.register(deferred_write)
    async with serve(app) as client:
        for _ in range(3):
            tag = uuid.uuid4().hex
            url = f"/test/deferred?tag={tag}&fail=true"
            headers = {"Idempotency-Key": f"race-{tag}"}
            # The first request's commit takes 0.3 s and fails; retries arrive meanwhile.
            first = asyncio.create_task(client.post(url, headers=headers))
            racing = []
            for _ in range(6):
                await asyncio.sleep(0.05)
                racing.append(await client.post(url, headers=headers))
            replies = [await first, *racing]
            async with db() as session:
                rows = await session.scalar(
                    text("SELECT count(*) FROM test_deferred WHERE tag = :t"), {"t": tag}
                )
            assert rows == 0
            assert [r.status_code for r in replies if r.status_code == 201] == []
            assert {r.status_code for r in replies} <= {409, 503}
            assert 409 in {r.status_code for r in racing}
