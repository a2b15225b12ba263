from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.core.geo import CoordSys, convert
from src.models.area import Area
from src.models.system import AuditEntry
from src.models.user import Role
from tests.builders import login, make_user, unique_code
from tests.staff.helpers import Org, make_org, problem_code


@pytest.fixture
async def org(client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]) -> Org:
    return await make_org(db, client)


def square(lat: float, lng: float, d: float = 0.002) -> list[list[float]]:
    return [[lng, lat], [lng + d, lat], [lng + d, lat + d], [lng, lat + d], [lng, lat]]


def area_body(level: str, parent: object | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": unique_code("N"),
        "name": "新建区域",
        "level": level,
        "centroid": {"lat": 31.25, "lng": 121.42, "coord_sys": "gcj02"},
    }
    if parent is not None:
        body["parent_id"] = str(parent)
    body.update(extra)
    return body


async def test_create_areas_levels_codes_and_boundary(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], org: Org
) -> None:
    admin = org.h["admin"]
    boundary = {"type": "Polygon", "coordinates": [square(31.25, 121.42)]}
    body = area_body("street", org.district.id, boundary=boundary)
    created = await client.post("/api/v1/areas", json=body, headers=admin)
    assert created.status_code == 201, created.text
    street = created.json()
    assert street["level"] == "street" and street["parent_id"] == str(org.district.id)
    assert street["centroid"]["lat"] == pytest.approx(31.25, abs=1e-6)
    assert street["boundary"]["coordinates"][0][0] == pytest.approx([121.42, 31.25], abs=1e-6)
    # Stored in WGS-84: GCJ-02 input is shifted by a few hundred metres.
    async with db() as session:
        row = await session.get(Area, street["id"])
        assert row is not None and row.boundary is not None
    w_lat, w_lng = convert(31.25, 121.42, CoordSys.gcj02, CoordSys.wgs84)
    assert row.centroid_lat == pytest.approx(w_lat, abs=1e-6)
    assert row.boundary["coordinates"][0][0] == pytest.approx([w_lng, w_lat], abs=1e-6)
    assert row.boundary["coordinates"][0][0] == row.boundary["coordinates"][0][-1]
    assert row.path[-2:] == [org.district.id, row.id]
    # Shown back in any coordinate system.
    wgs = await client.get(f"/api/v1/areas/{street['id']}", params={"coord_sys": "wgs84"})
    assert wgs.json()["centroid"]["lat"] == pytest.approx(w_lat, abs=1e-6)

    community = await client.post(
        "/api/v1/areas", json=area_body("community", street["id"]), headers=admin
    )
    assert community.status_code == 201
    # A second area with the same code.
    taken = await client.post(
        "/api/v1/areas",
        json={**area_body("street", org.district.id), "code": body["code"]},
        headers=admin,
    )
    assert problem_code(taken) == (409, "area_code_taken")

    # Levels must fit: community → street → district.
    for level, parent in [
        ("community", org.district.id),
        ("street", org.street.id),
        ("street", None),
    ]:
        wrong = await client.post("/api/v1/areas", json=area_body(level, parent), headers=admin)
        assert problem_code(wrong) == (422, "parent_level_mismatch"), (level, wrong.text)

    # A district admin works inside their district; only a city admin creates districts.
    outside = await client.post(
        "/api/v1/areas", json=area_body("street", org.other_district.id), headers=admin
    )
    assert problem_code(outside) == (403, "area_forbidden")
    district = await client.post("/api/v1/areas", json=area_body("district", None), headers=admin)
    assert problem_code(district) == (403, "area_forbidden")
    by_street = await client.post(
        "/api/v1/areas", json=area_body("community", org.street.id), headers=org.h["street"]
    )
    assert problem_code(by_street) == (403, "role_required")
    resident = await client.post(
        "/api/v1/areas", json=area_body("district", None), headers=org.h["resident"]
    )
    assert problem_code(resident) == (403, "role_required")
    city_admin = await login(client, await make_user(db, role=Role.admin, city_admin=True))
    new_district = await client.post(
        "/api/v1/areas", json=area_body("district", None), headers=city_admin
    )
    assert new_district.status_code == 201 and new_district.json()["parent_id"] is None
    nested = await client.post(
        "/api/v1/areas", json=area_body("district", org.district.id), headers=city_admin
    )
    assert problem_code(nested) == (422, "parent_level_mismatch")

    async with db() as session:
        audits = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "area.create",
                    AuditEntry.object_id.in_([street["id"], community.json()["id"]]),
                )
            )
        ).all()
    assert len(audits) == 2


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"centroid": {"lat": 95, "lng": 121.4}}, "centroid"),
        ({"centroid": {"lat": 31.2, "lng": 121.4, "coord_sys": "mars"}}, "centroid"),
        ({"code": "has space"}, "code"),
        ({"code": ""}, "code"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"boundary": {"type": "Point", "coordinates": [121.4, 31.2]}}, "boundary.type"),
        (
            {"boundary": {"type": "Polygon", "coordinates": [square(31.2, 121.4)[:-1]]}},
            "boundary.coordinates[0]",
        ),
        (
            {
                "boundary": {
                    "type": "Polygon",
                    "coordinates": [[[121.4, 31.2], [121.5, 31.2], [121.4, 31.2]]],
                }
            },
            "boundary.coordinates[0]",
        ),
        (
            {
                "boundary": {
                    "type": "Polygon",
                    "coordinates": [[[200, 31.2], [121.5, 31.2], [121.5, 31.3], [200, 31.2]]],
                }
            },
            "boundary.coordinates[0][0]",
        ),
        (
            {
                "boundary": {
                    "type": "Polygon",
                    "coordinates": [[["a", 31.2], [121.5, 31.2], [121.5, 31.3], ["a", 31.2]]],
                }
            },
            "boundary.coordinates[0][0]",
        ),
        ({"boundary": {"type": "MultiPolygon", "coordinates": []}}, "boundary.coordinates"),
        ({"parent_id": "0190a0a0-0000-7000-8000-000000000000"}, "parent_id"),
        ({}, "body"),
    ],
)
async def test_patch_rejects_bad_fields(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    org: Org,
    patch: dict[str, Any],
    field: str,
) -> None:
    response = await client.patch(f"/api/v1/areas/{org.a.id}", json=patch, headers=org.h["admin"])
    assert problem_code(response) == (422, "validation_failed"), response.text
    fields = [e["field"] for e in response.json()["errors"]]
    assert any(f.startswith(field) for f in fields), fields


