"""Demo 好差评 on the demo facilities by the demo residents, this month and last."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.db import driver_connection
from src.facility_reviews import repository
from src.facility_reviews.service import this_month
from src.models.facility import Facility
from src.models.facility_review import FacilityReview
from src.models.user import User

COMMENTS = {
    "good": ["工作人员很耐心", "环境干净，老人很喜欢", None, None],
    "bad": ["周末不开门，上班族用不上", "排队时间太长", "没有无障碍坡道，轮椅进不去", None],
}
BAD_REASONS = ["opening_hours", "waiting_time", "accessibility", "cleanliness"]
GOOD_REASONS = ["staff_attitude", "cleanliness", "opening_hours"]


async def seed_reviews_demo(session: AsyncSession) -> None:
    rng = random.Random(1818)
    facilities = (
        (await session.execute(select(Facility.id).order_by(Facility.name).limit(12)))
        .scalars()
        .all()
    )
    residents = (
        (await session.execute(select(User.id).where(User.home_community_id.is_not(None))))
        .scalars()
        .all()
    )
    if not facilities or not residents:
        return
    conn = await driver_connection(session)
    months = [this_month(), (this_month() - dt.timedelta(days=1)).replace(day=1)]
    for facility_id in facilities:
        area = await repository.responsible_area(conn, facility_id)
        leaning = rng.random()  # some facilities serve well, some badly
        for user_id in rng.sample(list(residents), k=min(len(residents), rng.randint(4, 9))):
            for month in months[: rng.randint(1, 2)]:
                verdict = "good" if rng.random() < leaning else "bad"
                pool = GOOD_REASONS if verdict == "good" else BAD_REASONS
                session.add(
                    FacilityReview(
                        facility_id=facility_id,
                        user_id=user_id,
                        month=month,
                        verdict=verdict,
                        reasons=sorted(rng.sample(pool, k=rng.randint(0, 2))),
                        comment=rng.choice(COMMENTS[verdict]),
                        community_id=area["id"] if area else None,
                        street_id=area["parent_id"] if area else None,
                    )
                )
    await session.flush()
