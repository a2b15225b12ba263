from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from src.core.deps import CurrentUser, DbSession
from src.core.pagination import DEFAULT_LIMIT, Limit, Page
from src.core.policy import require_city_admin
from src.identity.limits import limit_account, limit_address
from src.identity.schemas import TokensOut
from src.integrations.city_portal import service
from src.integrations.city_portal.schemas import (
    OutboxItemOut,
    OutboxStatus,
    PortalLoginIn,
    PortalMetricsOut,
    WebhookOut,
)


class PortalLoginController(Controller):
    path = "/api/v1/auth"
    tags = ["identity"]

    @post("/portal", status_code=HTTP_200_OK, summary="Sign in with a city-portal SSO ticket")
    async def portal(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: DbSession,
        data: JSONBody[PortalLoginIn],
    ) -> TokensOut:
        await limit_address(request, state)
        who = await service.exchange_ticket(state.portal, data.ticket)
        await limit_account(state, "portal", who.portal_user_id)
        return await service.portal_login(db_session, state.settings, who)


class PortalController(Controller):
    path = "/api/v1/integrations/portal"
    tags = ["city portal"]

    @post(
        "/webhook",
        status_code=HTTP_200_OK,
        summary="Signed events from the city portal (status changes, identity changes)",
        security=[],
    )
    async def webhook(
        self, request: Request[Any, Any, Any], state: State, db_session: DbSession
    ) -> WebhookOut:
        body = await request.body()
        return await service.receive_webhook(
            db_session,
            state.settings,
            request.method,
            request.url.path,
            request.headers,
            body,
        )

    @get("/outbox", summary="Messages for the portal, newest first (admin)")
    async def outbox(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        status: FromQuery[OutboxStatus | None] = None,
        topic: FromQuery[str | None] = None,
        ordering_key: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> Page[OutboxItemOut]:
        require_city_admin(principal)
        return await service.list_outbox(
            db_session,
            status=status,
            topic=topic,
            ordering_key=ordering_key,
            cursor=cursor,
            limit=limit,
        )

    @post(
        "/outbox/{item_id:int}/retry",
        status_code=HTTP_200_OK,
        summary="Send a dead-lettered message again (admin, audited)",
    )
    async def retry(
        self, db_session: DbSession, principal: CurrentUser, item_id: FromPath[int]
    ) -> OutboxItemOut:
        require_city_admin(principal)
        return await service.retry_failed(db_session, principal, item_id)

    @get("/metrics", summary="Outbox backlog, oldest undelivered age, dead letters (admin)")
    async def metrics(self, db_session: DbSession, principal: CurrentUser) -> PortalMetricsOut:
        require_city_admin(principal)
        return await service.metrics(db_session)
