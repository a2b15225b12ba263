from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field

from src.core.schemas import RequestModel, ResponseModel
from src.models.user import Role


def mask_phone(phone: str | None) -> str | None:
    """``13800001000`` → ``138****1000``; short numbers keep only their last two digits."""
    if not phone:
        return None
    if len(phone) >= 7:
        return f"{phone[:3]}****{phone[-4:]}"
    return "*" * max(0, len(phone) - 2) + phone[-2:]


class GrantIn(RequestModel):
    user_id: uuid.UUID
    role: Role


class StaffOut(ResponseModel):
    user_id: uuid.UUID
    display_name: str
    role: Role
    area_id: uuid.UUID
    granted_at: dt.datetime
    granted_by: uuid.UUID | None


class ResidentOut(ResponseModel):
    user_id: uuid.UUID
    display_name: str
    phone: str | None  # masked: 138****1000
    verified: bool
    community_id: uuid.UUID


class ResidentSummary(ResponseModel):
    count: int
    verified_count: int


class ResidentPage(ResponseModel):
    items: list[ResidentOut]
    next_cursor: str | None
    summary: ResidentSummary


class HomeCommunityIn(RequestModel):
    home_community_id: uuid.UUID
    reason: str = Field(min_length=2, max_length=500)


class UserAdminOut(ResponseModel):
    id: uuid.UUID
    display_name: str
    phone: str | None  # masked
    verified: bool
    home_community_id: uuid.UUID | None
