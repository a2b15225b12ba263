from __future__ import annotations

import uuid

from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from src.core.deps import CurrentUser, DbSession
from src.core.pagination import DEFAULT_LIMIT, Limit, Page
from src.events import service
from src.events.schemas import (
    CheckInCodeOut,
    CheckInIn,
    CheckInOut,
    EventIn,
    EventOut,
    EventWhen,
    OptionIn,
    OptionOut,
)
from src.models.event import EventKind, EventStatus


class EventController(Controller):
    path = "/api/v1/events"
    tags = ["events"]

    @post("/", summary="Create a meeting (committee, street)")
    async def create(
        self, db_session: DbSession, principal: CurrentUser, data: JSONBody[EventIn]
    ) -> EventOut:
        return await service.create(db_session, principal, data)

    @get("/", summary="Meetings of a community or street, newest first")
    async def list_events(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        community_id: FromQuery[uuid.UUID | None] = None,
        street_id: FromQuery[uuid.UUID | None] = None,
        project_id: FromQuery[uuid.UUID | None] = None,
        kind: FromQuery[EventKind | None] = None,
        status: FromQuery[EventStatus | None] = None,
        when: FromQuery[EventWhen | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Page[EventOut]:
        items, next_cursor = await service.list_events(
            db_session,
            principal,
            community_id=community_id,
            street_id=street_id,
            project_id=project_id,
            kind=kind,
            status=status,
            when=when,
            cursor=cursor,
            limit=limit,
        )
        return Page(items=items, next_cursor=next_cursor)

    @get("/{event_id:uuid}", summary="One meeting, with its options and attendance")
    async def get_event(
        self, db_session: DbSession, principal: CurrentUser, event_id: FromPath[uuid.UUID]
    ) -> EventOut:
        return await service.get_detail(db_session, principal, event_id)

    @post("/{event_id:uuid}/open", status_code=HTTP_200_OK, summary="Open the meeting (vote)")
    async def open_event(
        self, db_session: DbSession, principal: CurrentUser, event_id: FromPath[uuid.UUID]
    ) -> EventOut:
        return await service.transition(db_session, principal, event_id, EventStatus.open)

    @post("/{event_id:uuid}/close", status_code=HTTP_200_OK, summary="Close; results are final")
    async def close_event(
        self, db_session: DbSession, principal: CurrentUser, event_id: FromPath[uuid.UUID]
    ) -> EventOut:
        return await service.transition(db_session, principal, event_id, EventStatus.closed)

    @post("/{event_id:uuid}/cancel", status_code=HTTP_200_OK, summary="Cancel the meeting")
    async def cancel_event(
        self, db_session: DbSession, principal: CurrentUser, event_id: FromPath[uuid.UUID]
    ) -> EventOut:
        return await service.transition(db_session, principal, event_id, EventStatus.cancelled)

    @post("/{event_id:uuid}/options", summary="Add a design option (while draft)")
    async def add_option(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[OptionIn],
    ) -> OptionOut:
        return await service.add_option(db_session, principal, event_id, data)

    @get("/{event_id:uuid}/check-in-code", summary="The current check-in code (committee)")
    async def check_in_code(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
    ) -> CheckInCodeOut:
        return await service.check_in_code(db_session, state.settings, principal, event_id)

    @post("/{event_id:uuid}/check-ins", summary="Check in at the venue with the code")
    async def check_in(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[CheckInIn],
    ) -> Response[CheckInOut]:
        out, created = await service.check_in(
            db_session, state.settings, principal, event_id, data.code
        )
        return Response(out, status_code=HTTP_201_CREATED if created else HTTP_200_OK)
