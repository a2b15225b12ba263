from __future__ import annotations

import uuid

from litestar import Controller, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from src.areas import service
from src.areas.schemas import AreaDetailOut, AreaIn, AreaOut, AreaPatch
from src.core.deps import CurrentUser, DbSession
from src.core.geo import CoordSys
from src.core.pagination import DEFAULT_LIMIT, Limit, Page
from src.models.area import AreaLevel


class AreaController(Controller):
    path = "/api/v1/areas"
    tags = ["areas"]

    @get("/", summary="List areas (districts, streets, communities)")
    async def list_areas(
        self,
        db_session: DbSession,
        level: FromQuery[AreaLevel | None] = None,
        parent_id: FromQuery[uuid.UUID | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
    ) -> Page[AreaOut]:
        areas, next_cursor = await service.list_areas(
            db_session, level=level, parent_id=parent_id, cursor=cursor, limit=limit
        )
        return Page(items=[AreaOut.build(a, coord_sys) for a in areas], next_cursor=next_cursor)

    @get("/{area_id:uuid}", summary="One area")
    async def get_area(
        self,
        db_session: DbSession,
        area_id: FromPath[uuid.UUID],
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
    ) -> AreaOut:
        return AreaOut.build(await service.get_area(db_session, area_id), coord_sys)

    @post("/", summary="Create a district, street or community (admin)")
    async def create_area(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        data: JSONBody[AreaIn],
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
    ) -> AreaDetailOut:
        area = await service.create_area_as(db_session, principal, data)
        return AreaDetailOut.build(area, coord_sys)

    @patch("/{area_id:uuid}", summary="Rename, move the centroid, set the boundary, retire (admin)")
    async def update_area(
        self,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        data: JSONBody[AreaPatch],
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
    ) -> AreaDetailOut:
        area = await service.update_area_as(db_session, principal, area_id, data)
        return AreaDetailOut.build(area, coord_sys)
