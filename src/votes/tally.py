"""The count of a coordination meeting, always recomputed from PostgreSQL (the truth).

Online ballots and the paper/hand counts entered by the committee are shown apart and in the
totals. At close the count is frozen into ``events.final_results`` and the ballots are
rewritten in random order.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from src.events.eligibility import eligible_count, rules_of
from src.models.event import Event, EventStatus
from src.votes.digest import receipts_digest

_OPTIONS = text(
    """
    SELECT o.id, o.title,
           coalesce(b.n, 0) AS online,
           coalesce(p.votes, 0) AS paper
    FROM event_options o
    LEFT JOIN (
        SELECT chosen, count(*) AS n
        FROM ballots, unnest(option_ids) AS chosen
        WHERE event_id = :event_id
        GROUP BY chosen
    ) b ON b.chosen = o.id
    LEFT JOIN paper_counts p ON p.event_id = o.event_id AND p.option_id = o.id
    WHERE o.event_id = :event_id
    ORDER BY o.position
    """
)
_PEOPLE = text(
    """
    SELECT (SELECT count(*) FROM ballot_voters WHERE event_id = :event_id) AS voters,
           (SELECT count(*) FROM event_check_ins WHERE event_id = :event_id) AS check_ins
    """
)

# Physical order of rows must not reveal the order in which residents voted.
_SHUFFLE = text(
    """
    WITH moved AS (DELETE FROM ballots WHERE event_id = :event_id RETURNING *)
    INSERT INTO ballots SELECT * FROM moved ORDER BY random()
    """
)


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole > 0 else 0.0


def electorate_size(electorate: int | None, eligible: int) -> int:
    """Who may vote, the one rule: the meeting's ``voting.electorate`` (residents on the app
    or not) or the eligible app users, whichever is larger. Turnout is participants over
    this, and paper voters may not take participants past it (``paper_exceeds_electorate``)."""
    return max(electorate or 0, eligible)


def turnout(participants: int, electorate: int) -> float:
    """Never above 100 %: a resident who voted online and later moved away still counts as
    a participant but no longer as eligible."""
    return min(1.0, _ratio(participants, electorate))


async def compute(session: AsyncSession, event: Event) -> dict[str, Any]:
    """The results body of API.md (``final``, ``eligible_count``, ``turnout``, ``quorum_met``,
    ``options``) with the online and paper parts."""
    rules = rules_of(event)
    rows = (await session.execute(_OPTIONS, {"event_id": event.id})).all()
    people = (await session.execute(_PEOPLE, {"event_id": event.id})).one()
    voters = int(people.voters)
    eligible = await eligible_count(session, event)
    electorate = electorate_size(rules.electorate, eligible)
    totals = [int(r.online) + int(r.paper) for r in rows]
    all_votes = sum(totals)
    participants = voters + event.paper_voters
    return {
        "event_id": str(event.id),
        "status": event.status.value,
        "final": event.status == EventStatus.closed,
        "eligible_count": eligible,
        "voters": voters,
        "paper_voters": event.paper_voters,
        "participants": participants,
        "electorate": electorate,
        "turnout": turnout(participants, electorate),
        "check_in_count": int(people.check_ins),
        "quorum": rules.quorum,
        "quorum_met": rules.quorum is None or participants >= rules.quorum,
        "total_votes": all_votes,
        "options": [
            {
                "id": str(r.id),
                "title": r.title,
                "votes": total,
                "share": _ratio(total, all_votes),
                "online_votes": int(r.online),
                "paper_votes": int(r.paper),
            }
            for r, total in zip(rows, totals, strict=True)
        ],
        "digest": None,
        "computed_at": dt.datetime.now(dt.UTC).isoformat(),
    }


async def freeze(session: AsyncSession, event: Event) -> dict[str, Any]:
    """At close (the event row locked FOR UPDATE, status already ``closed``): shuffle the
    ballots, compute the final count and store it."""
    await session.execute(_SHUFFLE, {"event_id": event.id})
    final = await compute(session, event)
    final["digest"] = await receipts_digest(session, event.id)  # the receipts as published
    event.final_results = final
    return final


async def results(session: AsyncSession, event: Event) -> dict[str, Any]:
    """The frozen count of a closed meeting, else the live one."""
    if event.status == EventStatus.closed and event.final_results is not None:
        return dict(event.final_results)
    return await compute(session, event)
