from __future__ import annotations

import uuid

from src.core.geo import CoordSys, Location
from src.core.schemas import ResponseModel
from src.models.area import Area, AreaLevel


class AreaOut(ResponseModel):
    id: uuid.UUID
    code: str
    name: str
    level: AreaLevel
    parent_id: uuid.UUID | None
    centroid: Location
    retired: bool

    @classmethod
    def build(cls, area: Area, coord_sys: CoordSys) -> AreaOut:
        return cls(
            id=area.id,
            code=area.code,
            name=area.name,
            level=area.level,
            parent_id=area.parent_id,
            centroid=Location.from_wgs84(area.centroid_lat, area.centroid_lng, coord_sys),
            retired=area.retired,
        )
