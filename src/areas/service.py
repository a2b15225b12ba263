from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from src.areas import repository
from src.areas.boundary import normalise_boundary
from src.areas.schemas import AreaIn, AreaPatch
from src.core import audit
from src.core.auth import Principal
from src.core.errors import (
    AppError,
    conflict,
    forbidden,
    not_found,
    unprocessable,
    validation_failed,
)
from src.core.ids import new_id
from src.core.pagination import decode_cursor_as, paginate, text_value, uuid_value
from src.core.policy import authorize_area, require_roles
from src.models.area import Area, AreaLevel
from src.models.user import Role


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
    reference_prefix: str | None = None,
) -> Area:
    """Create an area under ``parent`` (WGS-84 centroid); its path is the parent's plus itself."""
    area = Area(
        id=new_id(),
        code=code,
        name=name,
        level=level,
        reference_prefix=reference_prefix,
        parent_id=parent.id if parent else None,
        centroid_lat=lat,
        centroid_lng=lng,
    )
    area.path = [*(parent.path if parent else []), area.id]
    session.add(area)
    await session.flush()
    return area


# --- administration ---------------------------------------------------------------

PARENT_LEVEL: dict[AreaLevel, AreaLevel | None] = {
    AreaLevel.district: None,
    AreaLevel.street: AreaLevel.district,
    AreaLevel.community: AreaLevel.street,
}


def _code_taken() -> AppError:
    return conflict("area_code_taken", "区域编码已被使用", "The area code is already taken")


def _prefix_taken() -> AppError:
    return conflict(
        "reference_prefix_taken",
        "该编号前缀已被其他街道使用",
        "The reference prefix is already used by another street",
    )


def _taken(exc: IntegrityError) -> AppError:
    """The 409 of a unique violation on an area (a concurrent code or prefix)."""
    return _prefix_taken() if "uq_areas_reference_prefix" in str(exc.orig) else _code_taken()


def check_prefix(level: AreaLevel, prefix: str | None) -> None:
    """422 when an area other than a street would carry a reference prefix."""
    if prefix is not None and level != AreaLevel.street:
        raise validation_failed(
            [{"field": "reference_prefix", "message": "only a street carries a reference prefix"}]
        )


async def check_heads(
    session: AsyncSession,
    level: AreaLevel,
    area_id: uuid.UUID | None,
    *,
    code: str | None = None,
    prefix: str | None = None,
) -> None:
    """409 when a street's new ``code`` or ``prefix`` would head another street's reference
    numbers (so two suggestions never get the same one). ``area_id``: None for a new one."""
    if level != AreaLevel.street:
        return
    taken = repository.reference_head_taken
    if code is not None and await taken(session, code, area_id):
        raise _code_taken()
    if prefix is not None and await taken(session, prefix, area_id):
        raise _prefix_taken()


def area_retired() -> AppError:
    return conflict("area_retired", "该区域已撤销", "The area is retired")


def _is_city_admin(principal: Principal) -> bool:
    return any(g.role == Role.admin and g.area_id is None for g in principal.grants)


def check_parent(level: AreaLevel, parent: Area | None) -> None:
    """422 unless ``parent`` is one level above ``level`` (none for a district); 409 when
    the parent is retired."""
    wanted = PARENT_LEVEL[level]
    if wanted is None:
        if parent is not None:
            raise unprocessable(
                "parent_level_mismatch", "区级区域不能有上级", "A district has no parent"
            )
        return
    if parent is None:
        raise unprocessable(
            "parent_level_mismatch",
            "街道和社区必须指定上级区域",
            "A street or community needs a parent",
        )
    if parent.level != wanted:
        raise unprocessable(
            "parent_level_mismatch",
            f"{level.value} 的上级必须是 {wanted.value}",
            f"The parent of a {level.value} must be a {wanted.value}",
        )
    if parent.retired:
        raise area_retired()


async def resolve_parent(
    session: AsyncSession, level: AreaLevel, parent_id: uuid.UUID | None
) -> Area | None:
    """The locked parent of a new area of ``level``; 422 when the levels do not fit."""
    parent = None
    if parent_id is not None and PARENT_LEVEL[level] is not None:
        # FOR SHARE: a concurrent retire of the parent waits for this creation, and sees it.
        parent = await repository.get_locked(session, parent_id, share=True)
        if parent is None:
            raise not_found("上级区域", "Parent area")
    elif parent_id is not None:
        raise unprocessable(
            "parent_level_mismatch", "区级区域不能有上级", "A district has no parent"
        )
    check_parent(level, parent)
    return parent


