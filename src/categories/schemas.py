from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field, model_validator

from src.core.schemas import RequestModel, ResponseModel

CODE_PATTERN = r"^[a-z][a-z0-9_]{1,31}$"


class CategoryKind(StrEnum):
    """Which list a category belongs to. ``facility`` categories live in the facilities
    domain's own table and are listed here read-only."""

    proposal = "proposal"
    facility = "facility"


class CategoryGroup(StrEnum):
    """The five goals of the life circle: 宜居 宜业 宜游 宜学 宜养."""

    livable = "livable"
    work = "work"
    leisure = "leisure"
    learning = "learning"
    care = "care"


class CategoryIn(RequestModel):
    kind: str = Field(default=CategoryKind.proposal.value, max_length=32)
    code: str = Field(pattern=CODE_PATTERN, description="lower-case letters, digits, _")
    name_zh: str = Field(min_length=1, max_length=50)
    name_en: str = Field(min_length=1, max_length=80)
    group: CategoryGroup
    sort_order: int = Field(default=0, ge=0, le=10_000)


class CategoryPatch(RequestModel):
    """Rename, regroup, reorder, retire (``retired: true``) or restore (``retired: false``)."""

    name_zh: str | None = Field(default=None, min_length=1, max_length=50)
    name_en: str | None = Field(default=None, min_length=1, max_length=80)
    group: CategoryGroup | None = None
    sort_order: int | None = Field(default=None, ge=0, le=10_000)
    retired: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> CategoryPatch:
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self


class CategoryAdminOut(ResponseModel):
    kind: CategoryKind
    code: str
    name: str  # in the caller's language
    name_zh: str
    name_en: str
    group: str
    sort_order: int
    retired: bool
    retired_at: dt.datetime | None
    tier_minutes: int | None = Field(
        default=None, description="facility categories: the walking time of their tier"
    )
