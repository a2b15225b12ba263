"""The figures of an area and of each of its child areas, for decision support.

Each figure counts the same rows the other endpoints list or summarise, with the same rules:

- suggestions: created in the period (``from``/``to`` are Shanghai dates, inclusive, as in the
  suggestion export), by status (``hidden`` included) and by category; ``supports`` sums
  their ``support_count``;
- first replies: of those suggestions, ``hidden`` left out, the hours from submission to the
  first official reply (the median of the answered ones) and how many were answered within
  7 days;
- meetings: not cancelled, starting in the period, by kind; check-ins, and the participants
  and eligible residents of the frozen results of the closed ones (turnout = their ratio);
- satisfaction: the ``overall`` ratings of the open and closed review meetings starting in
  the period, as ``GET /areas/{id}/satisfaction`` counts them for staff;
- projects: the project lists of the years the period touches (all years without a
  period), by status, and the overdue ones (planned end passed, still open);
- surveys: the needs surveys opened in the period (not drafts), their responses online and on
  paper, and their response rates by the rule of a survey's results
  (:func:`src.surveys.rules.response_rates`) over the surveys' responses and the registered
  residents of each survey's area, summed.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from litestar.serialization import encode_json
from sqlalchemy.ext.asyncio import AsyncSession

from src.area_stats import repository
from src.area_stats.cache import cached, store
from src.area_stats.repository import Period, Scope
from src.area_stats.schemas import (
    AreaStatsOut,
    Figures,
    HotspotFeature,
    HotspotGeometry,
    HotspotProperties,
    HotspotsOut,
    MeetingFigures,
    MeetingKindFigures,
    ProjectFigures,
    ProposalFigures,
    ReplyFigures,
    SatisfactionFigures,
    SurveyFigures,
)
from src.core.auth import Principal
from src.core.db import driver_connection
from src.core.errors import validation_failed
from src.core.geo import CoordSys, convert
from src.core.policy import AreaRef, decision_scope, load_area
from src.models.area import AreaLevel
from src.surveys.rules import response_rates

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOTAL = "__total__"


def period_of(date_from: dt.date | None, date_to: dt.date | None) -> Period:
    if date_from and date_to and date_from > date_to:
        raise validation_failed([{"field": "from", "message": "from must not be after to"}])

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=SHANGHAI)

    return Period(
        start=midnight(date_from) if date_from else None,
        end=midnight(date_to + dt.timedelta(days=1)) if date_to else None,
        first_year=date_from.year if date_from else None,
        last_year=date_to.year if date_to else None,
    )


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _figures(area: Any, facts: dict[str, dict[Any, Any]]) -> dict[str, Any]:
    return {
        "area_id": area["id"],
        "code": area["code"],
        "name": area["name"],
        "level": area["level"],
        **{name: builder(facts) for name, builder in _BUILDERS.items()},
    }


def _proposals(rows: list[Any]) -> ProposalFigures:
    by_status: dict[str, int] = defaultdict(int)
    by_category: dict[str, int] = defaultdict(int)
    supports = 0
    for r in rows:
        by_status[r["status"]] += r["n"]
        by_category[r["category"]] += r["n"]
        supports += r["supports"]
    return ProposalFigures(
        total=sum(by_status.values()),
        by_status=dict(sorted(by_status.items())),
        by_category=dict(sorted(by_category.items())),
        supports=int(supports),
    )


def _replies(row: Any | None) -> ReplyFigures:
    if row is None:
        return ReplyFigures(
            proposals=0,
            answered=0,
            median_hours_to_first_reply=None,
            within_7_days=0,
            within_7_days_share=None,
        )
    median = row["median_hours"]
    return ReplyFigures(
        proposals=row["proposals"],
        answered=row["answered"],
        median_hours_to_first_reply=round(float(median), 2) if median is not None else None,
        within_7_days=row["within_7_days"],
        within_7_days_share=_ratio(row["within_7_days"], row["proposals"]),
    )


def _meetings(rows: list[Any]) -> MeetingFigures:
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        for key in ("n", "closed", "check_ins", "participants", "eligible"):
            by_kind[r["kind"]][key] += int(r[key])
    return MeetingFigures(
        total=sum(k["n"] for k in by_kind.values()),
        by_kind={
            kind: MeetingKindFigures(
                count=k["n"],
                closed=k["closed"],
                check_ins=k["check_ins"],
                participants=k["participants"],
                eligible=k["eligible"],
                turnout=_ratio(k["participants"], k["eligible"]),
            )
            for kind, k in sorted(by_kind.items())
        },
    )


def _satisfaction(rows: list[Any]) -> SatisfactionFigures:
    n = sum(int(r["n"]) for r in rows)
    weighted = sum(int(r["weighted"]) for r in rows)
    satisfied = sum(int(r["satisfied"]) for r in rows)
    return SatisfactionFigures(
        count=n, mean_overall=_ratio(weighted, n), satisfaction_rate=_ratio(satisfied, n)
    )


def _projects(rows: list[Any]) -> ProjectFigures:
    by_status: dict[str, int] = defaultdict(int)
    overdue = 0
    for r in rows:
        by_status[r["status"]] += r["n"]
        overdue += r["overdue"]
    return ProjectFigures(
        total=sum(by_status.values()), by_status=dict(sorted(by_status.items())), overdue=overdue
    )


def _surveys(rows: list[Any]) -> SurveyFigures:
    online = sum(int(r["online"]) for r in rows)
    paper = sum(int(r["paper"]) for r in rows)
    residents = sum(int(r["residents"]) for r in rows)
    rates = response_rates(online, paper, residents)
    return SurveyFigures(
        count=sum(int(r["n"]) for r in rows),
        closed=sum(int(r["closed"]) for r in rows),
        responses=online + paper,
        online=online,
        paper=paper,
        residents=residents,
        response_rate=rates.online,
        response_rate_with_paper=rates.with_paper,
    )


# facts (per child: rows) → one figure
_BUILDERS: dict[str, Any] = {
    "proposals": lambda f: _proposals(f["proposals"]),
    "replies": lambda f: _replies(f["replies"]),
    "meetings": lambda f: _meetings(f["meetings"]),
    "satisfaction": lambda f: _satisfaction(f["satisfaction"]),
    "projects": lambda f: _projects(f["projects"]),
    "surveys": lambda f: _surveys(f["surveys"]),
}


def _split(facts: dict[str, list[Any]], child: uuid.UUID | str) -> dict[str, Any]:
    """The rows of one child area (``TOTAL``: all of them; the reply figures come from their
    own grouping set, the median not being additive)."""
    out: dict[str, Any] = {}
    for name, rows in facts.items():
        if name == "replies":
            key = None if child == TOTAL else child
            out[name] = next((r for r in rows if r["child"] == key), None)
        else:
            out[name] = rows if child == TOTAL else [r for r in rows if r["child"] == child]
    return out


async def compute(
    session: AsyncSession, area: AreaRef, period: Period, today: dt.date
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the area's figures, each child area's figures) as plain data."""
    conn = await driver_connection(session)
    if area.level == AreaLevel.district:
        scope = Scope(area.level, await repository.streets_of(conn, area.id))
    else:
        scope = Scope(area.level, [area.id])
    facts = await repository.facts(conn, scope, period, today)
    kids = await repository.children(conn, area.id) if area.level != AreaLevel.community else []
    own = {"id": area.id, "code": area.code, "name": area.name, "level": area.level.value}
    return _figures(own, _split(facts, TOTAL)), [_figures(k, _split(facts, k["id"])) for k in kids]


