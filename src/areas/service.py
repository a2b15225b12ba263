from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from src.areas import repository
from src.core.errors import not_found
from src.core.ids import new_id
from src.core.pagination import decode_cursor_as, paginate, text_value, uuid_value
from src.models.area import Area, AreaLevel


async def get_area(session: AsyncSession, area_id: uuid.UUID) -> Area:
    area = await repository.get(session, area_id)
    if area is None:
        raise not_found("区域", "Area")
    return area


async def list_areas(
    session: AsyncSession,
    *,
    level: AreaLevel | None,
    parent_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Area], str | None]:
    after = decode_cursor_as(cursor, text_value, uuid_value)
    rows = await repository.list_page(
        session,
        level=level,
        parent_id=parent_id,
        after=(after[0], after[1]) if after else None,
        limit=limit,
    )
    return paginate(rows, limit, lambda a: (a.code, str(a.id)))


async def create_area(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    level: AreaLevel,
    parent: Area | None,
    lat: float,
    lng: float,
) -> Area:
    """Create an area under ``parent`` (WGS-84 centroid); its path is the parent's plus itself."""
    area = Area(
        id=new_id(),
        code=code,
        name=name,
        level=level,
        parent_id=parent.id if parent else None,
        centroid_lat=lat,
        centroid_lng=lng,
    )
    area.path = [*(parent.path if parent else []), area.id]
    session.add(area)
    await session.flush()
    return area
