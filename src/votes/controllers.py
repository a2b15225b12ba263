from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any

import segno
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.status_codes import HTTP_201_CREATED

from src.core.caller import token_claims
from src.core.deps import CurrentUser, DbSession, Unit
from src.core.errors import unauthorized
from src.core.metrics import SSE_CONNECTIONS
from src.core.pagination import DEFAULT_LIMIT, Limit, Page
from src.events import service as events_service
from src.events.eligibility import rules_of
from src.events.visibility import may_see_results as results_rule
from src.models.event import EventStatus
from src.votes import live_page, repository, service
from src.votes.live import TallyHub
from src.votes.schemas import (
    BallotIn,
    BallotOut,
    MyBallotOut,
    PaperCountsIn,
    ReceiptOut,
    ResultsOut,
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
        # Written with this worker's next batch (src/votes/batcher.py), not in a transaction
        # of the request; its Idempotency-Key reply is sealed (src/core/idempotency.py) and
        # stored with the ballot: the stored first reply names the ballot, so only the
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
            unit, state.ballot_rules, state.ballot_batcher, claims, event_id, data.option_ids
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
        media_type="text/event-stream",
    )
    async def stream(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        event_id: FromPath[uuid.UUID],
        audience: FromQuery[Audience] = Audience.me,
    ) -> ServerSentEvent:
        access = await service.stream_access(db_session, principal, event_id)
        staff = access.staff and audience == Audience.me
        rule = rules_of(access.event).results_visibility
        user_id = principal.user_id
        hub: TallyHub = state.tally_hub
        sessionmaker = state.sessionmaker
        keepalive = state.settings.event_sse_keepalive_s

        voted = False

        async def took_part() -> bool:
            # The big screen (audience=public) shows what everyone may see, not the caller.
            nonlocal voted
            if audience != Audience.me:
                return False
            if not voted:  # the stream holds no connection: a short session for the look
                async with sessionmaker() as session:
                    voted = await repository.has_voted(session, event_id, user_id)
            return voted

        async def messages() -> AsyncIterator[ServerSentEventMessage]:
            SSE_CONNECTIONS.inc()
            try:
                async with hub.watch(event_id) as watch:
                    seen = 0
                    while True:
                        got = await watch.next(seen, keepalive)
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
                "img-src 'self' blob:; connect-src 'self'"
            ),
            "Referrer-Policy": "no-referrer",
        },
    )
