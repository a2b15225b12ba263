"""Every administration route, read from the app's route table, refuses anonymous callers
(401) and plain residents (403) — a route added later without a guard fails here."""

from __future__ import annotations

import re

import httpx
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.staff.helpers import make_org

ADMIN_PATHS = re.compile(r"^/api/v1/(areas/\{area_id(:uuid)?\}/(staff|residents)|users/)")
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


def admin_routes(app: Litestar) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        for method in getattr(route, "methods", set()):
            if method in ("HEAD", "OPTIONS"):
                continue
            is_area_write = route.path.startswith("/api/v1/areas") and method in WRITE_METHODS
            if ADMIN_PATHS.match(route.path) or is_area_write:
                found.append((method, route.path))
    return sorted(found)


async def test_every_admin_route_needs_a_staff_role(
    app: Litestar, client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    org = await make_org(db, client)
    routes = admin_routes(app)
    # The table holds what this suite means to cover (and grows with the API).
    assert {
        ("GET", "/api/v1/areas/{area_id:uuid}/staff"),
        ("POST", "/api/v1/areas/{area_id:uuid}/staff"),
        ("DELETE", "/api/v1/areas/{area_id:uuid}/staff/{user_id:uuid}"),
        ("GET", "/api/v1/areas/{area_id:uuid}/residents"),
        ("POST", "/api/v1/areas"),
        ("PATCH", "/api/v1/areas/{area_id:uuid}"),
        ("PATCH", "/api/v1/users/{user_id:uuid}"),
    } <= set(routes)
    values = {
        "area_id": str(org.a.id),
        "user_id": str(org.people["committee"].id),
        "period": "2026-11",
    }
    bodies = {
        "/api/v1/areas": {
            "code": "RT1",
            "name": "路由表",
            "level": "community",
            "parent_id": str(org.street.id),
            "centroid": {"lat": 31.2, "lng": 121.4},
        },
        "/api/v1/areas/{area_id:uuid}": {"name": "路由表"},
        "/api/v1/areas/{area_id:uuid}/staff": {
            "user_id": str(org.people["resident"].id),
            "role": "committee",
        },
        "/api/v1/users/{user_id:uuid}": {"home_community_id": str(org.b.id), "reason": "测试"},
        "/api/v1/areas/{area_id:uuid}/reports": {
            "period": "2026-11",
            "progress": "路由表",
            "problems": "路由表",
        },
        "/api/v1/areas/{area_id:uuid}/reports/{period:str}": {
            "progress": "路由表",
            "problems": "路由表",
        },
    }
    for method, path in routes:
        url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values[m.group(1)], path)
        params = {"role": "committee"} if method == "DELETE" else None
        body = bodies.get(path) if method in WRITE_METHODS - {"DELETE"} else None
        anonymous = await client.request(method, url, params=params, json=body)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        resident = await client.request(
            method, url, params=params, json=body, headers=org.h["resident"]
        )
        assert resident.status_code == 403, (method, path, resident.text)
        assert resident.json()["code"] in ("role_required", "area_forbidden")
        outsider = await client.request(
            method, url, params=params, json=body, headers=org.h["other_admin"]
        )
        assert outsider.status_code == 403, (method, path, outsider.text)
