"""The venue's projector: display links, the public view they read, and stream tickets.

A **display link** (``POST …/display-links``, committee and street staff of the meeting) is a
URL with a random secret in its fragment (``/events/{id}/live#display=…``). The secret opens
that one meeting's public view and nothing else: the page sends it as the ``X-Display-Link``
header to ``GET …/display`` (title, venue, times, turnout, check-ins, the results as the
visibility rule shows them to residents, the check-in QR while the meeting is open) and to
``POST …/results/stream-tickets`` (a ticket for the live stream). It is no staff token: it
neither expires mid-meeting nor opens anything else.

- Only the SHA-256 of the secret is stored; the reply that shows it is sealed in the
  idempotency record (src/core/idempotency.py), so no table holds it in the clear.
- A link lasts while its meeting is a draft or open, and until ``event_display_link_grace_h``
  (a day) after the meeting ended (closed, cancelled, else its ``ends_at``).
- Revoked (``DELETE …/display-links/{id}``) it stops at once for new requests and within
  ``event_display_recheck_s`` for a running stream, which then sends a ``revoked`` event.
- Creating and revoking are audited (``event.display_link_create`` / ``_revoke``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

import segno
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.config import Settings
from src.core import audit
from src.core.auth import Principal, TokenClaims, load_principal
from src.core.db import driver_connection
from src.core.errors import AppError, conflict, not_found, unauthorized
from src.events import checkin
from src.events import repository as events_repository
from src.events.eligibility import rules_of
from src.events.service import load_managed, qr_payload
from src.events.visibility import may_see_results
from src.models.event import Event, EventDisplayLink, EventKind, EventStatus
from src.votes import repository, tally, tickets
from src.votes.schemas import (
    CheckInQrOut,
    DisplayLinkCreated,
    DisplayLinkOut,
    DisplayOut,
    ResultsOut,
    StreamTicketOut,
)

HEADER = "X-Display-Link"
TIME_ZONE = "Asia/Shanghai"
LIVE = (EventStatus.draft, EventStatus.open)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def meeting_end(event: Event) -> dt.datetime:
    return event.closed_at or event.cancelled_at or event.ends_at


def expires_at(event: Event, settings: Settings) -> dt.datetime:
    """When the meeting's links stop: a day after it ends. While it is still open past its
    planned end they go on (the screen never dies mid-meeting); this is then the earliest."""
    return meeting_end(event) + dt.timedelta(hours=settings.event_display_link_grace_h)


def _active(event: Event, link: EventDisplayLink, settings: Settings, now: dt.datetime) -> bool:
    return link.revoked_at is None and (event.status in LIVE or now < expires_at(event, settings))


# --- errors --------------------------------------------------------------------------------


def link_required() -> AppError:
    return unauthorized(
        "display_link_required",
        "请用居委会生成的投屏链接打开本页面",
        "Open this page with a display link made by the committee",
    )


def link_invalid() -> AppError:
    return unauthorized("display_link_invalid", "投屏链接无效", "The display link is not valid")


def link_revoked() -> AppError:
    return unauthorized(
        "display_link_revoked",
        "此投屏链接已被撤销，请向居委会索取新链接",
        "This display link was revoked; ask the committee for a new one",
    )


def link_expired() -> AppError:
    return unauthorized(
        "display_link_expired",
        "此投屏链接已过期（会议结束已超过一天）",
        "This display link has expired (the meeting ended more than a day ago)",
    )


def refusal(
    event: Event, link: EventDisplayLink | None, settings: Settings, now: dt.datetime
) -> AppError | None:
    """Why ``link`` may not read ``event``'s public view now, or None when it may."""
    if link is None or link.event_id != event.id:
        return link_invalid()
    if link.revoked_at is not None:
        return link_revoked()
    if not _active(event, link, settings, now):
        return link_expired()
    return None


# --- the committee's side ---------------------------------------------------------------------


def _no_vote() -> AppError:
    from src.votes.service import no_vote

    return no_vote()


def _out(
    event: Event, link: EventDisplayLink, settings: Settings, now: dt.datetime
) -> DisplayLinkOut:
    return DisplayLinkOut(
        id=link.id,
        created_at=link.created_at,
        expires_at=expires_at(event, settings),
        revoked_at=link.revoked_at,
        active=_active(event, link, settings, now),
    )


async def create_link(
    session: AsyncSession, settings: Settings, principal: Principal, event_id: uuid.UUID
) -> DisplayLinkCreated:
    access = await load_managed(session, principal, event_id)
    event = access.event
    if event.kind != EventKind.coordination:
        raise _no_vote()
    now = dt.datetime.now(dt.UTC)
    if event.status not in LIVE and now >= expires_at(event, settings):
        raise conflict(
            "event_ended",
            "会议结束已超过一天，不能再生成投屏链接",
            "The meeting ended more than a day ago; no new display link",
        )
    token = secrets.token_urlsafe(32)
    link = await repository.add_display_link(
        session, event.id, hash_token(token), principal.user_id
    )
    await audit.record(
        session,
        principal,
        "event.display_link_create",
        "event",
        event.id,
        area_id=event.community_id,
        details={"link_id": str(link.id)},  # never the secret
    )
    return DisplayLinkCreated(
        id=link.id,
        url=f"{settings.event_public_base_url}/events/{event.id}/live#display={token}",
        expires_at=expires_at(event, settings),
    )


async def list_links(
    session: AsyncSession, settings: Settings, principal: Principal, event_id: uuid.UUID
) -> list[DisplayLinkOut]:
    event = (await load_managed(session, principal, event_id)).event
    now = dt.datetime.now(dt.UTC)
    return [
        _out(event, link, settings, now)
        for link in await repository.display_links(session, event.id)
    ]


