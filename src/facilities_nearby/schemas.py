from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from src.core.geo import CoordSys
from src.core.schemas import ResponseModel


class CategoryOut(ResponseModel):
    code: str
    name: str
    name_en: str
    group: str = Field(description="宜居 宜业 宜游 宜学 宜养")
    tier_minutes: int


class NearbyItem(ResponseModel):
    id: str
    name: str
    category: str
    walk_minutes: float
    distance_m: float = Field(description="metres along the street network (or estimated)")
    lat: float
    lng: float
    address: str | None
    estimated: bool = Field(
        description="true when this facility is off the network: straight line × detour factor"
    )
    # 好差评 (src/facility_reviews), on /nearby only.
    reviews: int = Field(default=0, description="好差评 reviews of the facility (/nearby)")
    good_share: float | None = Field(
        default=None, description="share of good reviews; null without reviews (/nearby)"
    )


class NearbyOut(ResponseModel):
    method: Literal["network", "estimate", "straight_line"] = Field(
        description="network: along streets; estimate: straight line × detour factor (no "
        "street near the position); straight_line: crow-fly (only from /straight-line)"
    )
    coord_sys: CoordSys
    profile: Literal["default", "elderly"]
    speed_mps: float
    snap_m: float | None = Field(
        description="straight-line metres from the position to the walking network, where the "
        "walk starts (null for estimate and straight_line); the network is the part connected "
        "to the rest of the city, never an isolated fragment"
    )
    items: list[NearbyItem]


class FacilityOut(ResponseModel):
    id: str
    name: str
    category: str
    lat: float
    lng: float
    coord_sys: CoordSys
    address: str | None
    source: str


class CategoryCoverage(ResponseModel):
    code: str
    name: str
    group: str
    tier_minutes: int
    facilities: int = Field(description="facilities of this category the walk can reach")
    covered_share: float = Field(description="share of the grid points within the tier's walk")
    uncovered: dict[str, Any] = Field(description="GeoJSON MultiPoint of the uncovered points")


class CoverageOut(ResponseModel):
    area_id: str
    coord_sys: CoordSys
    profile: Literal["default", "elderly"]
    basis: Literal["boundary", "radius"]
    cell_m: float
    points: int
    method: Literal["network", "estimate"]
    categories: list[CategoryCoverage]
