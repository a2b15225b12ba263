"""All SQL of the area figures: one grouped statement per kind of fact, on the request's
asyncpg connection, each grouped by the child area the figures drill down to.

The area a statement covers is ``scope`` (``street_id = ANY($1)`` for a district,
``street_id = $1`` for a street, ``community_id = $1`` for a community); the child area of a
row is its ``street_id`` under a district and its ``community_id`` below.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from src.areas.residents import residents_sql
from src.models.area import AreaLevel


@dataclass(frozen=True)
class Scope:
    """Which rows an area's figures read, and how they are grouped into child areas."""

    level: AreaLevel
    ids: list[uuid.UUID]  # the district's streets, or the street / community itself

    @property
    def where(self) -> str:
        if self.level == AreaLevel.district:
            return "{t}.street_id = ANY($1::uuid[])"
        if self.level == AreaLevel.street:
            return "{t}.street_id = ($1::uuid[])[1]"
        return "{t}.community_id = ($1::uuid[])[1]"

    @property
    def child(self) -> str:
        return "{t}.street_id" if self.level == AreaLevel.district else "{t}.community_id"

    def sql(self, template: str, t: str) -> str:
        return template.replace("{scope}", self.where.replace("{t}", t)).replace(
            "{child}", self.child.replace("{t}", t)
        )


async def children(conn: Any, area_id: uuid.UUID) -> list[Any]:
    return list(
        await conn.fetch(
            "SELECT id, code, name, level::text AS level FROM areas WHERE parent_id = $1 "
            "ORDER BY code",
            area_id,
        )
    )


# Period: $2 and $3 are timestamptz bounds (NULL: open), half-open [from, to).
_PERIOD = "($2::timestamptz IS NULL OR {col} >= $2) AND ($3::timestamptz IS NULL OR {col} < $3)"


def _period(col: str) -> str:
    return _PERIOD.replace("{col}", col)


_PROPOSALS = f"""
SELECT {{child}} AS child, p.category, p.status::text AS status, count(*) AS n,
       coalesce(sum(p.support_count), 0) AS supports
FROM proposals p
WHERE {{scope}} AND {_period("p.created_at")}
GROUP BY 1, 2, 3
"""

# The first official reply of each suggestion (every reply is official: only committee,
# street, planner and admin staff may reply); hidden suggestions are left out.
_REPLIES = f"""
WITH scoped AS (
    SELECT p.id, {{child}} AS child, p.created_at
    FROM proposals p
    WHERE {{scope}} AND {_period("p.created_at")} AND p.status <> 'hidden'
), firsts AS (
    SELECT r.proposal_id, min(r.created_at) AS first_reply
    FROM proposal_replies r JOIN scoped s ON s.id = r.proposal_id
    GROUP BY r.proposal_id
)
SELECT s.child, count(*) AS proposals, count(f.first_reply) AS answered,
       count(*) FILTER (WHERE f.first_reply <= s.created_at + interval '7 days')
           AS within_7_days,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM f.first_reply - s.created_at) / 3600.0
       ) FILTER (WHERE f.first_reply IS NOT NULL) AS median_hours
FROM scoped s LEFT JOIN firsts f ON f.proposal_id = s.id
GROUP BY GROUPING SETS ((s.child), ())
"""

_MEETINGS = f"""
SELECT {{child}} AS child, e.kind::text AS kind, count(*) AS n,
       count(*) FILTER (WHERE e.status = 'closed') AS closed,
       coalesce(sum(ci.n), 0) AS check_ins,
       coalesce(sum((e.final_results ->> 'participants')::bigint)
                FILTER (WHERE e.status = 'closed' AND e.final_results IS NOT NULL), 0)
           AS participants,
       coalesce(sum((e.final_results ->> 'eligible_count')::bigint)
                FILTER (WHERE e.status = 'closed' AND e.final_results IS NOT NULL), 0)
           AS eligible
FROM events e
LEFT JOIN LATERAL (SELECT count(*) AS n FROM event_check_ins c WHERE c.event_id = e.id) ci
    ON TRUE
WHERE {{scope}} AND e.status <> 'cancelled' AND {_period("e.starts_at")}
GROUP BY 1, 2
"""