# The shape of the stats reply, part of its cache key: bump it when a field is added or
# changed, so a reply cached before a release (of the old shape) is never served after it.
STATS_SHAPE = 2  # 2: surveys carry residents and response rates


def stats_key(area_id: uuid.UUID, date_from: dt.date | None, date_to: dt.date | None) -> str:
    return f"stats:v{STATS_SHAPE}:{area_id}:{date_from}:{date_to}"


async def stats_body(
    session: AsyncSession,
    area: AreaRef,
    date_from: dt.date | None,
    date_to: dt.date | None,
    now: dt.datetime,
) -> bytes:
    """The encoded reply of ``GET /areas/{id}/stats``."""
    local = now.astimezone(SHANGHAI)
    own, kids = await compute(session, area, period_of(date_from, date_to), local.date())
    out = AreaStatsOut(
        **own,
        date_from=date_from,
        date_to=date_to,
        computed_at=local,
        children=[Figures(**k) for k in kids],
    )
    return _encoded(out)


def _encoded(out: AreaStatsOut | HotspotsOut) -> bytes:
    """The reply's bytes, as Litestar would encode the model (its pydantic plugin dumps in
    JSON mode, then msgspec encodes)."""
    return encode_json(out.model_dump(mode="json"))


async def area_stats(
    session: AsyncSession,
    principal: Principal,
    area_id: uuid.UUID,
    date_from: dt.date | None,
    date_to: dt.date | None,
    *,
    max_age_s: int = 0,
) -> bytes:
    """The encoded reply (an :class:`AreaStatsOut`), cached or computed."""
    period_of(date_from, date_to)  # the period is checked before anything is read
    area = await decision_scope(session, principal, area_id)
    return await stats_reply(session, area, date_from, date_to, max_age_s)


async def stats_reply(
    session: AsyncSession,
    area: AreaRef,
    date_from: dt.date | None,
    date_to: dt.date | None,
    max_age_s: int,
) -> bytes:
    """The encoded stats of ``area`` (checked by the caller) from the decision cache: what
    ``GET /areas/{id}/stats`` answers, and what the quarterly brief prints."""
    return await cached(
        session,
        stats_key(area.id, date_from, date_to),
        max_age_s,
        lambda now: stats_body(session, area, date_from, date_to, now),
    )