async def revoke_link(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID, link_id: uuid.UUID
) -> None:
    """Revoke (once: revoking a revoked link changes nothing and answers the same)."""
    event = (await load_managed(session, principal, event_id)).event
    link = await repository.display_link(session, event.id, link_id, lock=True)
    if link is None:
        raise not_found("投屏链接", "Display link")
    if link.revoked_at is not None:
        return
    link.revoked_at = dt.datetime.now(dt.UTC)
    link.revoked_by = principal.user_id
    await session.flush()
    await audit.record(
        session,
        principal,
        "event.display_link_revoke",
        "event",
        event.id,
        area_id=event.community_id,
        details={"link_id": str(link.id)},
    )


# --- the projector's side -----------------------------------------------------------------------


async def resolve(
    session: AsyncSession, settings: Settings, event_id: uuid.UUID, token: str | None
) -> tuple[Event, EventDisplayLink]:
    """The meeting and the link of the ``X-Display-Link`` secret, or 401."""
    if not token or not token.strip():
        raise link_required()
    link = await repository.display_link_by_hash(session, hash_token(token.strip()))
    event = await events_repository.get(session, event_id)
    if event is None or link is None or link.event_id != event.id:
        raise link_invalid()  # a link opens its own meeting only; others look like nothing
    error = refusal(event, link, settings, dt.datetime.now(dt.UTC))
    if error is not None:
        raise error
    return event, link


async def public_results(session: AsyncSession, event: Event) -> ResultsOut:
    """The results as residents may see them (the one rule, for someone who has not voted)."""
    from src.votes.service import masked, shown

    payload = await tally.results(session, event)

    async def took_part() -> bool:
        return False

    visible = await may_see_results(
        rules_of(event).results_visibility,
        staff=False,
        final=event.status == EventStatus.closed,
        took_part=took_part,
    )
    return ResultsOut.model_validate(shown(payload) if visible else masked(payload))


def check_in_qr(settings: Settings, event: Event) -> CheckInQrOut | None:
    if event.status not in LIVE:
        return None  # closed or cancelled: nobody checks in any more
    issued = checkin.issue(settings.secret_key, event.id, settings.event_check_in_window_s)
    payload = qr_payload(settings, event.id, issued.code)
    image = segno.make(payload, error="m").png_data_uri(scale=10, border=2)
    return CheckInQrOut(code=issued.code, expires_at=issued.expires_at, image=image)


async def view(
    session: AsyncSession, settings: Settings, event_id: uuid.UUID, token: str | None
) -> DisplayOut:
    event, _ = await resolve(session, settings, event_id, token)
    if event.kind != EventKind.coordination:
        raise _no_vote()
    return DisplayOut(
        event_id=event.id,
        title=event.title,
        venue=event.venue,
        status=event.status.value,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        time_zone=TIME_ZONE,
        link_expires_at=expires_at(event, settings),
        results=await public_results(session, event),
        check_in=check_in_qr(settings, event),
    )


# --- stream tickets -------------------------------------------------------------------------------


async def issue_ticket(
    session: AsyncSession,
    settings: Settings,
    principal: Principal | None,
    event_id: uuid.UUID,
    display_token: str | None,
) -> StreamTicketOut:
    """A ticket for the caller (a bearer token) or for a display link (``X-Display-Link``)."""
    if display_token is not None:
        _, link = await resolve(session, settings, event_id, display_token)
        ticket = tickets.Ticket(event_id, link_id=link.id)
    elif principal is not None:
        from src.votes.service import stream_access

        await stream_access(session, principal, event_id)
        ticket = tickets.Ticket(event_id, user_id=principal.user_id, family_id=principal.family_id)
    else:
        raise unauthorized()
    ttl = settings.event_stream_ticket_ttl_s
    return StreamTicketOut(ticket=tickets.issue(settings.secret_key, ticket, ttl), expires_in=ttl)


@dataclass(frozen=True)
class Viewer:
    """Who watches a results stream: a caller (``user_id``, ``staff``) or a display link."""

    event: Event
    staff: bool
    user_id: uuid.UUID | None
    link_id: uuid.UUID | None


async def stream_viewer(
    session: AsyncSession,
    settings: Settings,
    principal: Principal | None,
    event_id: uuid.UUID,
    ticket: str | None,
) -> Viewer:
    """The stream's watcher from its ``?ticket=`` (checked again now: the sign-in, the
    caller's access, the display link), else from the bearer token."""
    from src.votes.service import stream_access

    if ticket is not None:
        found = tickets.verify(settings.secret_key, event_id, ticket)
        if found.link_id is not None:
            event = await events_repository.get(session, event_id)
            link = await repository.display_link(session, event_id, found.link_id)
            if event is None:
                raise link_invalid()
            error = refusal(event, link, settings, dt.datetime.now(dt.UTC))
            if error is not None:
                raise error
            if event.kind != EventKind.coordination:
                raise _no_vote()
            return Viewer(event, staff=False, user_id=None, link_id=found.link_id)
        assert found.user_id is not None and found.family_id is not None
        claims = TokenClaims(found.user_id, found.family_id)
        principal = await load_principal(await driver_connection(session), claims)
    if principal is None:
        raise unauthorized()
    access = await stream_access(session, principal, event_id)
    return Viewer(access.event, staff=access.staff, user_id=principal.user_id, link_id=None)


async def link_refusal(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    event_id: uuid.UUID,
    link_id: uuid.UUID,
) -> AppError | None:
    """For a running display stream (which holds no connection): is its link still good?"""
    async with sessionmaker() as session:
        event = await events_repository.get(session, event_id)
        link = await repository.display_link(session, event_id, link_id)
        if event is None:
            return link_invalid()
        return refusal(event, link, settings, dt.datetime.now(dt.UTC))
