from __future__ import annotations

import uuid

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from src.models.area import Area, AreaLevel
from src.models.proposal import Proposal


async def get(session: AsyncSession, area_id: uuid.UUID) -> Area | None:
    return await session.get(Area, area_id)


async def list_page(
    session: AsyncSession,
    *,
    level: AreaLevel | None,
    parent_id: uuid.UUID | None,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
) -> list[Area]:
    query = select(Area).order_by(Area.code, Area.id).limit(limit + 1)
    if level is not None:
        query = query.where(Area.level == level)
    if parent_id is not None:
        query = query.where(Area.parent_id == parent_id)
    if after is not None:
        query = query.where((Area.code, Area.id) > after)  # type: ignore[operator]
    return list((await session.scalars(query)).all())


async def get_locked(
    session: AsyncSession, area_id: uuid.UUID, *, share: bool = False
) -> Area | None:
    """The area, locked until the transaction ends (``share``: against retiring only)."""
    query = select(Area).where(Area.id == area_id).execution_options(populate_existing=True)
    query = query.with_for_update(read=share)
    return (await session.scalars(query)).first()


async def get_by_code(session: AsyncSession, code: str, *, share: bool = False) -> Area | None:
    """The area with ``code``; ``share`` locks it against a concurrent retire."""
    query = select(Area).where(Area.code == code)
    if share:
        query = query.with_for_update(read=True).execution_options(populate_existing=True)
    return (await session.scalars(query)).first()


async def has_active_children(session: AsyncSession, area_id: uuid.UUID) -> bool:
    query = select(exists().where(Area.parent_id == area_id, Area.retired.is_(False)))
    return bool(await session.scalar(query))


async def reference_head_taken(
    session: AsyncSession, head: str, street_id: uuid.UUID | None
) -> bool:
    """Whether ``head`` heads, or may head, the reference numbers of a street other than
    ``street_id`` (None: any street): it is that street's prefix or code, or begins references
    filed there (src/proposals/references.py)."""
    street = select(Area.id).where(
        Area.level == AreaLevel.street, or_(Area.reference_prefix == head, Area.code == head)
    )
    filed = select(Proposal.id).where(func.left(Proposal.reference, len(head) + 1) == f"{head}-")
    if street_id is not None:
        street = street.where(Area.id != street_id)
        filed = filed.where(Proposal.street_id != street_id)
    return bool(await session.scalar(select(exists(street) | exists(filed))))
