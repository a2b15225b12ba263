from __future__ import annotations

import uuid

from pydantic import Field

from src.core.auth import Principal
from src.core.schemas import RequestModel, ResponseModel
from src.models.user import Role


class DevLoginIn(RequestModel):
    phone: str = Field(pattern=r"^1[3-9]\d{9}$", description="Phone of a seeded user")


class RefreshIn(RequestModel):
    refresh_token: str = Field(min_length=20, max_length=200)


class WeChatLoginIn(RequestModel):
    code: str = Field(min_length=1, max_length=128, description="Code from wx.login()")


class RoleOut(ResponseModel):
    role: Role
    area_id: uuid.UUID | None


class MeOut(ResponseModel):
    id: uuid.UUID
    display_name: str
    verified: bool
    community_id: uuid.UUID | None
    roles: list[RoleOut]

    @classmethod
    def build(cls, principal: Principal) -> MeOut:
        return cls(
            id=principal.user_id,
            display_name=principal.display_name,
            verified=principal.verified,
            community_id=principal.community_id,
            roles=[RoleOut(role=g.role, area_id=g.area_id) for g in principal.role_list()],
        )


class TokensOut(ResponseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int
    user: MeOut
