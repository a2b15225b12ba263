"""Meetings: create, list, read; the lifecycle draft → open → closed (or cancelled); design
options; check-in at the venue."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from src.config import Settings
from src.core import audit, outbox
from src.core.auth import Principal
from src.core.errors import AppError, Message, conflict, forbidden, not_found, validation_failed
from src.core.pagination import decode_cursor, paginate
from src.core.policy import (
    MODERATE_ROLES,
    VIEW_ROLES,
    acting_role,
    area_required,
    covers,
    load_area,
    view_scope,
)
from src.events import checkin, repository
from src.events.repository import ListFilter
from src.events.schemas import (
    CheckInCodeOut,
    CheckInOut,
    EventIn,
    EventOut,
    EventWhen,
    OptionIn,
    OptionOut,
    VotingRules,
)
from src.models.area import AreaLevel
from src.models.event import Event, EventKind, EventOption, EventStatus
from src.models.project import Project

# The legal moves of the lifecycle; anything else is 409 ``illegal_transition``.
TRANSITIONS: dict[EventStatus, frozenset[EventStatus]] = {
    EventStatus.draft: frozenset({EventStatus.open, EventStatus.cancelled}),
    EventStatus.open: frozenset({EventStatus.closed, EventStatus.cancelled}),
    EventStatus.closed: frozenset(),
    EventStatus.cancelled: frozenset(),
}
AUDIT_ACTIONS = {
    EventStatus.open: "event.open",
    EventStatus.closed: "event.close",
    EventStatus.cancelled: "event.cancel",
}
VOTING_KINDS = (EventKind.coordination, EventKind.review)
MIN_OPTIONS = 2
MAX_OPTIONS = 30


def event_not_found() -> AppError:
    return not_found("会议", "Meeting")


def illegal_transition(current: EventStatus, to: EventStatus) -> AppError:
    return conflict(
        "illegal_transition",
        f"会议当前状态为 {current.value}，不能变为 {to.value}",
        f"A meeting in status {current.value} cannot become {to.value}",
    )


def event_not_open() -> AppError:
    return conflict("event_not_open", "会议未在进行中", "The meeting is not open")


def event_not_draft() -> AppError:
    return conflict(
        "event_not_draft",
        "会议已开始，不能再修改方案",
        "Options can only be changed while the meeting is a draft",
    )


# --- access -------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    event: Event
    path: list[uuid.UUID]
    staff: bool  # a staff role covering the community (may see all results)
    manager: bool  # may run the meeting (committee, street, admin)


async def load_access(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID, *, lock: str | None = None
) -> Access:
    """The meeting as the caller may see it: residents of its community and staff covering
    it; anyone else gets 404, as if it did not exist."""
    event = await repository.get(session, event_id, lock=lock)
    if event is None:
        raise event_not_found()
    area = await load_area(session, event.community_id)
    assert area is not None
    staff = covers(principal, area.path, VIEW_ROLES)
    if not staff and principal.community_id != event.community_id:
        raise event_not_found()
    return Access(event, list(area.path), staff, covers(principal, area.path, MODERATE_ROLES))


async def load_managed(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID, *, lock: str | None = None
) -> Access:
    access = await load_access(session, principal, event_id, lock=lock)
    if not access.manager:
        raise forbidden("role_required", "当前身份无权执行此操作", "Your role may not do this")
    return access


# --- reading ------------------------------------------------------------------


def to_out(event: Event, options: list[EventOption], check_ins: int, voters: int) -> EventOut:
    return EventOut(
        id=event.id,
        kind=event.kind,
        status=event.status,
        title=event.title,
        description=event.description,
        venue=event.venue,
        community_id=event.community_id,
        street_id=event.street_id,
        project_id=event.project_id,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        voting=VotingRules.model_validate(event.voting) if event.voting is not None else None,
        options=[OptionOut.model_validate(o) for o in options],
        check_in_count=check_ins,
        voter_count=voters,
        created_at=event.created_at,
        opened_at=event.opened_at,
        closed_at=event.closed_at,
        cancelled_at=event.cancelled_at,
    )


async def render(session: AsyncSession, events: list[Event]) -> list[EventOut]:
    ids = [e.id for e in events]
    opts = await repository.options(session, ids)
    counts = await repository.counts(session, ids)
    return [to_out(e, opts.get(e.id, []), *counts.get(e.id, (0, 0))) for e in events]


async def get_detail(session: AsyncSession, principal: Principal, event_id: uuid.UUID) -> EventOut:
    access = await load_access(session, principal, event_id)
    return (await render(session, [access.event]))[0]


async def list_events(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: uuid.UUID | None,
    street_id: uuid.UUID | None,
    project_id: uuid.UUID | None,
    kind: EventKind | None,
    status: EventStatus | None,
    when: EventWhen | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[EventOut], str | None]:
    if street_id is not None:
        await view_scope(session, principal, street_id, AreaLevel.street, field="street_id")
    if community_id is None and street_id is None:
        community_id = principal.community_id
        if community_id is None:
            raise area_required()
    if community_id is not None:
        await view_scope(
            session, principal, community_id, AreaLevel.community, field="community_id"
        )
    values = decode_cursor(cursor, 2)
    after = None
    if values is not None:
        try:
            after = (dt.datetime.fromisoformat(str(values[0])), uuid.UUID(str(values[1])))
        except ValueError as exc:
            raise AppError(
                400, "invalid_cursor", Message("分页游标无效", "The cursor is not valid")
            ) from exc
    now = dt.datetime.now(dt.UTC)
    flt = ListFilter(
        community_id=community_id,
        street_id=street_id,
        project_id=project_id,
        kind=kind,
        status=status,
        ended_before=now if when == EventWhen.past else None,
        not_ended_at=now if when == EventWhen.upcoming else None,
    )
    rows = await repository.list_events(session, flt, after, limit)
    page, next_cursor = paginate(rows, limit, lambda e: (e.starts_at.isoformat(), str(e.id)))
    return await render(session, page), next_cursor


# --- writing ------------------------------------------------------------------


def _event_payload(event: Event) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "kind": event.kind.value,
        "status": event.status.value,
        "title": event.title,
        "community_id": str(event.community_id),
        "project_id": str(event.project_id) if event.project_id else None,
        "starts_at": event.starts_at.isoformat(),
        "ends_at": event.ends_at.isoformat(),
        "venue": event.venue,
    }


async def create(session: AsyncSession, principal: Principal, data: EventIn) -> EventOut:
    scope = await view_scope(
        session, principal, data.community_id, AreaLevel.community, field="community_id"
    )
    acting_role(principal, scope.area.path, MODERATE_ROLES)
    if data.project_id is not None:
        project_community = await session.scalar(
            select(Project.community_id).where(Project.id == data.project_id)
        )
        if project_community != scope.area.id:
            raise validation_failed(
                [{"field": "project_id", "message": "no such project in this community"}]
            )
    rules: VotingRules | None = data.voting
    if data.kind in VOTING_KINDS:
        rules = rules or VotingRules()
    elif rules is not None:
        raise validation_failed(
            [{"field": "voting", "message": "only coordination and review meetings have rules"}]
        )
    event = Event(
        kind=data.kind,
        status=EventStatus.draft,
        community_id=scope.area.id,
        street_id=scope.street_id,
        project_id=data.project_id,
        title=data.title,
        description=data.description,
        venue=data.venue,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        voting=rules.model_dump(mode="json") if rules is not None else None,
        created_by=principal.user_id,
    )
    session.add(event)
    await session.flush()
    await session.refresh(event)
    await audit.record(
        session,
        principal,
        "event.create",
        "event",
        event.id,
        area_id=event.community_id,
        details={"kind": event.kind.value, "title": event.title},
    )
    await outbox.enqueue(session, "event.created", f"event:{event.id}", _event_payload(event))
    return to_out(event, [], 0, 0)


async def transition(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID, to: EventStatus
) -> EventOut:
    """Open, close or cancel. The row lock (FOR UPDATE) waits for ballots in flight (they
    hold FOR KEY SHARE), so none lands after the close."""
    access = await load_managed(session, principal, event_id, lock="update")
    event = access.event
    current = event.status
    if to not in TRANSITIONS[current]:
        raise illegal_transition(current, to)
    now = dt.datetime.now(dt.UTC)
    if (
        to == EventStatus.open
        and event.kind == EventKind.coordination
        and await repository.option_count(session, event.id) < MIN_OPTIONS
    ):
        raise conflict(
            "not_enough_options",
            f"协调会至少需要 {MIN_OPTIONS} 个方案才能开始投票",
            f"A coordination meeting needs at least {MIN_OPTIONS} options to open",
        )
    details: dict[str, Any] = {"from": current.value, "to": to.value}
    event.status = to
    event.updated_at = now
    if to == EventStatus.open:
        event.opened_at = now
    elif to == EventStatus.closed:
        event.closed_at = now
        if event.kind == EventKind.coordination:
            from src.votes import tally

            final = await tally.freeze(session, event)
            details["voters"] = final["voters"]
            details["participants"] = final["participants"]
    else:
        event.cancelled_at = now
    await session.flush()
    await audit.record(
        session,
        principal,
        AUDIT_ACTIONS[to],
        "event",
        event.id,
        area_id=event.community_id,
        details=details,
    )
    await outbox.enqueue(
        session, "event.status_changed", f"event:{event.id}", _event_payload(event)
    )
    if event.kind == EventKind.coordination:
        from src.votes import live

        live.after_commit(session, event.id)
    return (await render(session, [event]))[0]


async def add_option(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID, data: OptionIn
) -> OptionOut:
    access = await load_managed(session, principal, event_id, lock="update")
    event = access.event
    if event.kind != EventKind.coordination:
        raise validation_failed(
            [{"field": "event_id", "message": "only coordination meetings have design options"}]
        )
    if event.status != EventStatus.draft:
        raise event_not_draft()
    if await repository.option_count(session, event.id) >= MAX_OPTIONS:
        raise validation_failed([{"field": "title", "message": f"at most {MAX_OPTIONS} options"}])
    option = await repository.add_option(
        session, event.id, data.title, data.description, data.image_ids
    )
    await repository.touch(session, event.id)
    # What residents will vote on is decided here: record who put it on the ballot.
    await audit.record(
        session,
        principal,
        "event.option_add",
        "event",
        event.id,
        area_id=event.community_id,
        details={"option_id": str(option.id), "title": option.title},
    )
    return OptionOut.model_validate(option)


# --- check-in -----------------------------------------------------------------


def _check_in_open(event: Event) -> None:
    if event.status not in (EventStatus.draft, EventStatus.open):
        raise event_not_open()


def qr_payload(settings: Settings, event_id: uuid.UUID, code: str) -> str:
    return f"{settings.event_public_base_url}/c/{event_id}?code={code}"


async def check_in_code(
    session: AsyncSession, settings: Settings, principal: Principal, event_id: uuid.UUID
) -> CheckInCodeOut:
    access = await load_managed(session, principal, event_id)
    _check_in_open(access.event)
    issued = checkin.issue(settings.secret_key, event_id, settings.event_check_in_window_s)
    return CheckInCodeOut(
        code=issued.code,
        expires_at=issued.expires_at,
        qr_payload=qr_payload(settings, event_id, issued.code),
    )


async def check_in(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    event_id: uuid.UUID,
    code: str,
) -> tuple[CheckInOut, bool]:
    access = await load_access(session, principal, event_id, lock="key_share")
    event = access.event
    _check_in_open(event)
    result = checkin.check(
        settings.secret_key,
        event_id,
        code,
        settings.event_check_in_window_s,
        settings.event_check_in_grace_s,
    )
    if result == checkin.CodeCheck.expired:
        raise AppError(
            422,
            "check_in_code_expired",
            Message("签到码已过期，请扫描现场最新的二维码", "The check-in code has expired"),
        )
    if result == checkin.CodeCheck.invalid:
        raise AppError(
            422,
            "check_in_code_invalid",
            Message("签到码无效", "The check-in code is not valid"),
        )
    if principal.community_id != event.community_id:
        raise forbidden(
            "not_eligible", "只有本社区居民可以签到", "Only residents of this community check in"
        )
    at, created = await repository.check_in(session, event.id, principal.user_id)
    count = (await repository.counts(session, [event.id]))[event.id][0]
    if created and event.kind == EventKind.coordination:
        from src.votes import live

        live.after_commit(session, event.id)
    return CheckInOut(event_id=event.id, checked_in_at=at, check_in_count=count), created