async def add_area(
    session: AsyncSession,
    actor: Principal | None,
    *,
    code: str,
    name: str,
    level: AreaLevel,
    parent: Area | None,
    lat: float,
    lng: float,
    boundary: dict[str, Any] | None,
    reference_prefix: str | None = None,
    source: str = "api",
    code_checked: bool = False,
) -> Area:
    """Create an area (parent already checked) and audit it; 409 when the code or the
    reference prefix is taken. ``code_checked``: the caller looked the code up and runs in its
    own savepoint (imports), so a concurrent duplicate surfaces there as an IntegrityError."""
    check_prefix(level, reference_prefix)
    if not code_checked and await repository.get_by_code(session, code) is not None:
        raise _code_taken()
    await check_heads(session, level, None, code=code, prefix=reference_prefix)

    async def create() -> Area:
        area = await create_area(
            session,
            code=code,
            name=name,
            level=level,
            parent=parent,
            lat=lat,
            lng=lng,
            reference_prefix=reference_prefix,
        )
        area.boundary = boundary
        return area

    if code_checked:
        area = await create()
    else:
        try:
            async with session.begin_nested():
                area = await create()
                await session.flush()
        except IntegrityError as exc:  # a concurrent creation with the same code or prefix
            raise _taken(exc) from exc
    await audit.record(
        session,
        actor,
        "area.create",
        "area",
        area.id,
        area_id=area.id,
        details={
            "code": code,
            "name": name,
            "level": level.value,
            "reference_prefix": reference_prefix,
            "source": source,
        },
    )
    return area


async def create_area_as(session: AsyncSession, principal: Principal, data: AreaIn) -> Area:
    require_roles(principal, Role.admin)
    if data.level == AreaLevel.district and not _is_city_admin(principal):
        raise forbidden(
            "area_forbidden", "只有市级管理员可以新建区", "Only a city admin may create a district"
        )
    parent = await resolve_parent(session, data.level, data.parent_id)
    if parent is not None:
        await authorize_area(session, principal, parent.id, [Role.admin])
    lat, lng = data.centroid.to_wgs84()
    boundary = (
        normalise_boundary(data.boundary, data.boundary_coord_sys)
        if data.boundary is not None
        else None
    )
    return await add_area(
        session,
        principal,
        code=data.code,
        name=data.name,
        level=data.level,
        parent=parent,
        lat=lat,
        lng=lng,
        boundary=boundary,
        reference_prefix=data.reference_prefix,
    )


async def update_area_as(
    session: AsyncSession, principal: Principal, area_id: uuid.UUID, data: AreaPatch
) -> Area:
    require_roles(principal, Role.admin)
    await authorize_area(session, principal, area_id, [Role.admin])
    area = await repository.get_locked(session, area_id)
    if area is None:
        raise not_found("区域", "Area")
    fields = data.model_fields_set - {"boundary_coord_sys"}
    if not fields:
        raise validation_failed([{"field": "body", "message": "nothing to change"}])
    if area.retired and data.retired is not False:
        raise area_retired()
    changes: dict[str, Any] = {}
    if data.code is not None and data.code != area.code:
        other = await repository.get_by_code(session, data.code)
        if other is not None:
            raise _code_taken()
        await check_heads(session, area.level, area.id, code=data.code)
        changes["code"] = [area.code, data.code]
        area.code = data.code
    if "reference_prefix" in fields and data.reference_prefix != area.reference_prefix:
        # Only suggestions submitted from now on carry it; filed references keep theirs.
        check_prefix(area.level, data.reference_prefix)
        await check_heads(session, area.level, area.id, prefix=data.reference_prefix)
        changes["reference_prefix"] = [area.reference_prefix, data.reference_prefix]
        area.reference_prefix = data.reference_prefix
    if data.name is not None and data.name != area.name:
        changes["name"] = [area.name, data.name]
        area.name = data.name
    if data.centroid is not None:
        lat, lng = data.centroid.to_wgs84()
        changes["centroid"] = [[area.centroid_lat, area.centroid_lng], [lat, lng]]
        area.centroid_lat, area.centroid_lng = lat, lng
    if "boundary" in fields:
        area.boundary = (
            normalise_boundary(data.boundary, data.boundary_coord_sys)
            if data.boundary is not None
            else None
        )
        changes["boundary"] = "set" if area.boundary else "removed"
    action = "area.update"
    if data.retired is True and not area.retired:
        if await repository.has_active_children(session, area.id):
            raise conflict(
                "area_has_active_children",
                "该区域下还有未撤销的下级区域",
                "The area still has active child areas",
            )
        area.retired, area.retired_at = True, dt.datetime.now(dt.UTC)
        action = "area.retire"
    elif data.retired is False and area.retired:
        if area.parent_id is not None:
            parent = await repository.get_locked(session, area.parent_id, share=True)
            if parent is not None and parent.retired:
                raise area_retired()
        area.retired, area.retired_at = False, None
        action = "area.restore"
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise _taken(exc) from exc
    await audit.record(
        session, principal, action, "area", area.id, area_id=area.id, details=changes
    )
    return area
