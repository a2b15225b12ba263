from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any

import segno
from litestar import Controller, MediaType, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from src.core.caller import token_claims
from src.core.deps import CurrentUser, DbSession, MaybeUser, Unit
from src.core.errors import unauthorized
from src.core.metrics import SSE_CONNECTIONS
from src.core.pagination import DEFAULT_LIMIT, Limit, Page
from src.events import service as events_service
from src.events.eligibility import rules_of
from src.events.visibility import may_see_results as results_rule
from src.models.event import EventStatus
from src.votes import display, live_page, repository, service
from src.votes.live import TallyHub
from src.votes.schemas import (
    BallotIn,
    BallotOut,
    DisplayLinkCreated,
    DisplayLinkOut,
    DisplayOut,
    MyBallotOut,
    PaperCountsIn,
    ReceiptOut,
    ResultsOut,
    StreamTicketOut,
)

ENDED = (EventStatus.closed.value, EventStatus.cancelled.value)


class Audience(StrEnum):
    me = "me"  # what the caller may see (staff: everything)
    public = "public"  # what residents may see: the big screen at the venue


class VoteController(Controller):
    path = "/api/v1/events/{event_id:uuid}"
    tags = ["votes"]

    @post(
        "/ballots",
        summary="Cast a secret ballot (once)",
        # One statement, no BEGIN/COMMIT; its Idempotency-Key reply is sealed
        # (src/core/idempotency.py): the stored first reply names the ballot, so only the
        # client's key opens it. No per-address limit: a venue's residents share one address
        # and vote once each.
        opt={"idempotency": "sealed", "db_transaction": False, "ip_rate_limit": False},
        status_code=HTTP_201_CREATED,
    )
    async def cast(
        self,
        request: Request[Any, Any, Any],
        state: State,
        unit: Unit,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[BallotIn],
    ) -> Response[BallotOut]:
        claims = token_claims(request.scope, state.settings)
        if claims is None:
            raise unauthorized()
        request.scope["state"]["user_id"] = str(claims.user_id)
        out, replayed = await service.cast_ballot(
            unit, state.ballot_rules, claims, event_id, data.option_ids
        )
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return Response(out, status_code=HTTP_201_CREATED, headers=headers)

    @get("/ballots/mine", summary="Whether I voted (and, after close, my ballot by receipt)")
    async def mine(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        receipt: FromQuery[str | None] = None,
    ) -> MyBallotOut:
        return await service.mine(db_session, principal, event_id, receipt)

    @get("/results", summary="Results (subject to the meeting's results_visibility)")
    async def results(
        self, db_session: DbSession, principal: CurrentUser, event_id: FromPath[uuid.UUID]
    ) -> ResultsOut:
        return await service.results(db_session, principal, event_id)

    @get(
        "/results/stream",
        summary="Live results (server-sent events `tally`)",
        description=(
            "With a bearer token, or with `?ticket=` from `POST …/results/stream-tickets` "
            "(browsers' EventSource, the big screen). A display link's stream ends with an "
            "event `revoked` (`{code, detail}`) once the link is revoked or has expired."
        ),
        media_type="text/event-stream",
    )
    async def stream(
        self,
        state: State,
        db_session: DbSession,
        maybe_principal: MaybeUser,
        event_id: FromPath[uuid.UUID],
        audience: FromQuery[Audience] = Audience.me,
        ticket: FromQuery[str | None] = None,
    ) -> ServerSentEvent:
        settings = state.settings
        viewer = await display.stream_viewer(
            db_session, settings, maybe_principal, event_id, ticket
        )
        if viewer.link_id is not None:
            audience = Audience.public  # a display link sees the public view, nothing else
        staff = viewer.staff and audience == Audience.me
        rule = rules_of(viewer.event).results_visibility
        user_id = viewer.user_id
        link_id = viewer.link_id
        hub: TallyHub = state.tally_hub
        sessionmaker = state.sessionmaker
        keepalive = state.settings.event_sse_keepalive_s
        if link_id is not None:
            keepalive = min(keepalive, settings.event_display_recheck_s)

        voted = False

        async def took_part() -> bool:
            # The big screen (audience=public) shows what everyone may see, not the caller.
            nonlocal voted
            if audience != Audience.me or user_id is None:
                return False
            if not voted:  # the stream holds no connection: a short session for the look
                async with sessionmaker() as session:
                    voted = await repository.has_voted(session, event_id, user_id)
            return voted

        async def link_gone() -> ServerSentEventMessage | None:
            if link_id is None:
                return None
            error = await display.link_refusal(sessionmaker, settings, event_id, link_id)
            if error is None:
                return None
            body = {"code": error.code, "detail": error.message.zh, "detail_en": error.message.en}
            return ServerSentEventMessage(
                event="revoked", data=json.dumps(body, ensure_ascii=False)
            )

        async def messages() -> AsyncIterator[ServerSentEventMessage]:
            SSE_CONNECTIONS.inc()
            try:
                async with hub.watch(event_id) as watch:
                    seen = 0
                    while True:
                        got = await watch.next(seen, keepalive)
                        gone = await link_gone()
                        if gone is not None:
                            yield gone
                            return
                        if got is None:
                            yield ServerSentEventMessage(comment="keep-alive")
                            continue
                        seen, payload = got
                        visible = await results_rule(
                            rule, staff=staff, final=payload["final"], took_part=took_part
                        )
                        yield ServerSentEventMessage(
                            event="tally", data=watch.encoded(seen, payload, visible), id=seen
                        )
                        if payload["status"] in ENDED:
                            return
            finally:
                SSE_CONNECTIONS.dec()

        return ServerSentEvent(messages(), headers={"Cache-Control": "no-store"})

    @post(
        "/results/stream-tickets",
        summary="A short-lived ticket for `…/results/stream?ticket=` (EventSource, chunked)",
        description=(
            "With a bearer token (a resident or staff of the meeting) or the big screen's "
            "`X-Display-Link` header; the ticket opens one stream of this meeting within "
            "`expires_in` seconds."
        ),
        opt={"idempotency": "off"},  # nothing is stored: a retry simply gets a fresh ticket
        status_code=HTTP_201_CREATED,
    )
    async def stream_ticket(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: DbSession,
        maybe_principal: MaybeUser,
        event_id: FromPath[uuid.UUID],
    ) -> StreamTicketOut:
        return await display.issue_ticket(
            db_session,
            state.settings,
            maybe_principal,
            event_id,
            request.headers.get(display.HEADER),
        )

    @post(
        "/display-links",
        summary="A link for the venue's projector (committee, street)",
        description=(
            "The URL opens the big screen of this meeting with its public view only, without "
            "a staff token, until a day after the meeting ends. The secret is shown once."
        ),
        # The reply shows the link's secret: sealed, so the idempotency record cannot open it.
        opt={"idempotency": "sealed"},
        status_code=HTTP_201_CREATED,
    )
    async def create_display_link(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
    ) -> DisplayLinkCreated:
        return await display.create_link(db_session, state.settings, principal, event_id)

    @get("/display-links", summary="The meeting's display links (committee, street)")
    async def display_links(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
    ) -> list[DisplayLinkOut]:
        return await display.list_links(db_session, state.settings, principal, event_id)

    @delete(
        "/display-links/{link_id:uuid}",
        summary="Revoke a display link (committee, street)",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def revoke_display_link(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        link_id: FromPath[uuid.UUID],
    ) -> None:
        await display.revoke_link(db_session, principal, event_id, link_id)

    @get(
        "/display",
        summary="The big screen's public view (header `X-Display-Link`)",
        description=(
            "Title, venue, times, turnout, check-ins, results as residents may see them and, "
            "while the meeting is open, the check-in QR. Opened by a display link only."
        ),
        security=[],
    )
    async def display_view(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: DbSession,
        event_id: FromPath[uuid.UUID],
    ) -> Response[DisplayOut]:
        out = await display.view(
            db_session, state.settings, event_id, request.headers.get(display.HEADER)
        )
        return Response(out, headers={"Cache-Control": "no-store"})

    @get("/receipts", summary="After close: every ballot's receipt and choices")
    async def receipts(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Page[ReceiptOut]:
        items, next_cursor = await service.receipts(db_session, principal, event_id, cursor, limit)
        return Page(items=items, next_cursor=next_cursor)

    @post("/paper-counts", summary="Paper ballots and hands counted at the venue (committee)")
    async def paper_counts(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[PaperCountsIn],
    ) -> ResultsOut:
        return await service.enter_paper_counts(db_session, principal, event_id, data)

    @get(
        "/check-in-code.png",
        summary="The current check-in code as a QR image (committee)",
        media_type="image/png",
    )
    async def check_in_qr(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
    ) -> Response[bytes]:
        code = await events_service.check_in_code(db_session, state.settings, principal, event_id)
        image = segno.make(code.qr_payload, error="m").png_data_uri(scale=8, border=2)
        png = _data_uri_bytes(image)
        return Response(
            png,
            media_type="image/png",
            headers={"Cache-Control": "no-store", "X-Check-In-Code-Expires": str(code.expires_at)},
        )


def _data_uri_bytes(uri: str) -> bytes:
    import base64

    return base64.b64decode(uri.split(",", 1)[1])


@get(
    "/events/{event_id:uuid}/live",
    media_type=MediaType.HTML,
    summary="Big screen for the venue's projector",
    include_in_schema=False,
)
async def live_screen(event_id: FromPath[uuid.UUID]) -> Response[str]:
    return Response(
        live_page.render(event_id),
        media_type=MediaType.HTML,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": (
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                "img-src 'self' data:; connect-src 'self'"
            ),
            "Referrer-Policy": "no-referrer",
        },
    )
