"""Who may take part (vote, rate) in a meeting: one rule, used by votes and ratings.

- ``community_residents``: verified residents whose home community is the meeting's.
- ``checked_in``: the same, and checked in at the venue.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.auth import Principal
from src.core.errors import AppError, forbidden
from src.events.schemas import Eligibility, VotingRules
from src.models.event import Event, EventCheckIn
from src.models.user import User


def rules_of(event: Event) -> VotingRules:
    """The meeting's rules (defaults when it has none stored)."""
    return VotingRules.model_validate(event.voting or {})


def not_eligible(zh: str, en: str) -> AppError:
    return forbidden("not_eligible", zh, en)


async def ensure_eligible(session: AsyncSession, event: Event, principal: Principal) -> None:
    """Raise 403 ``not_eligible`` unless the caller may vote or rate in ``event``."""
    if principal.community_id != event.community_id:
        raise not_eligible(
            "只有本社区居民可以参与", "Only residents of this community may take part"
        )
    if not principal.verified:
        raise not_eligible("请先完成实名认证", "Verify your identity first")
    if rules_of(event).eligibility == Eligibility.checked_in:
        checked = await session.scalar(
            select(EventCheckIn.user_id).where(
                EventCheckIn.event_id == event.id, EventCheckIn.user_id == principal.user_id
            )
        )
        if checked is None:
            raise not_eligible(
                "请先在会场签到", "Only residents checked in at the meeting may take part"
            )


async def eligible_count(session: AsyncSession, event: Event) -> int:
    """How many people may take part under the meeting's rule."""
    if rules_of(event).eligibility == Eligibility.checked_in:
        query = (
            select(func.count())
            .select_from(EventCheckIn)
            .join(User, User.id == EventCheckIn.user_id)
            .where(
                EventCheckIn.event_id == event.id,
                User.verified.is_(True),
                User.home_community_id == event.community_id,
                User.disabled.is_(False),
            )
        )
    else:
        query = (
            select(func.count())
            .select_from(User)
            .where(
                User.home_community_id == event.community_id,
                User.verified.is_(True),
                User.disabled.is_(False),
            )
        )
    return int(await session.scalar(query) or 0)