# Satisfaction as the area summary counts it (src/ratings): the ``overall`` tallies of the
# open and closed review meetings, app and paper, satisfied by ``rating_satisfied``.
_SATISFACTION = f"""
SELECT {{child}} AS child, sum(t.n) AS n, sum(t.n * t.score) AS weighted,
       coalesce(sum(t.n) FILTER (WHERE rating_satisfied(t.score)), 0) AS satisfied
FROM events e JOIN rating_tallies t ON t.event_id = e.id
WHERE {{scope}} AND e.kind = 'review' AND e.status IN ('open', 'closed')
  AND t.criterion = 'overall' AND {_period("e.starts_at")}
GROUP BY 1
"""

# Projects are a snapshot of the project lists of the years the period touches ($2, $3 are
# the first and last year here, NULL: every year). Overdue as src/projects says.
_PROJECTS = """
SELECT {child} AS child, p.status::text AS status, count(*) AS n,
       count(*) FILTER (WHERE p.planned_end < $4::date
                        AND p.status IN ('planned', 'designing', 'building')) AS overdue
FROM projects p
WHERE {scope} AND ($2::int IS NULL OR p.year >= $2) AND ($3::int IS NULL OR p.year <= $3)
GROUP BY 1, 2
"""


# Needs surveys opened in the period, with their responses and the registered residents of
# each survey's area (its results' response-rate denominator, counted by the same SQL). A
# survey's community is its area when that is a community (a street-wide survey has none, so
# it counts for the street only).
_SURVEYS = f"""
SELECT {{child}} AS child, count(*) AS n, count(*) FILTER (WHERE s.status = 'closed') AS closed,
       coalesce(sum(r.online), 0) AS online, coalesce(sum(r.paper), 0) AS paper,
       coalesce(sum(h.residents), 0) AS residents
FROM (
    SELECT sv.id, sv.area_id, sv.status, sv.street_id, sv.opens_at,
           CASE WHEN a.level = 'community' THEN sv.area_id END AS community_id
    FROM surveys sv JOIN areas a ON a.id = sv.area_id
    WHERE sv.status <> 'draft'
) s
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE x.channel = 'online') AS online,
           count(*) FILTER (WHERE x.channel = 'paper') AS paper
    FROM survey_responses x WHERE x.survey_id = s.id
) r ON TRUE
CROSS JOIN LATERAL (SELECT ({residents_sql("s.area_id")}) AS residents) h
WHERE {{scope}} AND {_period("s.opens_at")}
GROUP BY 1
"""


@dataclass(frozen=True)
class Period:
    start: dt.datetime | None
    end: dt.datetime | None  # exclusive
    first_year: int | None
    last_year: int | None


async def facts(conn: Any, scope: Scope, period: Period, today: dt.date) -> dict[str, list[Any]]:
    bounds = (scope.ids, period.start, period.end)
    return {
        "proposals": await conn.fetch(scope.sql(_PROPOSALS, "p"), *bounds),
        "replies": await conn.fetch(scope.sql(_REPLIES, "p"), *bounds),
        "meetings": await conn.fetch(scope.sql(_MEETINGS, "e"), *bounds),
        "satisfaction": await conn.fetch(scope.sql(_SATISFACTION, "e"), *bounds),
        "surveys": await conn.fetch(scope.sql(_SURVEYS, "s"), *bounds),
        "projects": await conn.fetch(
            scope.sql(_PROJECTS, "p"), scope.ids, period.first_year, period.last_year, today
        ),
    }


async def streets_of(conn: Any, district_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT id FROM areas WHERE parent_id = $1 AND level = 'street'", district_id
    )
    return [r["id"] for r in rows]


# Hot spots: suggestions with a place, not hidden, counted per grid cell (WGS-84 degrees;
# $4, $5: the cell's height and width) and category; $6: one category or NULL for all.
_HOTSPOTS = f"""
SELECT floor(p.lat / $4)::int AS i, floor(p.lng / $5)::int AS j, p.category, count(*) AS n
FROM proposals p
WHERE {{scope}} AND {_period("p.created_at")} AND p.lat IS NOT NULL AND p.status <> 'hidden'
  AND ($6::text IS NULL OR p.category = $6)
GROUP BY 1, 2, 3
"""


async def hotspot_cells(
    conn: Any,
    scope: Scope,
    period: Period,
    cell_deg: tuple[float, float],
    category: str | None,
) -> list[Any]:
    return list(
        await conn.fetch(
            scope.sql(_HOTSPOTS, "p"),
            scope.ids,
            period.start,
            period.end,
            cell_deg[0],
            cell_deg[1],
            category,
        )
    )
