"""好差评 of facilities: the rules.

- Any signed-in resident reviews a facility ``good`` or ``bad``, with reasons from a fixed
  list and an optional comment; one review per facility per Shanghai month, changed by
  posting again in the same month (the unique constraint decides, so a double tap writes one
  row).
- The responsible unit of a facility is modelled as the staff of its *responsible area*: the
  community whose centroid is nearest to the facility (within 3 km), and the street and
  district above it (committee, street, planner and admin grants covering that community).
  They read the comments, with authors masked (王**); others see only the counts.
- Summaries and rankings count every month's reviews (each resident at most once a month).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from src.core.auth import Principal
from src.core.db import driver_connection
from src.core.errors import not_found
from src.core.ids import new_id
from src.core.pagination import decode_cursor_as, encode_cursor, timestamp, uuid_value
from src.core.policy import load_area, require_facility_unit
from src.facility_reviews import repository
from src.facility_reviews.schemas import (
    FacilityRankingOut,
    RankedFacilityOut,
    ReviewCommentOut,
    ReviewIn,
    ReviewOut,
    ReviewSummaryOut,
)
from src.integrations.city_portal.service import masked_name
from src.models.area import AreaLevel
from src.models.facility_review import REASONS, VERDICTS

SHANGHAI = ZoneInfo("Asia/Shanghai")


def this_month() -> dt.date:
    return dt.datetime.now(SHANGHAI).date().replace(day=1)


def _month_text(month: dt.date) -> str:
    return month.strftime("%Y-%m")


async def _facility(conn: Any, facility_id: uuid.UUID) -> Any:
    row = await repository.facility(conn, facility_id)
    if row is None:
        raise not_found("设施", "Facility")
    return row


async def review(
    session: AsyncSession, principal: Principal, facility_id: uuid.UUID, data: ReviewIn
) -> ReviewOut:
    conn = await driver_connection(session)
    await _facility(conn, facility_id)
    area = await repository.responsible_area(conn, facility_id)
    comment = data.comment or None
    row = await repository.upsert(
        conn,
        (
            new_id(),
            facility_id,
            principal.user_id,
            this_month(),
            data.verdict,
            list(data.reasons),
            comment,
            area["id"] if area else None,
            area["parent_id"] if area else None,
        ),
    )
    return ReviewOut(
        id=row["id"],
        facility_id=facility_id,
        month=_month_text(row["month"]),
        verdict=row["verdict"],
        reasons=list(row["reasons"]),
        comment=row["comment"],
        created=row["created"],
        updated_at=row["updated_at"],
    )


async def summary(session: AsyncSession, facility_id: uuid.UUID) -> ReviewSummaryOut:
    conn = await driver_connection(session)
    await _facility(conn, facility_id)
    rows = await repository.summary(conn, facility_id, this_month())
    counts = dict.fromkeys(VERDICTS, 0)
    month = dict.fromkeys(VERDICTS, 0)
    reasons: dict[str, dict[str, int]] = {v: dict.fromkeys(REASONS, 0) for v in VERDICTS}
    for r in rows:
        counts[r["verdict"]] += r["n"]
        if r["this_month"]:
            month[r["verdict"]] += r["n"]
        for reason in r["reasons"]:
            reasons[r["verdict"]][reason] += r["n"]
    total = sum(counts.values())
    area = await repository.responsible_area(conn, facility_id)
    return ReviewSummaryOut(
        facility_id=facility_id,
        count=total,
        good=counts["good"],
        bad=counts["bad"],
        good_share=counts["good"] / total if total else None,
        this_month=month,
        reasons=reasons,
        responsible_area_id=area["id"] if area else None,
    )


async def comments(
    session: AsyncSession,
    principal: Principal,
    facility_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[ReviewCommentOut], str | None]:
    conn = await driver_connection(session)
    await _facility(conn, facility_id)
    area = await repository.responsible_area(conn, facility_id)
    require_facility_unit(principal, list(area["path"]) if area else None)
    after = decode_cursor_as(cursor, timestamp, uuid_value)
    rows = await repository.comments_page(
        conn, facility_id, (after[0], after[1]) if after else None, limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        ReviewCommentOut(
            id=r["id"],
            month=_month_text(r["month"]),
            verdict=r["verdict"],
            reasons=list(r["reasons"]),
            comment=r["comment"],
            author=masked_name(r["display_name"]),
            updated_at=r["updated_at"],
        )
        for r in rows
    ]
    next_cursor = (
        encode_cursor([rows[-1]["updated_at"].isoformat(), str(rows[-1]["id"])]) if more else None
    )
    return items, next_cursor


async def ranking(
    session: AsyncSession,
    area_id: uuid.UUID,
    *,
    category: str | None,
    min_reviews: int,
    limit: int,
) -> FacilityRankingOut:
    area = await load_area(session, area_id)
    if area is None:
        raise not_found("区域", "Area")
    conn = await driver_connection(session)
    if area.level == AreaLevel.community:
        column, ids = "community_id", [area.id]
    elif area.level == AreaLevel.street:
        column, ids = "street_id", [area.id]
    else:
        column, ids = "street_id", await repository.streets_of(conn, area.id)
    rows = await repository.ranking(conn, column, ids, category, min_reviews, limit)
    return FacilityRankingOut(
        area_id=area.id,
        category=category,
        min_reviews=min_reviews,
        items=[
            RankedFacilityOut(
                rank=i + 1,
                facility_id=r["facility_id"],
                name=r["name"],
                category=r["category"],
                count=r["n"],
                good=r["good"],
                good_share=r["good_share"],
            )
            for i, r in enumerate(rows)
        ],
    )


async def attach_good_shares(session: AsyncSession, items: list[dict[str, Any]]) -> None:
    """Nearby results carry each facility's good-review share (None: no review yet)."""
    if not items:
        return
    conn = await driver_connection(session)
    shares = await repository.good_shares(conn, [uuid.UUID(i["id"]) for i in items])
    for item in items:
        good, n = shares.get(uuid.UUID(item["id"]), (0, 0))
        item["reviews"] = n
        item["good_share"] = round(good / n, 4) if n else None
