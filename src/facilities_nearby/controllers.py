from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, MediaType, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, QueryParameter

from src.core.deps import CurrentUser, DbSession
from src.core.geo import CoordSys
from src.facilities_nearby import service
from src.facilities_nearby.schemas import CategoryOut, CoverageOut, FacilityOut, NearbyOut
from src.facility_reviews.service import attach_good_shares

# The nearby replies are encoded straight from dicts (the hot path); documented as NearbyOut.
_NEARBY_DOC = {200: ResponseSpec(data_container=NearbyOut, description="Facilities in reach")}


def _json(body: dict[str, Any]) -> Response[bytes]:
    return Response(msgspec.json.encode(body), media_type=MediaType.JSON)


class FacilityController(Controller):
    path = "/api/v1/facilities"
    tags = ["facilities"]

    @get("/categories", summary="Facility categories with their walking tier")
    async def categories(self, db_session: DbSession) -> list[CategoryOut]:
        return await service.list_categories(db_session)

    @get(
        "/nearby",
        responses=_NEARBY_DOC,
        summary="Facilities within a walk along the street network",
        description=(
            "Sorted by walking time. The position is used for this answer only: never stored "
            "or logged. `minutes` defaults to each category's tier."
        ),
    )
    async def nearby(
        self,
        state: State,
        db_session: DbSession,
        lat: Annotated[float, QueryParameter(ge=-90, le=90)],
        lng: Annotated[float, QueryParameter(ge=-180, le=180)],
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
        minutes: Annotated[int | None, QueryParameter(ge=1, le=60)] = None,
        category: FromQuery[str | None] = None,
        profile: FromQuery[Literal["default", "elderly"]] = "default",
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> Response[bytes]:
        # The walk comes from this worker's in-memory graph; the database is asked once, for
        # the good-review shares of the facilities found (src/facility_reviews).
        body = service.nearby(
            state.facilities,
            lat=lat,
            lng=lng,
            coord_sys=coord_sys,
            minutes=minutes,
            category=category,
            profile=profile,
            limit=limit,
        )
        await attach_good_shares(db_session, body["items"])
        return _json(body)

    @get(
        "/straight-line",
        responses=_NEARBY_DOC,
        summary="Facilities by straight-line distance (the map circle), for comparison",
        description=(
            "Same parameters and reply as /nearby, but distances are crow-fly: what a radius "
            "on a map would say. `walk_minutes` is that distance at the profile's speed."
        ),
    )
    async def straight_line(
        self,
        state: State,
        lat: Annotated[float, QueryParameter(ge=-90, le=90)],
        lng: Annotated[float, QueryParameter(ge=-180, le=180)],
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
        minutes: Annotated[int | None, QueryParameter(ge=1, le=60)] = None,
        category: FromQuery[str | None] = None,
        profile: FromQuery[Literal["default", "elderly"]] = "default",
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> Response[bytes]:
        return _json(
            service.nearby(
                state.facilities,
                lat=lat,
                lng=lng,
                coord_sys=coord_sys,
                minutes=minutes,
                category=category,
                profile=profile,
                limit=limit,
                crow_fly=True,
            )
        )

    @get("/{facility_id:uuid}", summary="One facility")
    async def get_facility(
        self,
        db_session: DbSession,
        facility_id: FromPath[uuid.UUID],
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
    ) -> FacilityOut:
        return await service.get_facility(db_session, facility_id, coord_sys)


class CoverageController(Controller):
    path = "/api/v1/areas"
    tags = ["facilities"]

    @get(
        "/{area_id:uuid}/coverage",
        summary="Share of a community within each category's walking tier, and the gaps",
        description=(
            "A grid of points every `coverage_cell_m` over the community's boundary (GeoJSON "
            "Polygon or MultiPolygon in WGS-84), or a disc around its centroid without one. "
            "Staff of the community or above (committee, street, planner, admin)."
        ),
    )
    async def coverage(
        self,
        state: State,
        db_session: DbSession,
        principal: CurrentUser,
        area_id: FromPath[uuid.UUID],
        coord_sys: FromQuery[CoordSys] = CoordSys.gcj02,
        profile: FromQuery[Literal["default", "elderly"]] = "default",
    ) -> CoverageOut:
        return await service.area_coverage(
            db_session,
            state.facilities,
            principal,
            area_id,
            coord_sys=coord_sys,
            profile=profile,
        )
