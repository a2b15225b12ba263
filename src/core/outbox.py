"""The transactional outbox: record a message for an outside system in the same transaction
as the change. The city-portal worker (src/integrations/city_portal) claims and delivers them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from src.models.system import OutboxItem


async def enqueue(
    session: AsyncSession, topic: str, ordering_key: str, payload: dict[str, Any]
) -> None:
    """``topic`` says what happened (``proposal.created``, ``proposal.status_changed``, …);
    ``ordering_key`` names the object (``proposal:<id>``) whose messages keep their order."""
    session.add(OutboxItem(topic=topic, ordering_key=ordering_key, payload=payload))