# --- hot spots ------------------------------------------------------------------------------

# The grid is fixed in WGS-84 degrees, a cell ``cell_m`` high and (at Shanghai's latitude)
# ``cell_m`` wide, so a cell is the same place in every request and every area.
GRID_LAT = 31.2
METRES_PER_DEGREE = 111_320.0


def cell_degrees(cell_m: int) -> tuple[float, float]:
    return (
        cell_m / METRES_PER_DEGREE,
        cell_m / (METRES_PER_DEGREE * math.cos(math.radians(GRID_LAT))),
    )


def _ring(i: int, j: int, deg: tuple[float, float], coord_sys: CoordSys) -> list[list[float]]:
    corners = [(i, j), (i, j + 1), (i + 1, j + 1), (i + 1, j), (i, j)]
    ring = []
    for a, b in corners:
        lat, lng = convert(a * deg[0], b * deg[1], CoordSys.wgs84, coord_sys)
        ring.append([round(lng, 7), round(lat, 7)])
    return ring


def hotspots_key(
    area_id: uuid.UUID,
    category: str | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
    cell_m: int,
    coord_sys: CoordSys,
) -> str:
    return f"hotspots:{area_id}:{category}:{date_from}:{date_to}:{cell_m}:{coord_sys.value}"


async def hotspots_body(
    session: AsyncSession,
    area: AreaRef,
    *,
    category: str | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
    cell_m: int,
    coord_sys: CoordSys,
) -> bytes:
    """The encoded reply of ``GET /areas/{id}/hotspots``."""
    period = period_of(date_from, date_to)
    conn = await driver_connection(session)
    if area.level == AreaLevel.district:
        scope = Scope(area.level, await repository.streets_of(conn, area.id))
    else:
        scope = Scope(area.level, [area.id])
    deg = cell_degrees(cell_m)
    rows = await repository.hotspot_cells(conn, scope, period, deg, category)
    cells: dict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    for r in rows:
        cells[(r["i"], r["j"])][r["category"]] = int(r["n"])
    features = [
        HotspotFeature(
            geometry=HotspotGeometry(coordinates=[_ring(i, j, deg, coord_sys)]),
            properties=HotspotProperties(
                cell=f"{i}:{j}",
                count=sum(counts.values()),
                by_category=dict(sorted(counts.items())),
            ),
        )
        for (i, j), counts in sorted(cells.items(), key=lambda kv: -sum(kv[1].values()))
    ]
    out = HotspotsOut(
        area_id=area.id,
        coord_sys=coord_sys.value,
        cell_m=cell_m,
        category=category,
        date_from=date_from,
        date_to=date_to,
        features=features,
    )
    return _encoded(out)


async def hotspots(
    session: AsyncSession,
    principal: Principal,
    area_id: uuid.UUID,
    *,
    category: str | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
    cell_m: int,
    coord_sys: CoordSys,
    max_age_s: int = 0,
) -> bytes:
    """The encoded reply (a :class:`HotspotsOut`), cached or computed."""
    period_of(date_from, date_to)
    area = await decision_scope(session, principal, area_id)
    options: dict[str, Any] = {
        "category": category,
        "date_from": date_from,
        "date_to": date_to,
        "cell_m": cell_m,
        "coord_sys": coord_sys,
    }
    return await cached(
        session,
        hotspots_key(area.id, **options),
        max_age_s,
        lambda now: hotspots_body(session, area, **options),
    )


# --- precompute (the worker's ``decision_precompute`` job) ------------------------------


def quarter_of(day: dt.date) -> tuple[dt.date, dt.date]:
    first = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    after = dt.date(first.year + (first.month == 10), (first.month + 3 - 1) % 12 + 1, 1)
    return first, after - dt.timedelta(days=1)


async def precompute(session: AsyncSession, now: dt.datetime) -> int:
    """Refresh the cached figures every district and street is usually asked for: all time
    and the current quarter, and the default hot spots (gcj02, 300 m)."""
    conn = await driver_connection(session)
    ids = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM areas WHERE level IN ('district', 'street') AND NOT retired"
        )
    ]
    first, last = quarter_of(now.astimezone(SHANGHAI).date())
    n = 0
    for area_id in ids:
        area = await load_area(session, area_id)
        if area is None:
            continue
        for lo, hi in ((None, None), (first, last)):
            body = await stats_body(session, area, lo, hi, now)
            await store(conn, stats_key(area.id, lo, hi), body, now)
            n += 1
        options: dict[str, Any] = {
            "category": None,
            "date_from": None,
            "date_to": None,
            "cell_m": 300,
            "coord_sys": CoordSys.gcj02,
        }
        body = await hotspots_body(session, area, **options)
        await store(conn, hotspots_key(area.id, **options), body, now)
        n += 1
    return n
