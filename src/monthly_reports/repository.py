"""All SQL of the monthly reports."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

_COLUMNS = "id, street_id, period, progress, problems, filed_at, updated_at"


async def insert(
    conn: Any, values: tuple[uuid.UUID, uuid.UUID, dt.date, str, str, uuid.UUID]
) -> Any:
    """The new report, or None when the street has filed this month already."""
    return await conn.fetchrow(
        f"""
        INSERT INTO monthly_reports
            (id, street_id, period, progress, problems, filed_by, updated_by)
        VALUES ($1, $2, $3, $4, $5, $6, $6)
        ON CONFLICT (street_id, period) DO NOTHING
        RETURNING {_COLUMNS}
        """,
        *values,
    )


async def update(
    conn: Any, street_id: uuid.UUID, period: dt.date, progress: str, problems: str, by: uuid.UUID
) -> Any:
    return await conn.fetchrow(
        f"""
        UPDATE monthly_reports
           SET progress = $3, problems = $4, updated_by = $5, updated_at = now()
         WHERE street_id = $1 AND period = $2
        RETURNING {_COLUMNS}
        """,
        street_id,
        period,
        progress,
        problems,
        by,
    )


async def filings(conn: Any, street_ids: list[uuid.UUID], period: dt.date) -> list[Any]:
    """Every street of ``street_ids`` with its report of ``period`` (columns NULL: none)."""
    return list(
        await conn.fetch(
            """
            SELECT a.id AS area_id, a.code, a.name, r.id, r.street_id, r.period, r.progress,
                   r.problems, r.filed_at, r.updated_at
            FROM areas a
            LEFT JOIN monthly_reports r ON r.street_id = a.id AND r.period = $2
            WHERE a.id = ANY($1::uuid[])
            ORDER BY a.code
            """,
            street_ids,
            period,
        )
    )


async def streets_under(conn: Any, area_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT id FROM areas WHERE parent_id = $1 AND level = 'street' AND NOT retired "
        "ORDER BY code",
        area_id,
    )
    return [r["id"] for r in rows]


# The street staff of streets with no report for the period who were not yet reminded; the
# reminder rows are written in the same statement, so a second run finds nobody.
_REMIND = """
WITH due AS (
    SELECT a.id AS street_id, g.user_id
    FROM areas a
    JOIN role_grants g ON g.area_id = a.id AND g.role = 'street'
    JOIN users u ON u.id = g.user_id AND NOT u.disabled
    WHERE a.level = 'street' AND NOT a.retired
      AND NOT EXISTS (
          SELECT 1 FROM monthly_reports r WHERE r.street_id = a.id AND r.period = $1
      )
)
INSERT INTO report_reminders (street_id, period, user_id)
SELECT street_id, $1, user_id FROM due
ON CONFLICT DO NOTHING
RETURNING street_id, user_id
"""


async def claim_reminders(conn: Any, period: dt.date) -> list[Any]:
    return list(await conn.fetch(_REMIND, period))
