"""The ballot batch's statements look every caller up by primary key, whatever the tables'
statistics: under a generic plan (the batcher's connections plan each statement once) no
table of the lookups is scanned whole. Found by profiling: a plan made while
idempotency_keys was small seq-scanned it for every batch, and PostgreSQL's CPU per ballot
grew meeting by meeting."""

from __future__ import annotations

import uuid

import asyncpg

from src.core import idempotency
from src.votes import repository

# The tables that grow with every ballot and sign-in. (sealed_ballots holds only the ballots
# waiting for a crowd, a handful of rows: a whole scan of it is what a planner rightly picks.)
LOOKED_UP = ("idempotency_keys", "auth_families", "users")


async def generic_plan(database_url: str, sql: str, *args: object) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        async with conn.transaction():  # EXPLAIN only: nothing runs, nothing stays
            rows = await conn.fetch("EXPLAIN (COSTS OFF) " + sql, *args)
    finally:
        await conn.close()
    return "\n".join(r[0] for r in rows)


def whole_scans(plan: str) -> list[str]:
    return [line.strip() for line in plan.splitlines() if "Seq Scan on" in line]


async def test_the_voters_statement_probes_by_key(database_url: str) -> None:
    n = 12
    users = [uuid.uuid4() for _ in range(n)]
    plan = await generic_plan(
        database_url,
        repository._VOTERS,
        uuid.uuid4(),
        uuid.uuid4(),
        False,
        list(range(n)),
        users,
        [uuid.uuid4() for _ in range(n)],
        [str(u) for u in users],
        [f"key-{i}" for i in range(n)],
        86_400,
        ["f" * 64] * n,
        [201] * n,
        ['{"content-type": "application/json"}'] * n,
        [b"{}"] * n,
    )
    scans = [s for s in whole_scans(plan) if any(t in s for t in LOOKED_UP)]
    assert scans == [], plan


async def test_the_twins_lookup_probes_by_key(database_url: str) -> None:
    n = 12
    plan = await generic_plan(
        database_url,
        idempotency._STORED_MANY,
        list(range(n)),
        [f"scope-{i}" for i in range(n)],
        [f"key-{i}" for i in range(n)],
        [86_400] * n,
    )
    assert [s for s in whole_scans(plan) if "idempotency_keys" in s] == [], plan
