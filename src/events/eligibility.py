"""Who may take part (vote, rate) in a meeting: one rule, used by votes and ratings.

- ``community_residents``: verified residents whose home community is the meeting's.
- ``checked_in``: the same, and checked in at the venue.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.auth import Principal
from src.core.errors import AppError, forbidden
from src.events.schemas import Eligibility, VotingRules
from src.models.event import Event


def rules_of(event: Event) -> VotingRules:
    """The meeting's rules (defaults when it has none stored)."""
    return VotingRules.model_validate(event.voting or {})


def not_eligible(zh: str, en: str) -> AppError:
    return forbidden("not_eligible", zh, en)


def refusal_sql(event: str, community: str, need_check_in: str) -> str:
    """The rule, written once, as an SQL expression over a ``users u`` row: why that user may
    not take part in the meeting (``'community'``, ``'unverified'``, ``'not_checked_in'``), or
    NULL when they may. The arguments are SQL expressions for the meeting's id, its community
    and whether it asks for a check-in. Used by :func:`ensure_eligible`, :func:`eligible_count`
    and the ballot's one statement (``src/votes/repository.py``)."""
    return f"""CASE
        WHEN u.disabled OR u.home_community_id IS DISTINCT FROM {community} THEN 'community'
        WHEN NOT u.verified THEN 'unverified'
        WHEN {need_check_in} AND NOT EXISTS (
            SELECT 1 FROM event_check_ins c WHERE c.event_id = {event} AND c.user_id = u.id
        ) THEN 'not_checked_in'
    END"""


_REFUSAL = text(
    f"SELECT {refusal_sql(':event', ':community', ':check_in')} AS refusal "
    "FROM users u WHERE u.id = :user"
)
_ELIGIBLE_COUNT = text(
    "SELECT count(*) FROM users u WHERE u.home_community_id = :community "
    f"AND ({refusal_sql(':event', ':community', ':check_in')}) IS NULL"
)
_REFUSALS = {
    "community": ("只有本社区居民可以参与", "Only residents of this community may take part"),
    "unverified": ("请先完成实名认证", "Verify your identity first"),
    "not_checked_in": (
        "请先在会场签到",
        "Only residents checked in at the meeting may take part",
    ),
}


def _params(event: Event) -> dict[str, object]:
    return {
        "event": event.id,
        "community": event.community_id,
        "check_in": rules_of(event).eligibility == Eligibility.checked_in,
    }


async def ensure_eligible(session: AsyncSession, event: Event, principal: Principal) -> None:
    """Raise 403 ``not_eligible`` unless the caller may vote or rate in ``event``."""
    refusal = await session.scalar(_REFUSAL, {**_params(event), "user": principal.user_id})
    if refusal is not None:
        raise not_eligible(*_REFUSALS.get(refusal, _REFUSALS["community"]))


async def eligible_count(session: AsyncSession, event: Event) -> int:
    """How many people may take part under the meeting's rule."""
    return int(await session.scalar(_ELIGIBLE_COUNT, _params(event)) or 0)
