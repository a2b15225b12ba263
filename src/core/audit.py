"""Append-only audit of privileged actions (who, what, where, when), in the request's
transaction: an action that rolls back leaves no audit row, one that commits always does."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from src.core.auth import Principal
from src.models.system import AuditEntry


async def record(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    object_type: str,
    object_id: uuid.UUID | str | None,
    *,
    area_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor_id=actor.user_id if actor else None,
            action=action,
            object_type=object_type,
            object_id=str(object_id) if object_id is not None else None,
            area_id=area_id,
            details=details or {},
        )
    )
