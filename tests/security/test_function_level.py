"""Function-level authorisation: a role × endpoint matrix over the app's own route table.

Every route of the app is in ``FUNCTIONS``, classified as
- ``Open``: anyone may call it (health, sign-in, public directories, signed webhooks);
- ``Resident``: what a signed-in resident is meant to do (the explicit allow-list);
- ``Staff``: it changes something or reads staff data. A verified resident of the SAME
  community as the target, an unverified one, and an anonymous caller must all be refused
  (401 anonymous; 403/404 signed in);
- ``Admin``: city-wide administration. On top of residents, the target community's own
  committee, its street staff and its planner are refused too.

A route missing from the table, or a row whose route is gone, fails the test, so a new staff
route cannot land without someone deciding who may call it. Bodies are valid, so that the
answer is about the caller's role, not about bad input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.system import OutboxItem
from src.models.user import Role
from tests.builders import login, make_user, unique_code
from tests.events.helpers import create_event, times
from tests.projects.helpers import create_project
from tests.proposals.helpers import make_world, submit
from tests.security.test_route_scope import _PARAM, RATING_SCORES, ROUTES, Scoped


@dataclass(frozen=True)
class Open:
    reason: str


@dataclass(frozen=True)
class Resident:
    reason: str


@dataclass(frozen=True)
class Staff:
    target: str | None = None  # what fills the path parameters (see ``targets`` below)
    body: dict[str, Any] | None = None
    query: dict[str, str] | None = None
    admin_only: bool = field(default=False)


def Admin(target: str | None = None, body: dict[str, Any] | None = None) -> Staff:
    return Staff(target, body, admin_only=True)


def _scoped(method: str, path: str, *, admin_only: bool = False) -> Staff:
    """The same target and body the object-level test uses for this route."""
    rule = ROUTES[(method, path)]
    assert isinstance(rule, Scoped)
    return Staff(rule.target, rule.body, rule.query, admin_only=admin_only)


E = "/api/v1/events/{event_id:uuid}"
R = "/api/v1/events/{event_id:uuid}/ratings"
A = "/api/v1/areas/{area_id:uuid}"
P = "/api/v1/proposals/{proposal_id:uuid}"
J = "/api/v1/projects/{project_id:uuid}"
N = "/api/v1/needs/{need_id:uuid}"

FUNCTIONS: dict[tuple[str, str], Open | Resident | Staff] = {
    # Operations and sign-in.
    ("GET", "/health"): Open("liveness probe"),
    ("GET", "/ready"): Open("readiness probe"),
    ("GET", "/metrics"): Open("Prometheus scrape; guarded by metrics_token when set"),
    ("POST", "/api/v1/auth/dev-login"): Open("sign-in (dev and test only)"),
    ("POST", "/api/v1/auth/wechat"): Open("sign-in"),
    ("POST", "/api/v1/auth/portal"): Open("sign-in"),
    ("POST", "/api/v1/auth/refresh"): Open("the refresh token is the credential"),
    ("POST", "/api/v1/auth/logout"): Resident("end my own session"),
    ("POST", "/api/v1/integrations/portal/webhook"): Open("HMAC-signed by the portal"),
    # Public directories.
    ("GET", "/api/v1/areas"): Open("area directory"),
    ("GET", "/api/v1/areas/{area_id:uuid}"): Open("area directory"),
    ("GET", "/api/v1/categories"): Open("category directory"),
    ("GET", "/api/v1/proposals/categories"): Open("category directory"),
    ("GET", "/api/v1/facilities/categories"): Open("public places"),
    ("GET", "/api/v1/facilities/nearby"): Open("public places"),
    ("GET", "/api/v1/facilities/straight-line"): Open("public places"),
    ("GET", "/api/v1/facilities/{facility_id:uuid}"): Open("public places"),
    ("GET", "/api/v1/uploads/{upload_id:uuid}"): Open("images by unguessable id"),
    ("GET", "/events/{event_id:uuid}/live"): Open("static page; data read with a token"),
    # What residents do.
    ("GET", "/api/v1/me"): Resident("my profile"),
    ("GET", "/api/v1/me/proposals"): Resident("my suggestions"),
    ("GET", "/api/v1/me/notifications"): Resident("my notifications"),
    ("POST", "/api/v1/me/notifications/read"): Resident("my notifications"),
    ("POST", "/api/v1/uploads"): Resident("photos for suggestions and ratings"),
    ("GET", "/api/v1/proposals"): Resident("suggestions of my community"),
    ("POST", "/api/v1/proposals"): Resident("submit a suggestion"),
    ("GET", "/api/v1/proposals/stats"): Resident("public counts"),
    ("GET", P): Resident("read a suggestion"),
    ("PUT", P + "/support"): Resident("support a suggestion"),
    ("DELETE", P + "/support"): Resident("withdraw my support"),
    ("GET", "/api/v1/projects"): Resident("projects of my community"),
    ("GET", J): Resident("read a project"),
    ("GET", J + "/progress"): Resident("read a project's progress"),
    ("GET", J + "/satisfaction"): Resident("public satisfaction"),
    ("GET", A + "/satisfaction"): Resident("public satisfaction"),
    ("GET", A + "/needs"): Resident("the needs list of my community"),
    ("GET", N): Resident("a need of my community"),
    ("GET", "/api/v1/events"): Resident("meetings of my community"),
    ("GET", E): Resident("read a meeting"),
    ("POST", E + "/check-ins"): Resident("check in at the venue"),
    ("POST", E + "/ballots"): Resident("vote"),
    ("GET", E + "/ballots/mine"): Resident("my ballot"),
    ("GET", E + "/results"): Resident("results, per the meeting's visibility"),
    ("GET", E + "/results/stream"): Resident("live results, per the meeting's visibility"),
    ("GET", E + "/receipts"): Resident("after close, anyone may verify the receipts"),
    ("POST", R): Resident("rate a project"),
    ("GET", R + "/mine"): Resident("my rating"),
    ("PUT", R + "/mine"): Resident("change my rating"),
    ("GET", R + "/summary"): Resident("public summary"),
    ("GET", R + "/criteria"): Resident("what I rate"),
    ("GET", R + "/comments"): Resident("moderated comments"),
    # Staff actions (committee, street, planner of the area).
    ("POST", P + "/replies"): _scoped("POST", P + "/replies"),
    ("POST", P + "/transitions"): _scoped("POST", P + "/transitions"),
    ("POST", "/api/v1/projects"): Staff(body={"project": True}),
    ("PATCH", J): _scoped("PATCH", J),
    ("POST", J + "/progress"): _scoped("POST", J + "/progress"),
    ("POST", "/api/v1/events"): Staff(body={"event": True}),
    ("POST", E + "/open"): _scoped("POST", E + "/open"),
    ("POST", E + "/close"): _scoped("POST", E + "/close"),
    ("POST", E + "/cancel"): _scoped("POST", E + "/cancel"),
    ("POST", E + "/options"): _scoped("POST", E + "/options"),
    ("GET", E + "/check-in-code"): _scoped("GET", E + "/check-in-code"),
    ("GET", E + "/check-in-code.png"): _scoped("GET", E + "/check-in-code.png"),
    ("POST", E + "/paper-counts"): _scoped("POST", E + "/paper-counts"),
    ("PUT", R + "/criteria"): _scoped("PUT", R + "/criteria"),
    ("POST", R + "/paper-counts"): _scoped("POST", R + "/paper-counts"),
    ("POST", R + "/{rating_id:uuid}/hide"): _scoped("POST", R + "/{rating_id:uuid}/hide"),
    ("POST", R + "/{rating_id:uuid}/restore"): _scoped("POST", R + "/{rating_id:uuid}/restore"),
    ("POST", R + "/{rating_id:uuid}/proposal"): _scoped("POST", R + "/{rating_id:uuid}/proposal"),
    ("GET", A + "/staff"): _scoped("GET", A + "/staff"),
    ("POST", A + "/staff"): _scoped("POST", A + "/staff"),
    ("DELETE", A + "/staff/{user_id:uuid}"): _scoped("DELETE", A + "/staff/{user_id:uuid}"),
    ("GET", A + "/residents"): _scoped("GET", A + "/residents"),
    ("GET", A + "/coverage"): _scoped("GET", A + "/coverage"),
    ("GET", A + "/project-stats"): _scoped("GET", A + "/project-stats"),
    ("POST", "/api/v1/needs"): Staff(body={"need": True}),
    ("PATCH", N): _scoped("PATCH", N),
    ("POST", N + "/projects"): _scoped("POST", N + "/projects"),
    ("GET", "/api/v1/exports/project-list"): Staff(),
    ("GET", "/api/v1/exports"): Staff(),
    ("GET", "/api/v1/exports/proposals"): Staff(query={"community": "a"}),
    ("GET", "/api/v1/exports/ratings"): Staff(query={"review": "a"}),
    ("GET", "/api/v1/exports/events/{event_id:uuid}/results"): _scoped(
        "GET", "/api/v1/exports/events/{event_id:uuid}/results"
    ),
    # City-wide administration.
    ("POST", "/api/v1/areas"): Admin(body={"area": True}),
    ("PATCH", A): _scoped("PATCH", A, admin_only=True),
    ("PATCH", "/api/v1/users/{user_id:uuid}"): _scoped(
        "PATCH", "/api/v1/users/{user_id:uuid}", admin_only=True
    ),
    ("POST", "/api/v1/categories"): Admin(body={"category": True}),
    ("PATCH", "/api/v1/categories/{code:str}"): _scoped(
        "PATCH", "/api/v1/categories/{code:str}", admin_only=True
    ),
    ("GET", "/api/v1/integrations/portal/outbox"): Admin(),
    ("GET", "/api/v1/integrations/portal/metrics"): Admin(),
    ("POST", "/api/v1/integrations/portal/outbox/{item_id:int}/retry"): _scoped(
        "POST", "/api/v1/integrations/portal/outbox/{item_id:int}/retry", admin_only=True
    ),
}


def app_routes(app: Litestar) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        if route.path == "/schema" or route.path.startswith("/schema/"):
            continue  # the API documentation
        for method in getattr(route, "methods", ()):
            if method not in ("HEAD", "OPTIONS"):
                found.add((method, route.path))
    return found


def test_every_route_is_classified(app: Litestar) -> None:
    present = app_routes(app)
    missing = sorted(present - FUNCTIONS.keys())
    assert not missing, f"classify these routes in FUNCTIONS in {__file__}: {missing}"
    stale = sorted(FUNCTIONS.keys() - present)
    assert not stale, f"these FUNCTIONS rows name routes that no longer exist: {stale}"


def _bodies(w: Any, category: str) -> dict[str, dict[str, Any]]:
    starts_at, ends_at = times()
    return {
        "project": {
            "title": "越权项目",
            "description": "居民不能立项",
            "community_id": str(w.a.id),
            "category": "public_space",
            "budget_source": "区级财政",
            "responsible_unit": "街道管理办",
        },
        "need": {
            "title": "越权需求",
            "category": "public_space",
            "community_id": str(w.a.id),
            "year": 2026,
        },
        "event": {
            "kind": "coordination",
            "title": "越权会议",
            "community_id": str(w.a.id),
            "starts_at": starts_at,
            "ends_at": ends_at,
            "venue": "居委会二楼会议室",
        },
        "area": {
            "code": unique_code("N"),
            "name": "越权新建",
            "level": "community",
            "parent_id": str(w.street.id),
            "centroid": {"lat": 31.25, "lng": 121.42, "coord_sys": "gcj02"},
        },
        "category": {
            "code": category,
            "name_zh": "越权分类",
            "name_en": "Forbidden",
            "group": "care",
        },
    }


async def test_residents_and_lower_roles_never_reach_staff_or_admin_actions(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], app: Litestar
) -> None:
    w = await make_world(db, client)
    admin = await login(client, await make_user(db, role=Role.admin, city_admin=True))
    category = unique_code("fn").lower()
    made = await client.post(
        "/api/v1/categories",
        json={"code": category, "name_zh": "测试分类", "name_en": "Test", "group": "care"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    proposal = await submit(client, w.h["resident"], title="本社区的建议")
    project = await create_project(client, w.h["committee"], w.a, title="本社区的项目")
    async with db() as session:
        outbox_item = await session.scalar(
            select(func.min(OutboxItem.id)).where(
                OutboxItem.ordering_key == f"proposal:{proposal['id']}"
            )
        )
    assert outbox_item is not None
    event = await create_event(
        client, w.h["committee"], w.a, options=["方案一", "方案二"], open_it=True
    )
    review = await create_event(
        client, w.h["committee"], w.a, kind="review", project_id=project["id"], open_it=True
    )
    rated = await client.post(
        f"/api/v1/events/{review['id']}/ratings",
        json={"scores": RATING_SCORES, "comment": "本社区的评价"},
        headers=w.h["neighbour"],
    )
    assert rated.status_code == 201, rated.text
    need = await client.post(
        "/api/v1/needs",
        json={
            "title": "本社区的需求",
            "category": "public_space",
            "community_id": str(w.a.id),
            "year": 2026,
        },
        headers=w.h["committee"],
    )
    assert need.status_code == 201, need.text
    targets: dict[str, list[str]] = {
        "need": [need.json()["id"]],
        "proposal": [proposal["id"]],
        "project": [project["id"]],
        "category": [category],
        "area": [str(w.a.id)],
        "area_member": [str(w.a.id), str(w.committee.id)],
        "user": [str(w.resident.id)],  # a resident moving their own home is staff work
        "outbox_item": [str(outbox_item)],
        "event": [event["id"]],
        "review": [review["id"]],
        "rating": [review["id"], rated.json()["id"]],
    }
    bodies = _bodies(w, unique_code("fx").lower())
    unverified = await login(client, await make_user(db, community=w.a, verified=False))
    residents = {
        "verified resident of the same community": w.h["resident"],
        "unverified resident of the same community": unverified,
    }
    lower_staff = {
        "committee of the community": w.h["committee"],
        "street staff of its street": w.h["street_staff"],
        "planner of its street": w.h["planner"],
    }

    failures = []
    for (method, path), rule in sorted(FUNCTIONS.items()):
        if (method, path) not in app_routes(app) or isinstance(rule, Open):
            continue
        url = path
        body: dict[str, Any] | None = None
        query: dict[str, str] | None = None
        if isinstance(rule, Staff):
            for value in targets[rule.target] if rule.target else []:
                url = _PARAM.sub(value, url, count=1)
            body = rule.body
            if body and set(body) <= set(bodies) and len(body) == 1:
                body = bodies[next(iter(body))]
            query = rule.query
            if query == {"community": "a"}:
                query = {"community_id": str(w.a.id)}
            elif query == {"review": "a"}:
                query = {"event_id": targets["review"][0]}
        else:
            # A resident route still wants a signed-in caller; any id will do for that (and a
            # valid body: the ballot reads its body before the token).
            url = _PARAM.sub("0190a0a0-0000-7000-8000-000000000000", url)
            scoped = ROUTES.get((method, path))
            body = scoped.body if isinstance(scoped, Scoped) else None
        anonymous = await client.request(method, url, params=query, json=body)
        if anonymous.status_code != 401:
            failures.append(("anonymous", method, path, anonymous.status_code))
        if isinstance(rule, Resident):
            continue
        callers = {**residents, **(lower_staff if rule.admin_only else {})}
        for who, headers in callers.items():
            response = await client.request(method, url, params=query, json=body, headers=headers)
            if response.status_code not in (403, 404):
                failures.append((who, method, path, response.status_code, response.text[:160]))
    assert not failures, failures

    # Nothing changed: the suggestion, the meeting and the category are as they were.
    seen = await client.get(f"/api/v1/proposals/{proposal['id']}", headers=w.h["resident"])
    assert seen.json()["status"] == "submitted" and seen.json()["replies"] == []
    meeting = await client.get(f"/api/v1/events/{event['id']}", headers=w.h["resident"])
    assert meeting.json()["status"] == "open" and len(meeting.json()["options"]) == 2
    listed = await client.get("/api/v1/categories")
    codes = {c["code"]: c for c in listed.json()}
    assert codes[category]["name_zh"] == "测试分类" and bodies["category"]["code"] not in codes
    home = await client.get("/api/v1/me", headers=w.h["resident"])
    assert home.status_code == 200 and str(w.a.id) in home.text

    # The ceilings are not just closed doors: the city admin does pass them.
    for path in ("/api/v1/integrations/portal/outbox", "/api/v1/integrations/portal/metrics"):
        assert (await client.get(path, headers=admin)).status_code == 200
    created = await client.post("/api/v1/areas", json=bodies["area"], headers=admin)
    assert created.status_code == 201, created.text
