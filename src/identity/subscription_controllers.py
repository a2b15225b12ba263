from __future__ import annotations

from litestar import Controller, get, put
from litestar.datastructures import State
from litestar.params import JSONBody

from src.core.deps import CurrentUser, DbSession
from src.identity import subscriptions
from src.identity.subscriptions import SubscriptionsIn, SubscriptionsOut


class SubscriptionController(Controller):
    path = "/api/v1/me/subscriptions"
    tags = ["identity"]

    @get("/", summary="My WeChat subscribe-message grants and the template ids to ask for")
    async def mine(
        self, state: State, db_session: DbSession, principal: CurrentUser
    ) -> SubscriptionsOut:
        return await subscriptions.grants(db_session, state.settings, principal)

    @put(
        "/",
        summary="Record the templates I just granted in the mini-program (one message each)",
        description=(
            "After `wx.requestSubscribeMessage`, send the kinds the resident accepted. Each "
            "listed kind then holds one unused grant (a repeat adds nothing: WeChat allows one "
            "message per acceptance); kinds not listed lose theirs. The next notification of "
            "a granted kind is also sent as a subscribe message, and uses the grant."
        ),
    )
    async def grant(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        data: JSONBody[SubscriptionsIn],
    ) -> SubscriptionsOut:
        return await subscriptions.set_grants(db_session, state.settings, principal, data)
