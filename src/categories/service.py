"""The rules of categories: admins add, rename, regroup, retire and restore; everyone reads.

A retired category stays on the suggestions and projects that use it (they keep showing its
name), is left out of the lists offered for new ones, and is refused for new ones with 422
``category_retired``. Codes are never reused, so an old record never changes meaning.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from src.categories import repository
from src.categories.schemas import (
    CategoryAdminOut,
    CategoryGroup,
    CategoryIn,
    CategoryKind,
    CategoryPatch,
)
from src.core import audit, outbox
from src.core.auth import Principal
from src.core.errors import AppError, Message, conflict, not_found, validation_failed
from src.core.policy import require_roles
from src.facilities_nearby import repository as facilities
from src.models.facility import FacilityCategory
from src.models.proposal import ProposalCategory
from src.models.user import Role


def parse_kind(kind: str | None) -> CategoryKind:
    """Suggestion categories live here; facility categories belong to the facilities domain
    (its own table ``facility_categories``) and are listed read-only under ``kind=facility``."""
    if kind is None:
        return CategoryKind.proposal
    try:
        return CategoryKind(kind)
    except ValueError:
        raise AppError(
            422,
            "unknown_category_kind",
            Message(
                f"不支持的分类类型：{kind[:32]}（可选 proposal、facility）",
                f"Unknown category kind: {kind[:32]} (one of 'proposal', 'facility')",
            ),
            errors=[{"field": "kind", "message": "unknown category kind"}],
        ) from None


def writable_kind(kind: str | None) -> None:
    """Only suggestion categories are edited here: facility categories carry walking tiers
    and map tags, and come with the facilities data (``lifecircle facilities import``)."""
    if parse_kind(kind) == CategoryKind.facility:
        raise AppError(
            422,
            "category_kind_read_only",
            Message(
                "设施分类随设施数据导入维护，此处只读",
                "Facility categories come with the facilities data and are read-only here",
            ),
            errors=[{"field": "kind", "message": "read-only category kind"}],
        )


# The facilities table names the five goals in Chinese; this API uses the group codes.
FACILITY_GROUPS = {
    "宜居": CategoryGroup.livable,
    "宜业": CategoryGroup.work,
    "宜游": CategoryGroup.leisure,
    "宜学": CategoryGroup.learning,
    "宜养": CategoryGroup.care,
}


def facility_out(category: FacilityCategory, english: bool) -> CategoryAdminOut:
    group = FACILITY_GROUPS.get(category.group)
    return CategoryAdminOut(
        kind=CategoryKind.facility,
        code=category.code,
        name=category.name_en if english else category.name_zh,
        name_zh=category.name_zh,
        name_en=category.name_en,
        group=group.value if group is not None else category.group,
        sort_order=category.sort_order,
        retired=False,
        retired_at=None,
        tier_minutes=category.tier_minutes,
    )


def to_out(category: ProposalCategory, english: bool) -> CategoryAdminOut:
    return CategoryAdminOut(
        kind=CategoryKind.proposal,
        code=category.code,
        name=category.name_en if english else category.name_zh,
        name_zh=category.name_zh,
        name_en=category.name_en,
        group=category.group,
        sort_order=category.sort_order,
        retired=category.retired_at is not None,
        retired_at=category.retired_at,
    )


async def list_categories(
    session: AsyncSession, kind: str | None, *, include_retired: bool, english: bool
) -> list[CategoryAdminOut]:
    if parse_kind(kind) == CategoryKind.facility:
        return [facility_out(c, english) for c in await facilities.list_categories(session)]
    rows = await repository.list_all(session, include_retired=include_retired)
    return [to_out(c, english) for c in rows]


def category_retired(code: str, field: str = "category") -> AppError:
    return AppError(
        422,
        "category_retired",
        Message(
            f"分类“{code}”已停用，请选择其他分类",
            f"The category '{code}' is retired; choose another one",
        ),
        errors=[{"field": field, "message": "retired category"}],
    )


async def require_usable(session: AsyncSession, code: str, field: str = "category") -> None:
    """For new suggestions and projects: unknown → 422 ``validation_failed``, retired → 422
    ``category_retired``."""
    exists, retired_at = await repository.retired_at(session, code)
    if not exists:
        raise validation_failed([{"field": field, "message": "unknown category"}])
    if retired_at is not None:
        raise category_retired(code, field)


async def _publish(
    session: AsyncSession, principal: Principal, action: str, category: ProposalCategory
) -> None:
    payload = {
        "kind": CategoryKind.proposal.value,
        "code": category.code,
        "name_zh": category.name_zh,
        "name_en": category.name_en,
        "group": category.group,
        "retired": category.retired_at is not None,
    }
    await audit.record(
        session, principal, f"category.{action}", "category", category.code, details=payload
    )
    await outbox.enqueue(session, "category.changed", f"category:proposal:{category.code}", payload)


async def create(
    session: AsyncSession, principal: Principal, data: CategoryIn, *, english: bool
) -> CategoryAdminOut:
    require_roles(principal, Role.admin)
    writable_kind(data.kind)
    category = await repository.insert_new(
        session,
        {
            "code": data.code,
            "name_zh": data.name_zh,
            "name_en": data.name_en,
            "group": data.group.value,
            "sort_order": data.sort_order,
        },
    )
    if category is None:
        raise conflict(
            "category_exists",
            f"分类代码“{data.code}”已存在（含已停用的分类）",
            f"The category code '{data.code}' exists (retired ones included)",
        )
    await _publish(session, principal, "create", category)
    return to_out(category, english)


async def update(
    session: AsyncSession,
    principal: Principal,
    code: str,
    kind: str | None,
    data: CategoryPatch,
    *,
    english: bool,
) -> CategoryAdminOut:
    require_roles(principal, Role.admin)
    writable_kind(kind)
    category = await repository.get_for_update(session, code)
    if category is None:
        raise not_found("分类", "Category")
    before = to_out(category, english)
    fields = data.model_fields_set
    if "name_zh" in fields and data.name_zh is not None:
        category.name_zh = data.name_zh
    if "name_en" in fields and data.name_en is not None:
        category.name_en = data.name_en
    if "group" in fields and data.group is not None:
        category.group = data.group.value
    if "sort_order" in fields and data.sort_order is not None:
        category.sort_order = data.sort_order
    action = "update"
    if "retired" in fields:
        if data.retired and category.retired_at is None:
            category.retired_at = await session.scalar(repository.now_select())
            action = "retire"
        elif data.retired is False and category.retired_at is not None:
            category.retired_at = None
            action = "restore"
    if to_out(category, english) == before:
        return before  # nothing changed: nothing to audit or tell the portal
    await session.flush()
    await _publish(session, principal, action, category)
    return to_out(category, english)
