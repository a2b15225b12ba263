from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from src.core.deps import CurrentUser, DbSession
from src.core.pagination import DEFAULT_LIMIT, Limit
from src.models.user import Role
from src.staff import service
from src.staff.schemas import (
    GrantIn,
    HomeCommunityIn,
    ResidentPage,
    StaffOut,
    UserAdminOut,
    mask_phone,
)


class StaffController(Controller):
    path = "/api/v1/areas/{area_id:uuid}"
    tags = ["administration"]

    @get("/staff", summary="Staff of an area with their roles")
    async def list_staff(
        self, db_session: DbSession, principal: CurrentUser, area_id: FromPath[uuid.UUID]
    ) -> list[StaffOut]:
        return await service.list_staff(db_session, principal, area_id)

    @post(
        "/staff",
        summary="Grant a staff role in this area (201 new, 200 already held)",
        responses={200: ResponseSpec(StaffOut, description="The role was already held")},
    )
    async def grant(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        data: JSONBody[GrantIn],
    ) -> Response[StaffOut]:
        result = await service.grant_as(db_session, principal, area_id, data.user_id, data.role)
        status = HTTP_201_CREATED if result.created else HTTP_200_OK
        return Response(result.staff, status_code=status)

    @delete(
        "/staff/{user_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Revoke a staff role (effective at the user's next request)",
    )
    async def revoke(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        user_id: FromPath[uuid.UUID],
        role: FromQuery[Role],
    ) -> None:
        await service.revoke_as(db_session, principal, area_id, user_id, role)

    @get("/residents", summary="Residents of an area (masked phones) with verified counts")
    async def residents(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        verified: FromQuery[bool | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> ResidentPage:
        return await service.list_residents(
            db_session, principal, area_id, verified=verified, cursor=cursor, limit=limit
        )


class UserAdminController(Controller):
    path = "/api/v1/users"
    tags = ["administration"]

    @patch("/{user_id:uuid}", summary="Change a resident's home community (admin, with reason)")
    async def change_home(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[HomeCommunityIn],
    ) -> UserAdminOut:
        user = await service.change_home_as(db_session, principal, user_id, data)
        return UserAdminOut(
            id=user.id,
            display_name=user.display_name,
            phone=mask_phone(user.phone),
            verified=user.verified,
            home_community_id=user.home_community_id,
        )
