"""All SQL of meetings: events, options, check-ins."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.db import driver_connection
from src.models.event import BallotVoter, Event, EventCheckIn, EventKind, EventOption, EventStatus


async def get(
    session: AsyncSession, event_id: uuid.UUID, *, lock: str | None = None
) -> Event | None:
    """The meeting; ``lock="update"`` for a status change, ``"key_share"`` for work that must
    not overlap one (a ballot, a check-in)."""
    query = select(Event).where(Event.id == event_id)
    if lock == "update":
        query = query.with_for_update()
    elif lock == "key_share":
        query = query.with_for_update(key_share=True, read=True)
    return (await session.scalars(query)).first()


async def options(
    session: AsyncSession, event_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[EventOption]]:
    found: dict[uuid.UUID, list[EventOption]] = defaultdict(list)
    if not event_ids:
        return found
    rows = await session.scalars(
        select(EventOption)
        .where(EventOption.event_id.in_(event_ids))
        .order_by(EventOption.event_id, EventOption.position)
    )
    for option in rows:
        found[option.event_id].append(option)
    return found


async def option_count(session: AsyncSession, event_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(EventOption).where(EventOption.event_id == event_id)
        )
        or 0
    )


async def add_option(
    session: AsyncSession,
    event_id: uuid.UUID,
    title: str,
    description: str,
    image_ids: list[uuid.UUID],
) -> EventOption:
    position = await option_count(session, event_id)
    option = EventOption(
        event_id=event_id,
        position=position,
        title=title,
        description=description,
        image_ids=image_ids,
    )
    session.add(option)
    await session.flush()
    return option


async def counts(
    session: AsyncSession, event_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """(check-ins, voters) per meeting."""
    if not event_ids:
        return {}
    check_ins = dict(
        (
            await session.execute(
                select(EventCheckIn.event_id, func.count())
                .where(EventCheckIn.event_id.in_(event_ids))
                .group_by(EventCheckIn.event_id)
            )
        )
        .tuples()
        .all()
    )
    voters = dict(
        (
            await session.execute(
                select(BallotVoter.event_id, func.count())
                .where(BallotVoter.event_id.in_(event_ids))
                .group_by(BallotVoter.event_id)
            )
        )
        .tuples()
        .all()
    )
    return {i: (int(check_ins.get(i, 0)), int(voters.get(i, 0))) for i in event_ids}


@dataclass(frozen=True)
class ListFilter:
    community_id: uuid.UUID | None = None
    street_id: uuid.UUID | None = None
    kind: EventKind | None = None
    status: EventStatus | None = None
    ended_before: dt.datetime | None = None  # past meetings
    not_ended_at: dt.datetime | None = None  # upcoming and running meetings
    project_id: uuid.UUID | None = None


async def list_events(
    session: AsyncSession,
    flt: ListFilter,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Event]:
    """Newest start first; keyset on (starts_at, id)."""
    query = select(Event)
    if flt.community_id is not None:
        query = query.where(Event.community_id == flt.community_id)
    if flt.street_id is not None:
        query = query.where(Event.street_id == flt.street_id)
    if flt.kind is not None:
        query = query.where(Event.kind == flt.kind)
    if flt.status is not None:
        query = query.where(Event.status == flt.status)
    if flt.project_id is not None:
        query = query.where(Event.project_id == flt.project_id)
    if flt.ended_before is not None:
        query = query.where(Event.ends_at < flt.ended_before)
    if flt.not_ended_at is not None:
        query = query.where(Event.ends_at >= flt.not_ended_at)
    if after is not None:
        query = query.where(
            (Event.starts_at < after[0]) | ((Event.starts_at == after[0]) & (Event.id < after[1]))
        )
    query = query.order_by(Event.starts_at.desc(), Event.id.desc()).limit(limit + 1)
    return list(await session.scalars(query))


class MeetingBrief(NamedTuple):
    id: uuid.UUID
    kind: str
    title: str
    status: str
    starts_at: dt.datetime


async def project_meetings(
    session: AsyncSession, project_id: uuid.UUID, limit: int
) -> list[MeetingBrief]:
    """A project's meetings, newest start first (what its detail page lists): one statement on
    the request's connection."""
    conn = await driver_connection(session)
    rows = await conn.fetch(
        "SELECT id, kind::text, title, status::text, starts_at FROM events "
        "WHERE project_id = $1 ORDER BY starts_at DESC, id DESC LIMIT $2",
        project_id,
        limit,
    )
    return [MeetingBrief(*r.values()) for r in rows]


async def check_in(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[dt.datetime, bool]:
    """Check the user in (once); returns (when, whether it is new)."""
    inserted = await session.scalar(
        insert(EventCheckIn)
        .values(event_id=event_id, user_id=user_id)
        .on_conflict_do_nothing()
        .returning(EventCheckIn.checked_in_at)
    )
    if inserted is not None:
        return inserted, True
    existing = await session.scalar(
        select(EventCheckIn.checked_in_at).where(
            EventCheckIn.event_id == event_id, EventCheckIn.user_id == user_id
        )
    )
    assert existing is not None
    return existing, False


async def touch(session: AsyncSession, event_id: uuid.UUID) -> None:
    await session.execute(
        text("UPDATE events SET updated_at = now() WHERE id = :id"), {"id": event_id}
    )
