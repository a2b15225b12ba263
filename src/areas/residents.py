"""Who counts as an area's registered residents: the users whose home community lies within
the area and who are not disabled, as ``community_residents`` counts them per community (the
triggers of migration 1800 on ``users`` append the changes; :data:`FOLD_SQL` folds them). The
residents list's summary, the survey response rate and the area figures all count them here."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from src.core.db import driver_connection


def residents_sql(area: str, *, verified: bool = False) -> str:
    """The number of registered residents (``verified``: of them, those verified) of the area
    ``area`` (an SQL expression: a parameter or a column), a community, a street or a
    district: a few primary-key reads, whatever the number of residents."""
    column = "verified" if verified else "residents"
    return (
        f"SELECT coalesce(sum(c.{column}), 0)::int FROM community_residents c "
        "WHERE c.community_id IN ("
        f"SELECT id FROM areas WHERE id = {area} OR parent_id = {area} "
        f"OR parent_id IN (SELECT id FROM areas WHERE parent_id = {area}))"
    )


# Each community's rows folded into one, in one statement (run by the ``resident_counts_fold``
# job). Rows appended meanwhile are not in its snapshot and stay; a concurrent fold deletes
# (and so re-adds) only the rows this one has not.
FOLD_SQL = """
WITH many AS (
    SELECT community_id FROM community_residents GROUP BY community_id HAVING count(*) > 1
), gone AS (
    DELETE FROM community_residents c USING many WHERE c.community_id = many.community_id
    RETURNING c.community_id, c.residents, c.verified
)
INSERT INTO community_residents (community_id, residents, verified)
SELECT community_id, sum(residents), sum(verified) FROM gone GROUP BY community_id
"""


async def fold(session: AsyncSession) -> int:
    """Fold the counts (:data:`FOLD_SQL`); returns how many communities had rows folded."""
    conn = await driver_connection(session)
    status: str = await conn.execute(FOLD_SQL)
    return int(status.split()[-1])
