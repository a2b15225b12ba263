from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from src.core.deps import CurrentUser, DbSession, Unit
from src.identity import service
from src.identity.limits import limit_account, limit_address
from src.identity.schemas import DevLoginIn, MeOut, RefreshIn, TokensOut, WeChatLoginIn


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["identity"]

    @post("/refresh", status_code=HTTP_200_OK, summary="Rotate a refresh token")
    async def refresh(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: DbSession,
        unit: Unit,
        data: JSONBody[RefreshIn],
    ) -> TokensOut:
        await limit_address(request, state)

        async def limit_family(family_id: uuid.UUID) -> None:
            await limit_account(state, "family", str(family_id))

        return await service.refresh_tokens(
            db_session, state.settings, data.refresh_token, unit, limit_family
        )

    @post("/wechat", status_code=HTTP_200_OK, summary="Sign in with a mini-program wx.login code")
    async def wechat(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: DbSession,
        data: JSONBody[WeChatLoginIn],
    ) -> TokensOut:
        await limit_address(request, state)
        wechat_session = await state.wechat.code_to_session(data.code)
        await limit_account(state, "openid", wechat_session.openid)
        return await service.wechat_login(db_session, state.settings, wechat_session)

    @post("/logout", status_code=HTTP_204_NO_CONTENT, summary="End this sign-in (all its tokens)")
    async def logout(self, db_session: DbSession, principal: CurrentUser) -> None:
        await service.logout(db_session, principal.family_id)


class DevLoginController(Controller):
    """Only mounted when LIFECIRCLE_ENV is dev or test."""

    path = "/api/v1/auth"
    tags = ["identity"]

    @post("/dev-login", status_code=HTTP_200_OK, summary="Sign in as a seeded user (dev/test only)")
    async def dev_login(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: DbSession,
        data: JSONBody[DevLoginIn],
    ) -> TokensOut:
        await limit_address(request, state)
        await limit_account(state, "phone", data.phone)
        return await service.dev_login(db_session, state.settings, data.phone)


class MeController(Controller):
    path = "/api/v1/me"
    tags = ["identity"]

    @get("/", summary="The signed-in user")
    async def me(self, principal: CurrentUser) -> MeOut:
        return MeOut.build(principal)
