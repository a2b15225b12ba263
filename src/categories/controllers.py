from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from src.categories import service
from src.categories.schemas import CategoryAdminOut, CategoryIn, CategoryPatch
from src.core.deps import CurrentUser, DbSession
from src.core.errors import wants_english

KindParam = Annotated[
    str | None,
    QueryParameter(
        max_length=32,
        description="proposal (default) or facility (listed read-only; facility categories "
        "come with the facilities data).",
    ),
]


class CategoryController(Controller):
    path = "/api/v1/categories"
    tags = ["categories"]

    @get("/", summary="Categories of one kind (everyone)")
    async def list_categories(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        kind: KindParam = None,
        include_retired: FromQuery[bool] = False,
    ) -> list[CategoryAdminOut]:
        return await service.list_categories(
            db_session, kind, include_retired=include_retired, english=wants_english(request)
        )

    @post("/", summary="Add a category (admin)")
    async def create(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        principal: CurrentUser,
        data: JSONBody[CategoryIn],
    ) -> CategoryAdminOut:
        return await service.create(db_session, principal, data, english=wants_english(request))

    @patch("/{code:str}", summary="Rename, regroup, retire or restore a category (admin)")
    async def update(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        principal: CurrentUser,
        code: FromPath[str],
        data: JSONBody[CategoryPatch],
        kind: KindParam = None,
    ) -> CategoryAdminOut:
        return await service.update(
            db_session, principal, code, kind, data, english=wants_english(request)
        )
