"""Users, their staff roles (each scoped to an area) and refresh-token families."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base, TimestampMixin
from src.core.ids import new_id


class Role(enum.StrEnum):
    resident = "resident"
    committee = "committee"
    street = "street"
    planner = "planner"
    admin = "admin"


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_home_community_id_id", "home_community_id", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    home_community_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("areas.id"), index=True
    )
    portal_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")


class RoleGrant(TimestampMixin, Base):
    """A staff role held in an area. Every user is a resident of their home community
    without a grant; grants are for committee, street, planner and admin.
    ``area_id`` NULL on an admin grant means the whole city."""

    __tablename__ = "role_grants"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "area_id", name="uq_role_grants_user_role_area"),
        Index(
            "uq_role_grants_city_admin",
            "user_id",
            "role",
            unique=True,
            postgresql_where="area_id IS NULL",
        ),
        Index("ix_role_grants_area_id_role", "area_id", "role"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(Enum(Role, name="role"))
    area_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("areas.id"), index=True
    )
    granted_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id"))


class RefreshToken(TimestampMixin, Base):
    """One refresh token of a rotating family. Only the SHA-256 of the token is stored.
    Reusing a used token revokes its whole family (and the access tokens issued from it)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class AuthFamily(TimestampMixin, Base):
    """A sign-in session: every access and refresh token carries its id, so revoking the
    family ends them all at the next request."""

    __tablename__ = "auth_families"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(16))
    revoked_at: Mapped[dt.datetime | None]


class CommunityResidents(Base):
    """Changes to a community's registered residents (users whose home it is, not disabled)
    and to how many of them are verified: the sum of a community's rows is its count.
    Appended only by the triggers of migration 1800 on ``users``, folded by the
    ``resident_counts_fold`` job; read by ``src/areas/residents.py``."""

    __tablename__ = "community_residents"
    __table_args__ = (
        Index(
            "ix_community_residents_community_id",
            "community_id",
            postgresql_include=["residents", "verified"],
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    community_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("areas.id"))
    residents: Mapped[int] = mapped_column(Integer)
    verified: Mapped[int] = mapped_column(Integer)
