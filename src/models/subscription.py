"""WeChat subscribe-message grants (一次性订阅): one grant allows one message."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import BigInteger, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from src.core.db import Base
from src.core.ids import new_id


class SubscribeKind(enum.StrEnum):
    """What a grant is for: a notification kind (the mechanism is the same for each)."""

    reply = "reply"
    status_changed = "status_changed"
    event_reminder = "event_reminder"  # no producer yet
    survey_opened = "survey_opened"  # no producer yet


class WeChatSubscription(Base):
    __tablename__ = "wechat_subscriptions"
    __table_args__ = (
        Index(
            "uq_wechat_subscriptions_unused",
            "user_id",
            "kind",
            unique=True,
            postgresql_where=text("used_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    template_id: Mapped[str] = mapped_column(String(128))
    granted_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    used_at: Mapped[dt.datetime | None]
    outbox_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
