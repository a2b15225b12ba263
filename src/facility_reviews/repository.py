"""All SQL of the facility reviews."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

# The facility's responsible area: the community whose centroid is nearest (within 3 km), as
# a flat-earth distance (the city spans well under a degree: good enough to pick one).
_RESPONSIBLE = """
SELECT a.id, a.parent_id, a.path
FROM facilities f
JOIN areas a ON a.level = 'community' AND NOT a.retired
WHERE f.id = $1
  AND (a.centroid_lat - f.lat) ^ 2 + ((a.centroid_lng - f.lng) * cos(radians(f.lat))) ^ 2
      < (3000 / 111320.0) ^ 2
ORDER BY (a.centroid_lat - f.lat) ^ 2 + ((a.centroid_lng - f.lng) * cos(radians(f.lat))) ^ 2
LIMIT 1
"""


async def facility(conn: Any, facility_id: uuid.UUID) -> Any:
    return await conn.fetchrow(
        "SELECT id, name, category FROM facilities WHERE id = $1", facility_id
    )


async def responsible_area(conn: Any, facility_id: uuid.UUID) -> Any:
    return await conn.fetchrow(_RESPONSIBLE, facility_id)


# One statement: a double tap inserts once and the other changes the same row.
_UPSERT = """
INSERT INTO facility_reviews
    (id, facility_id, user_id, month, verdict, reasons, comment, community_id, street_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (facility_id, user_id, month) DO UPDATE
   SET verdict = excluded.verdict, reasons = excluded.reasons, comment = excluded.comment,
       community_id = excluded.community_id, street_id = excluded.street_id,
       updated_at = now()
RETURNING id, month, verdict, reasons, comment, updated_at, (xmax = 0) AS created
"""


async def upsert(conn: Any, values: tuple[Any, ...]) -> Any:
    return await conn.fetchrow(_UPSERT, *values)


async def summary(conn: Any, facility_id: uuid.UUID, month: dt.date) -> list[Any]:
    return list(
        await conn.fetch(
            """
            SELECT verdict, month = $2 AS this_month, reasons, count(*) AS n
            FROM facility_reviews WHERE facility_id = $1
            GROUP BY 1, 2, 3
            """,
            facility_id,
            month,
        )
    )


async def good_shares(conn: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int]]:
    rows = await conn.fetch(
        """
        SELECT facility_id, count(*) FILTER (WHERE verdict = 'good') AS good, count(*) AS n
        FROM facility_reviews WHERE facility_id = ANY($1::uuid[]) GROUP BY 1
        """,
        ids,
    )
    return {r["facility_id"]: (int(r["good"]), int(r["n"])) for r in rows}


async def comments_page(
    conn: Any, facility_id: uuid.UUID, after: tuple[dt.datetime, uuid.UUID] | None, limit: int
) -> list[Any]:
    return list(
        await conn.fetch(
            """
            SELECT r.id, r.month, r.verdict, r.reasons, r.comment, r.updated_at,
                   u.display_name
            FROM facility_reviews r JOIN users u ON u.id = r.user_id
            WHERE r.facility_id = $1 AND r.comment IS NOT NULL AND r.comment <> ''
              AND ($2::timestamptz IS NULL OR (r.updated_at, r.id) < ($2, $3::uuid))
            ORDER BY r.updated_at DESC, r.id DESC
            LIMIT $4
            """,
            facility_id,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )
    )


async def ranking(
    conn: Any,
    column: str,
    area_ids: list[uuid.UUID],
    category: str | None,
    min_reviews: int,
    limit: int,
) -> list[Any]:
    assert column in ("street_id", "community_id")
    return list(
        await conn.fetch(
            f"""
            SELECT f.id AS facility_id, f.name, f.category, s.n, s.good,
                   s.good::float8 / s.n AS good_share
            FROM (
                SELECT facility_id, count(*) AS n,
                       count(*) FILTER (WHERE verdict = 'good') AS good
                FROM facility_reviews WHERE {column} = ANY($1::uuid[])
                GROUP BY facility_id HAVING count(*) >= $3
            ) s JOIN facilities f ON f.id = s.facility_id
            WHERE ($2::text IS NULL OR f.category = $2)
            ORDER BY good_share DESC, s.n DESC, f.id
            LIMIT $4
            """,
            area_ids,
            category,
            min_reviews,
            limit,
        )
    )


async def streets_of(conn: Any, district_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch("SELECT id FROM areas WHERE parent_id = $1", district_id)
    return [r["id"] for r in rows]
