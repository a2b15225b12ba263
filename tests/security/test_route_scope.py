"""Every route that takes an id in its path, called by people of ANOTHER area.

The routes come from the app's own route table, so a new route cannot slip through: each
must appear in ``ROUTES`` below, either with how to make a target for it (and a valid body,
so that the answer is about scope, not about bad input) or as ``Public`` with the reason
its objects are not area-scoped. A route missing from the table fails the test, and so
does a table row whose route is gone.

Callers: a resident, a committee member, street staff and a planner of another street, and
a committee member of a sibling community in the target's own street. Each must get 403 or
404 — never 2xx, never 500 — and the targets must be unchanged afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.moderation import ModerationItem
from src.models.system import OutboxItem
from src.models.user import Role
from tests.builders import login, make_tree, make_user, unique_code
from tests.events.helpers import create_event
from tests.projects.helpers import create_project
from tests.proposals.helpers import make_world, submit
from tests.surveys.helpers import ANSWERS, open_survey

SV = "/api/v1/surveys/{survey_id:uuid}"


@dataclass(frozen=True)
class Scoped:
    target: str  # which kind of object fills the path parameter: proposal | project | category
    body: dict[str, Any] | None = None  # a valid body, so only scope can refuse the call
    allowed_for_owner: bool = field(default=False)  # GETs: the owner's side gets 200
    query: dict[str, str] | None = None  # query parameters the route requires


RATING_SCORES = {"overall": 5, "design": 4, "construction": 4, "usefulness": 3}


@dataclass(frozen=True)
class Public:
    reason: str


ROUTES: dict[tuple[str, str], Scoped | Public] = {
    ("GET", "/api/v1/areas/{area_id:uuid}"): Public(
        "the area directory (names, codes, centroids) is public; lists take area ids"
    ),
    ("GET", "/api/v1/uploads/{upload_id:uuid}"): Public(
        "images are served by unguessable UUIDv7 ids so <image src> works without a token"
    ),
    ("GET", "/schema/{path:str}"): Public("API documentation assets"),
    ("GET", "/api/v1/proposals/{proposal_id:uuid}"): Scoped("proposal", allowed_for_owner=True),
    ("POST", "/api/v1/proposals/{proposal_id:uuid}/replies"): Scoped(
        "proposal", {"body": "越权回复"}
    ),
    ("PUT", "/api/v1/proposals/{proposal_id:uuid}/support"): Scoped("proposal"),
    ("PUT", "/api/v1/proposals/{proposal_id:uuid}/reaction"): Scoped(
        "proposal", {"value": "agree"}
    ),
    ("DELETE", "/api/v1/proposals/{proposal_id:uuid}/reaction"): Scoped("proposal"),
    ("POST", "/api/v1/proposals/{proposal_id:uuid}/reports"): Scoped(
        "proposal", {"reason": "spam"}
    ),
    # Moderation: a queue item of the target community (a resident's report opened it).
    ("POST", "/api/v1/moderation/queue/{item_id:uuid}/decision"): Scoped(
        "moderation_item", {"action": "hide", "reason": "越权隐藏"}
    ),
    ("DELETE", "/api/v1/proposals/{proposal_id:uuid}/support"): Scoped("proposal"),
    ("POST", "/api/v1/proposals/{proposal_id:uuid}/transitions"): Scoped(
        "proposal", {"to": "under_review"}
    ),
    ("GET", "/api/v1/projects/{project_id:uuid}"): Scoped("project", allowed_for_owner=True),
    ("PATCH", "/api/v1/projects/{project_id:uuid}"): Scoped(
        "project", {"title": "越权修改", "status": "designing"}
    ),
    ("GET", "/api/v1/projects/{project_id:uuid}/progress"): Scoped(
        "project", allowed_for_owner=True
    ),
    ("POST", "/api/v1/projects/{project_id:uuid}/progress"): Scoped(
        "project", {"text": "越权进度", "percent": 50}
    ),
    # The portal outbox is city-wide plumbing: only admins retry a message.
    ("POST", "/api/v1/integrations/portal/outbox/{item_id:int}/retry"): Scoped("outbox_item"),
    # Meetings and votes (an open coordination meeting of the target community).
    ("GET", "/api/v1/events/{event_id:uuid}"): Scoped("event", allowed_for_owner=True),
    ("POST", "/api/v1/events/{event_id:uuid}/open"): Scoped("event"),
    ("POST", "/api/v1/events/{event_id:uuid}/close"): Scoped("event"),
    ("POST", "/api/v1/events/{event_id:uuid}/cancel"): Scoped("event"),
    ("POST", "/api/v1/events/{event_id:uuid}/options"): Scoped("event", {"title": "越权方案"}),
    ("GET", "/api/v1/events/{event_id:uuid}/check-in-code"): Scoped(
        "event", allowed_for_owner=True
    ),
    ("GET", "/api/v1/events/{event_id:uuid}/check-in-code.png"): Scoped(
        "event", allowed_for_owner=True
    ),
    ("POST", "/api/v1/events/{event_id:uuid}/check-ins"): Scoped("event", {"code": "AAAAAAAA"}),
    ("POST", "/api/v1/events/{event_id:uuid}/ballots"): Scoped(
        "event", {"option_ids": ["00000000-0000-4000-8000-000000000000"]}
    ),
    ("GET", "/api/v1/events/{event_id:uuid}/ballots/mine"): Scoped("event"),
    ("GET", "/api/v1/events/{event_id:uuid}/results"): Scoped("event", allowed_for_owner=True),
    ("GET", "/api/v1/exports/events/{event_id:uuid}/results"): Scoped(
        "event", query={"format": "csv"}
    ),
    # (Not read by the owner here: a stream that is allowed never ends.)
    ("GET", "/api/v1/events/{event_id:uuid}/results/stream"): Scoped("event"),
    ("GET", "/api/v1/events/{event_id:uuid}/receipts"): Scoped("event"),
    ("POST", "/api/v1/events/{event_id:uuid}/paper-counts"): Scoped(
        "event", {"counts": {"00000000-0000-4000-8000-000000000000": 1}}
    ),
    ("POST", "/api/v1/events/{event_id:uuid}/results/stream-tickets"): Scoped("event"),
    ("POST", "/api/v1/events/{event_id:uuid}/display-links"): Scoped("event"),
    ("GET", "/api/v1/events/{event_id:uuid}/display-links"): Scoped(
        "event", allowed_for_owner=True
    ),
    ("DELETE", "/api/v1/events/{event_id:uuid}/display-links/{link_id:uuid}"): Scoped(
        "display_link"
    ),
    ("GET", "/api/v1/events/{event_id:uuid}/display"): Public(
        "opened only by a display link of that very meeting (X-Display-Link), no area role"
    ),
    ("GET", "/events/{event_id:uuid}/live"): Public(
        "the big-screen page is static HTML; it reads everything with the viewer's token"
    ),
    # Categories are city-wide: only admins change them, whatever area others hold.
    ("PATCH", "/api/v1/categories/{code:str}"): Scoped(
        "category", {"name_zh": "越权改名", "retired": True}
    ),
    # Administration: staff roles, residents, areas, home changes (src/staff, src/areas).
    ("GET", "/api/v1/areas/{area_id:uuid}/staff"): Scoped("area", allowed_for_owner=True),
    ("POST", "/api/v1/areas/{area_id:uuid}/staff"): Scoped(
        "area", {"user_id": "0190a0a0-0000-7000-8000-000000000000", "role": "committee"}
    ),
    ("DELETE", "/api/v1/areas/{area_id:uuid}/staff/{user_id:uuid}"): Scoped(
        "area_member", query={"role": "committee"}
    ),
    ("GET", "/api/v1/areas/{area_id:uuid}/residents"): Scoped("area", allowed_for_owner=True),
    ("PATCH", "/api/v1/areas/{area_id:uuid}"): Scoped("area", {"name": "越权改名"}),
    ("PATCH", "/api/v1/users/{user_id:uuid}"): Scoped(
        "user", {"home_community_id": "0190a0a0-0000-7000-8000-000000000000", "reason": "越权"}
    ),
    # Ratings at review meetings (src/ratings): "review" is an open review meeting of the
    # target community, "rating" a resident's rating there.
    ("GET", "/api/v1/areas/{area_id:uuid}/satisfaction"): Scoped("area", allowed_for_owner=True),
    ("GET", "/api/v1/projects/{project_id:uuid}/satisfaction"): Scoped(
        "project", allowed_for_owner=True
    ),
    ("POST", "/api/v1/events/{event_id:uuid}/ratings"): Scoped("review", {"scores": RATING_SCORES}),
    ("GET", "/api/v1/events/{event_id:uuid}/ratings/mine"): Scoped("review"),
    ("PUT", "/api/v1/events/{event_id:uuid}/ratings/mine"): Scoped(
        "review", {"scores": RATING_SCORES}
    ),
    ("GET", "/api/v1/events/{event_id:uuid}/ratings/summary"): Scoped(
        "review", allowed_for_owner=True
    ),
    ("GET", "/api/v1/events/{event_id:uuid}/ratings/comments"): Scoped(
        "review", allowed_for_owner=True
    ),
    ("GET", "/api/v1/events/{event_id:uuid}/ratings/criteria"): Scoped(
        "review", allowed_for_owner=True
    ),
    ("PUT", "/api/v1/events/{event_id:uuid}/ratings/criteria"): Scoped(
        "review", {"criteria": [{"code": "overall", "name_zh": "总体", "name_en": "Overall"}]}
    ),
    ("POST", "/api/v1/events/{event_id:uuid}/ratings/paper-counts"): Scoped(
        "review", {"counts": {"overall": {"5": 1}}}
    ),
    ("POST", "/api/v1/events/{event_id:uuid}/ratings/{rating_id:uuid}/hide"): Scoped(
        "rating", {"reason": "越权隐藏"}
    ),
    ("POST", "/api/v1/events/{event_id:uuid}/ratings/{rating_id:uuid}/restore"): Scoped("rating"),
    ("POST", "/api/v1/events/{event_id:uuid}/ratings/{rating_id:uuid}/proposal"): Scoped(
        "rating", {"title": "越权转建议", "category": "public_space"}
    ),
    ("GET", "/api/v1/facilities/{facility_id:uuid}"): Public(
        "facilities are public places (clinics, parks, markets), open to every resident"
    ),
    ("GET", "/api/v1/areas/{area_id:uuid}/coverage"): Scoped("area"),
    # Needs surveys (an open survey of the community).
    ("GET", SV): Scoped("survey", allowed_for_owner=True),
    ("PATCH", SV): Scoped("survey", {"description": "越权修改"}),
    ("POST", SV + "/open"): Scoped("survey"),
    ("POST", SV + "/close"): Scoped("survey"),
    ("POST", SV + "/responses"): Scoped("survey", {"answers": ANSWERS}),
    ("GET", SV + "/responses/mine"): Scoped("survey"),
    ("PUT", SV + "/responses/mine"): Scoped("survey", {"answers": ANSWERS}),
    ("GET", SV + "/results"): Scoped("survey", allowed_for_owner=True),
    ("GET", SV + "/results/{key:str}/texts"): Scoped("survey_texts", allowed_for_owner=True),
    ("GET", SV + "/results/{key:str}/points"): Scoped("survey_points", allowed_for_owner=True),
    ("GET", SV + "/results/{chart_name:str}"): Scoped("survey_chart", allowed_for_owner=True),
    ("GET", "/api/v1/exports/surveys/{survey_id:uuid}"): Scoped("survey"),
    # Decision support (src/area_stats, src/monthly_reports) over the target community.
    ("GET", "/api/v1/areas/{area_id:uuid}/stats"): Scoped("area", allowed_for_owner=True),
    ("GET", "/api/v1/areas/{area_id:uuid}/hotspots"): Scoped("area", allowed_for_owner=True),
    ("GET", "/api/v1/areas/{area_id:uuid}/reports"): Scoped("area"),
    ("POST", "/api/v1/areas/{area_id:uuid}/reports"): Scoped(
        "area", {"period": "2026-11", "progress": "越权填报", "problems": "越权填报"}
    ),
    ("PUT", "/api/v1/areas/{area_id:uuid}/reports/{period:str}"): Scoped(
        "area_period", {"progress": "越权修改", "problems": "越权修改"}
    ),
    ("GET", "/api/v1/areas/{area_id:uuid}/facility-ranking"): Public(
        "the ranking of public places by residents' reviews is public"
    ),
    ("GET", "/api/v1/facilities/{facility_id:uuid}/reviews/summary"): Public(
        "facilities are public places; their review counts are public"
    ),
    ("POST", "/api/v1/facilities/{facility_id:uuid}/reviews"): Public(
        "any resident may review a public place, wherever it is"
    ),
    ("GET", "/api/v1/facilities/{facility_id:uuid}/reviews"): Public(
        "facilities belong to no community row; the responsible-unit rule is tested in "
        "tests/facility_reviews (test_comments_for_the_responsible_unit_with_masked_authors)"
    ),
    # The needs list and the yearly project list (src/needs, src/projects).
    ("GET", "/api/v1/areas/{area_id:uuid}/needs"): Scoped("area", allowed_for_owner=True),
    ("GET", "/api/v1/areas/{area_id:uuid}/project-stats"): Scoped("area", allowed_for_owner=True),
    ("GET", "/api/v1/needs/{need_id:uuid}"): Scoped("need", allowed_for_owner=True),
    ("PATCH", "/api/v1/needs/{need_id:uuid}"): Scoped("need", {"title": "越权修改"}),
    ("POST", "/api/v1/needs/{need_id:uuid}/projects"): Scoped("need", {"title": "越权立项"}),
}


async def make_need(
    client: httpx.AsyncClient, headers: dict[str, str], w: Any, proposal: Any
) -> str:
    """A need of the target community, backed by one of its suggestions."""
    made = await client.post(
        "/api/v1/needs",
        json={
            "title": "只属于本社区的需求",
            "category": proposal["category"],
            "community_id": str(w.a.id),
            "year": 2026,
            "sources": [{"kind": "proposal", "id": proposal["id"]}],
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


_PARAM = re.compile(r"\{[^}]+\}")


def routes_with_path_parameters(app: Litestar) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        if not _PARAM.search(route.path):
            continue
        for method in getattr(route, "methods", ()):
            if method not in ("HEAD", "OPTIONS"):
                found.add((method, route.path))
    return found


def test_every_route_with_an_id_is_in_the_table(app: Litestar) -> None:
    present = routes_with_path_parameters(app)
    missing = sorted(present - ROUTES.keys())
    assert not missing, f"add these routes to ROUTES in {__file__}: {missing}"
    stale = sorted(ROUTES.keys() - present)
    assert not stale, f"these ROUTES rows name routes that no longer exist: {stale}"


async def test_other_areas_get_403_or_404(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], app: Litestar
) -> None:
    w = await make_world(db, client)
    other = await make_tree(db, communities=1)
    callers = {
        "resident of another street": await login(
            client, await make_user(db, community=other.communities[0])
        ),
        "committee of another street": await login(
            client, await make_user(db, role=Role.committee, area=other.communities[0])
        ),
        "street staff of another street": await login(
            client, await make_user(db, role=Role.street, area=other.street)
        ),
        "planner of another street": await login(
            client, await make_user(db, role=Role.planner, area=other.street)
        ),
        "committee of the sibling community": w.h["committee_b"],
        "resident of the sibling community": w.h["outsider"],
    }
    admin = await login(client, await make_user(db, role=Role.admin, city_admin=True))
    category = unique_code("sec").lower()
    made = await client.post(
        "/api/v1/categories",
        json={"code": category, "name_zh": "测试分类", "name_en": "Test", "group": "care"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    proposal = await submit(client, w.h["resident"], title="只属于本社区")
    project = await create_project(client, w.h["committee"], w.a, title="只属于本社区的项目")
    async with db() as session:
        outbox_item = await session.scalar(
            select(func.min(OutboxItem.id)).where(
                OutboxItem.ordering_key == f"proposal:{proposal['id']}"
            )
        )
    assert outbox_item is not None
    reported = await client.post(
        f"/api/v1/proposals/{proposal['id']}/reports",
        json={"reason": "spam"},
        headers=w.h["neighbour"],
    )
    assert reported.status_code == 201, reported.text
    async with db() as session:
        moderation_item = await session.scalar(
            select(ModerationItem.id).where(ModerationItem.proposal_id == proposal["id"])
        )
    event = await create_event(
        client, w.h["committee"], w.a, options=["方案一", "方案二"], open_it=True
    )
    review = await create_event(
        client, w.h["committee"], w.a, kind="review", project_id=project["id"], open_it=True
    )
    rated = await client.post(
        f"/api/v1/events/{review['id']}/ratings",
        json={"scores": RATING_SCORES, "comment": "只属于本社区的评价"},
        headers=w.h["resident"],
    )
    assert rated.status_code == 201, rated.text
    link = await client.post(
        f"/api/v1/events/{event['id']}/display-links", headers=w.h["committee"]
    )
    assert link.status_code == 201, link.text
    targets: dict[str, str | list[str]] = {
        "proposal": proposal["id"],
        "project": project["id"],
        "category": category,
        "area": str(w.a.id),
        "area_member": [str(w.a.id), str(w.committee.id)],
        "user": str(w.resident.id),
        "outbox_item": str(outbox_item),
        "moderation_item": str(moderation_item),
        "event": event["id"],
        "review": review["id"],
        "rating": [review["id"], rated.json()["id"]],
        "display_link": [event["id"], link.json()["id"]],
        "area_period": [str(w.a.id), "2026-11"],
        "need": await make_need(client, w.h["committee"], w, proposal),
    }
    survey = (await open_survey(client, w.h["committee"], w.a))["id"]
    targets |= {
        "survey": survey,
        "survey_texts": [survey, "idea"],
        "survey_points": [survey, "where"],
        "survey_chart": [survey, "need.svg"],
    }

    failures = []
    for (method, path), rule in sorted(ROUTES.items()):
        if isinstance(rule, Public) or (method, path) not in routes_with_path_parameters(app):
            continue
        url = path
        target = targets[rule.target]
        for value in [target] if isinstance(target, str) else target:
            url = _PARAM.sub(value, url, count=1)
        if rule.allowed_for_owner:
            # The URL is right: the target's own committee reads it.
            owner = await client.request(method, url, params=rule.query, headers=w.h["committee"])
            assert owner.status_code == 200, (method, url, owner.text)
        for who, headers in callers.items():
            response = await client.request(
                method, url, params=rule.query, json=rule.body, headers=headers
            )
            if response.status_code not in (403, 404):
                failures.append((who, method, path, response.status_code, response.text[:200]))
    assert not failures, failures

    # Nothing changed on the targets.
    seen = await client.get(f"/api/v1/proposals/{proposal['id']}", headers=w.h["resident"])
    assert seen.json()["status"] == "submitted" and seen.json()["support_count"] == 0
    assert seen.json()["replies"] == []
    kept = await client.get(f"/api/v1/projects/{project['id']}", headers=w.h["resident"])
    assert kept.json()["title"] == "只属于本社区的项目" and kept.json()["status"] == "planned"
    assert kept.json()["progress"] == []
    staff = await client.get(f"/api/v1/areas/{w.a.id}/staff", headers=w.h["committee"])
    assert str(w.committee.id) in staff.text
    area = await client.get(f"/api/v1/areas/{w.a.id}")
    assert area.json()["name"] == w.a.name
    mine = await client.get(f"/api/v1/events/{review['id']}/ratings/mine", headers=w.h["resident"])
    assert mine.json()["comment_hidden"] is False and mine.json()["proposal_id"] is None
    assert mine.json()["revision"] == 1
    summary = await client.get(
        f"/api/v1/events/{review['id']}/ratings/summary", headers=w.h["committee"]
    )
    assert summary.json()["count"] == 1 and summary.json()["paper"]["count"] == 0
    listed = await client.get("/api/v1/categories")
    assert {c["code"]: c["name_zh"] for c in listed.json()}[category] == "测试分类"
    meeting = await client.get(f"/api/v1/events/{event['id']}", headers=w.h["resident"])
    assert meeting.json()["status"] == "open" and meeting.json()["check_in_count"] == 0
    assert meeting.json()["voter_count"] == 0 and len(meeting.json()["options"]) == 2
