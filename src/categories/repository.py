"""All SQL of suggestion categories (table ``proposal_categories``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from src.models.proposal import ProposalCategory


async def list_all(session: AsyncSession, *, include_retired: bool) -> list[ProposalCategory]:
    query = select(ProposalCategory).order_by(ProposalCategory.sort_order, ProposalCategory.code)
    if not include_retired:
        query = query.where(ProposalCategory.retired_at.is_(None))
    return list((await session.scalars(query)).all())


async def insert_new(session: AsyncSession, values: dict[str, Any]) -> ProposalCategory | None:
    """The new row, or None when the code exists (retired or not): codes are never reused."""
    statement = (
        insert(ProposalCategory)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[ProposalCategory.code])
        .returning(ProposalCategory)
    )
    return (await session.scalars(statement)).first()


async def get_for_update(session: AsyncSession, code: str) -> ProposalCategory | None:
    query = select(ProposalCategory).where(ProposalCategory.code == code).with_for_update()
    return (await session.scalars(query)).first()


async def retired_at(session: AsyncSession, code: str) -> tuple[bool, dt.datetime | None]:
    """(exists, retired_at) of ``code``."""
    row = (
        await session.execute(
            select(ProposalCategory.retired_at).where(ProposalCategory.code == code)
        )
    ).first()
    return (row is not None, row.retired_at if row else None)


def now_select() -> Any:
    return select(func.now())
