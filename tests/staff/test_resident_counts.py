"""The counted residents (``community_residents``, appended by triggers on ``users``) equal a
plain count over ``users`` after every kind of change: sign-ups, a bulk COPY, moves between
communities, verification, disabling, deletion, concurrent transactions touching two
communities in opposite orders (none waits, none deadlocks), and folds meanwhile."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.areas.residents import FOLD_SQL
from tests.builders import make_tree, make_user

PLAIN = """
SELECT a.id,
       (SELECT count(*) FROM users u WHERE u.home_community_id = a.id AND NOT u.disabled),
       (SELECT count(*) FROM users u
        WHERE u.home_community_id = a.id AND NOT u.disabled AND u.verified)
FROM areas a WHERE a.id = ANY($1::uuid[]) ORDER BY a.id
"""
COUNTED = """
SELECT a.id, coalesce(sum(c.residents), 0), coalesce(sum(c.verified), 0)
FROM areas a LEFT JOIN community_residents c ON c.community_id = a.id
WHERE a.id = ANY($1::uuid[]) GROUP BY a.id ORDER BY a.id
"""


async def _both(conn: Any, ids: list[uuid.UUID]) -> tuple[list[tuple[Any, ...]], ...]:
    plain = [tuple(r) for r in await conn.fetch(PLAIN, ids)]
    counted = [tuple(r) for r in await conn.fetch(COUNTED, ids)]
    return plain, counted


async def test_counts_follow_every_change(
    db: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    tree = await make_tree(db, communities=2)
    a, b = tree.communities
    ids = [a.id, b.id]
    for verified in (True, False, True):
        await make_user(db, community=a, verified=verified)
    conn = await asyncpg.connect(database_url)
    try:
        plain, counted = await _both(conn, ids)
        assert counted == plain
        assert {r[0]: r[1:] for r in counted}[a.id] == (3, 2)

        # A bulk COPY: one statement, one update per community.
        rows = [(uuid.uuid4(), f"居民{i}", i % 3 == 0, (a.id, b.id)[i % 2]) for i in range(500)]
        await conn.copy_records_to_table(
            "users", columns=["id", "display_name", "verified", "home_community_id"], records=rows
        )
        plain, counted = await _both(conn, ids)
        assert counted == plain
        assert {r[0]: r[1] for r in counted} == {a.id: 253, b.id: 250}

        moved = [r[0] for r in rows[:40]]
        await conn.execute(
            "UPDATE users SET home_community_id = $2 WHERE id = ANY($1::uuid[])", moved, b.id
        )
        await conn.execute("UPDATE users SET verified = NOT verified WHERE id = ANY($1)", moved)
        await conn.execute("UPDATE users SET disabled = true WHERE id = ANY($1)", moved[:7])
        await conn.execute("UPDATE users SET display_name = '改名' WHERE id = ANY($1)", moved)
        await conn.execute("UPDATE users SET home_community_id = NULL WHERE id = $1", rows[41][0])
        await conn.execute("DELETE FROM users WHERE id = ANY($1)", [r[0] for r in rows[50:60]])
        plain, counted = await _both(conn, ids)
        assert counted == plain

        # Concurrent transactions adding and moving residents of the same communities, in
        # opposite orders, while folds run.
        async def burst(n: int) -> None:
            one = await asyncpg.connect(database_url)
            try:
                async with one.transaction():
                    for k in range(5):
                        await one.execute(
                            "INSERT INTO users (id, display_name, verified, home_community_id) "
                            "VALUES ($1, $2, $3, $4)",
                            uuid.uuid4(),
                            f"并发{n}-{k}",
                            k % 2 == 0,
                            (a.id, b.id)[(n + k) % 2],
                        )
                    await one.execute(
                        "UPDATE users SET home_community_id = $1 WHERE id = $2", a.id, rows[n][0]
                    )
            finally:
                await one.close()

        async def folds() -> None:
            other = await asyncpg.connect(database_url)
            try:
                for _ in range(10):
                    await other.execute(FOLD_SQL)
                    await asyncio.sleep(0.005)
            finally:
                await other.close()

        await asyncio.gather(folds(), *(burst(n) for n in range(100, 120)))
        plain, counted = await _both(conn, ids)
        assert counted == plain
        await conn.execute(FOLD_SQL)
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM community_residents WHERE community_id = ANY($1::uuid[])", ids
            )
            == 2
        )
        assert (await _both(conn, ids))[1] == plain
    finally:
        await conn.close()