async def test_edit_retire_and_restore(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], org: Org
) -> None:
    admin = org.h["admin"]
    multi = {
        "type": "MultiPolygon",
        "coordinates": [[square(31.24, 121.41)], [square(31.26, 121.43)]],
    }
    renamed = await client.patch(
        f"/api/v1/areas/{org.a.id}",
        json={"name": "改名社区", "boundary": multi, "boundary_coord_sys": "wgs84"},
        headers=admin,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "改名社区"
    assert len(renamed.json()["boundary"]["coordinates"]) == 2
    cleared = await client.patch(
        f"/api/v1/areas/{org.a.id}", json={"boundary": None}, headers=admin
    )
    assert cleared.json()["boundary"] is None
    taken = await client.patch(
        f"/api/v1/areas/{org.a.id}", json={"code": org.b.code}, headers=admin
    )
    assert problem_code(taken) == (409, "area_code_taken")
    other = await client.patch(
        f"/api/v1/areas/{org.a.id}", json={"name": "越权"}, headers=org.h["other_admin"]
    )
    assert problem_code(other) == (403, "area_forbidden")
    by_street = await client.patch(
        f"/api/v1/areas/{org.a.id}", json={"name": "越权"}, headers=org.h["street"]
    )
    assert problem_code(by_street) == (403, "role_required")

    # A street with active communities is not retired; its communities first.
    busy = await client.patch(
        f"/api/v1/areas/{org.street.id}", json={"retired": True}, headers=admin
    )
    assert problem_code(busy) == (409, "area_has_active_children")
    retired = await client.patch(f"/api/v1/areas/{org.b.id}", json={"retired": True}, headers=admin)
    assert retired.status_code == 200
    assert retired.json()["retired"] is True and retired.json()["retired_at"]
    # A retired area takes no new roles, no edits, and stays readable.
    newcomer = await make_user(db)
    no_grant = await client.post(
        f"/api/v1/areas/{org.b.id}/staff",
        json={"user_id": str(newcomer.id), "role": "committee"},
        headers=admin,
    )
    assert problem_code(no_grant) == (409, "area_retired")
    no_edit = await client.patch(f"/api/v1/areas/{org.b.id}", json={"name": "x"}, headers=admin)
    assert problem_code(no_edit) == (409, "area_retired")
    assert (await client.get(f"/api/v1/areas/{org.b.id}")).json()["retired"] is True
    # Retire the other community too, then the street; nothing can be added under it.
    assert (
        await client.patch(f"/api/v1/areas/{org.a.id}", json={"retired": True}, headers=admin)
    ).status_code == 200
    assert (
        await client.patch(f"/api/v1/areas/{org.street.id}", json={"retired": True}, headers=admin)
    ).status_code == 200
    child = await client.post(
        "/api/v1/areas", json=area_body("community", org.street.id), headers=admin
    )
    assert problem_code(child) == (409, "area_retired")
    # A community comes back only after its street does.
    early = await client.patch(f"/api/v1/areas/{org.b.id}", json={"retired": False}, headers=admin)
    assert problem_code(early) == (409, "area_retired")
    for area in (org.street, org.b):
        back = await client.patch(
            f"/api/v1/areas/{area.id}", json={"retired": False}, headers=admin
        )
        assert back.status_code == 200 and back.json()["retired_at"] is None
    # Nothing was deleted; every change was audited.
    async with db() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.area_id.in_([org.a.id, org.b.id, org.street.id]))
                .where(AuditEntry.action.like("area.%"))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == [
        "area.update",
        "area.update",
        "area.retire",
        "area.retire",
        "area.retire",
        "area.restore",
        "area.restore",
    ]
