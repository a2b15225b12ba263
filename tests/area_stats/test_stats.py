"""The area figures agree with plain counting over random data and with what the other
endpoints list and summarise; only staff of the area or above see them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.area_stats.service import precompute
from src.models.proposal import Proposal
from src.models.user import Role
from tests.area_stats.world import World, build_world, expected
from tests.builders import login, make_tree, make_user
from tests.surveys.helpers import ANSWERS, open_survey, respond
from tests.surveys.helpers import make_world as make_survey_world

CATEGORY = "accessibility"

FIGURES = ("proposals", "replies", "meetings", "satisfaction", "projects", "surveys")
RATES = ("residents", "online", "paper", "response_rate", "response_rate_with_paper")


def _figures(body: dict[str, Any]) -> dict[str, Any]:
    out = {k: body[k] for k in FIGURES}
    return out


def _same(got: dict[str, Any], want: dict[str, Any]) -> None:
    got_median = got["replies"].pop("median_hours_to_first_reply")
    want_median = want["replies"].pop("median_hours_to_first_reply")
    assert got == want
    assert (got_median is None) == (want_median is None)
    if want_median is not None:
        assert got_median == pytest.approx(want_median, abs=0.011)


@pytest.fixture(scope="module")
async def world(db: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(db, seed=18)


async def _stats(
    client: httpx.AsyncClient, area_id: uuid.UUID, headers: dict[str, str], **params: str
) -> dict[str, Any]:
    response = await client.get(f"/api/v1/areas/{area_id}/stats", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    "period", [{}, {"from": "2026-08-01", "to": "2026-09-30"}, {"from": "2026-10-15"}]
)
async def test_district_and_streets_agree_with_plain_counting(
    client: httpx.AsyncClient, world: World, period: dict[str, str]
) -> None:
    admin = await login(client, world.staff["district_admin"])
    body = await _stats(client, world.district.id, admin, **period)
    lo = dt.date.fromisoformat(period["from"]) if "from" in period else None
    hi = dt.date.fromisoformat(period["to"]) if "to" in period else None
    everyone = {c.id for cs in world.communities.values() for c in cs}
    _same(_figures(body), expected(world, everyone, lo, hi))
    assert body["proposals"]["total"] > 0
    assert [c["area_id"] for c in body["children"]] == sorted(
        (str(s.id) for s in world.streets),
        key=lambda i: next(s.code for s in world.streets if str(s.id) == i),
    )
    for child in body["children"]:
        members = {c.id for c in world.communities[uuid.UUID(child["area_id"])]}
        _same(_figures(child), expected(world, members, lo, hi))
    # A street drills down to its communities.
    street = world.streets[0]
    street_body = await _stats(client, street.id, admin, **period)
    for child in street_body["children"]:
        _same(_figures(child), expected(world, {uuid.UUID(child["area_id"])}, lo, hi))
    assert len(street_body["children"]) == 3


async def _count_list(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> int:
    n, cursor = 0, None
    while True:
        page_url = f"{url}&limit=100" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(page_url, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        n += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return n


async def test_street_figures_agree_with_the_other_endpoints(
    client: httpx.AsyncClient, world: World
) -> None:
    street = world.streets[0]
    h = await login(client, world.staff["street0"])
    body = await _stats(client, street.id, h)
    base = f"/api/v1/proposals?street_id={street.id}"
    for status, n in body["proposals"]["by_status"].items():
        assert await _count_list(client, f"{base}&status={status}", h) == n
    for category, n in body["proposals"]["by_category"].items():
        assert await _count_list(client, f"{base}&category={category}", h) == n
    for status, n in body["projects"]["by_status"].items():
        url = f"/api/v1/projects?street_id={street.id}&status={status}"
        assert await _count_list(client, url, h) == n
    overdue = await _count_list(client, f"/api/v1/projects?street_id={street.id}&overdue=true", h)
    assert overdue == body["projects"]["overdue"]
    satisfaction = (await client.get(f"/api/v1/areas/{street.id}/satisfaction", headers=h)).json()
    assert satisfaction["count"] == body["satisfaction"]["count"]
    assert satisfaction["satisfaction_rate"] == pytest.approx(
        body["satisfaction"]["satisfaction_rate"]
    )
    assert satisfaction["means"]["overall"] == pytest.approx(body["satisfaction"]["mean_overall"])
    # Turnout: the frozen results of the closed meetings, as each meeting's results give them.
    closed = [
        m
        for m in world.meetings
        if m.street_id == street.id and m.status == "closed" and m.kind == "coordination"
    ]
    participants = eligible = 0
    for m in closed:
        results = (await client.get(f"/api/v1/events/{m.id}/results", headers=h)).json()
        participants += results["participants"]
        eligible += results["eligible_count"]
    kind = body["meetings"]["by_kind"].get("coordination")
    if closed:
        assert kind is not None
        assert (kind["participants"], kind["eligible"]) == (participants, eligible)
    # Suggestions of a period: the rows of the suggestion export with the same from/to.
    period = {"from": "2026-08-01", "to": "2026-09-30"}
    windowed = await _stats(client, street.id, h, **period)
    export = await client.get(
        "/api/v1/exports/proposals",
        params={"format": "csv", "street_id": str(street.id), **period},
        headers=h,
    )
    assert export.status_code == 200, export.text
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert len(rows) - 1 == windowed["proposals"]["total"]


async def test_survey_figures_agree_with_the_survey_results(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """Through HTTP: a community's survey and a street-wide one, answered online and on paper;
    the figures' residents and rates are the surveys' results' own (one survey: the same
    figures; several: responses and residents summed)."""
    w = await make_survey_world(db, client)
    mine = await open_survey(client, w.h["committee"], w.a)
    wide = await open_survey(client, w.h["street_staff"], w.street)
    paper = {"need": "elder", "satisfied": 3}
    for headers, survey, extra in (
        (w.h["resident"], mine, {}),
        (w.h["committee"], mine, {"channel": "paper", "sheet_no": "A-1"}),
        (w.h["outsider"], wide, {}),
        (w.h["neighbour"], wide, {}),
        (w.h["street_staff"], wide, {"channel": "paper", "sheet_no": "S-1"}),
        (w.h["street_staff"], wide, {"channel": "paper", "sheet_no": "S-2"}),
    ):
        answered = await respond(
            client, headers, survey["id"], ANSWERS if not extra else paper, **extra
        )
        assert answered.status_code == 201, answered.text
    results = {}
    for survey in (mine, wide):
        got = await client.get(
            f"/api/v1/surveys/{survey['id']}/results", headers=w.h["street_staff"]
        )
        assert got.status_code == 200, got.text
        results[survey["id"]] = got.json()
    ours, all_of = results[mine["id"]], results[wide["id"]]
    # Registered residents: a has the resident and the neighbour, b the outsider.
    assert [ours[k] for k in RATES] == [2, 1, 1, 0.5, 1.0]
    assert [all_of[k] for k in RATES] == [3, 2, 2, 0.6667, 1.3333]

    def rates(figures: dict[str, Any]) -> list[Any]:
        return [figures["surveys"][k] for k in RATES]

    community = await _stats(client, w.a.id, w.h["committee"])
    assert rates(community) == [ours[k] for k in RATES]
    street = await _stats(client, w.street.id, w.h["street_staff"])
    online, paper_n = ours["online"] + all_of["online"], ours["paper"] + all_of["paper"]
    asked = ours["residents"] + all_of["residents"]
    summed = [
        asked,
        online,
        paper_n,
        round(online / asked, 4),
        round((online + paper_n) / asked, 4),
    ]
    assert rates(street) == summed == [5, 3, 3, 0.6, 1.2]
    by_id = {c["area_id"]: c for c in street["children"]}
    assert rates(by_id[str(w.a.id)]) == rates(community)
    # b has no survey of its own (the street-wide one counts for the street only).
    assert rates(by_id[str(w.b.id)]) == [0, 0, 0, None, None]


async def test_who_sees_which_figures(client: httpx.AsyncClient, world: World) -> None:
    street0, street1 = world.streets
    street_staff = await login(client, world.staff["street0"])
    committee = await login(client, world.staff["committee00"])
    # The world's own resident (a new one would change the residents the figures count).
    resident = await login(client, world.staff["resident00"])
    own_community = world.communities[street0.id][0]
    cases = [
        (street_staff, street0.id, 200, None),
        (street_staff, own_community.id, 200, None),
        (street_staff, street1.id, 403, "area_forbidden"),
        (street_staff, world.district.id, 403, "area_forbidden"),
        (committee, own_community.id, 200, None),
        (committee, street0.id, 403, "area_forbidden"),
        (resident, own_community.id, 403, "role_required"),
        (street_staff, uuid.uuid4(), 404, "not_found"),
    ]
    for headers, area_id, status, code in cases:
        response = await client.get(f"/api/v1/areas/{area_id}/stats", headers=headers)
        assert response.status_code == status, (area_id, response.text)
        if code:
            assert response.json()["code"] == code
    assert (await client.get(f"/api/v1/areas/{street0.id}/stats")).status_code == 401
    community = (
        await client.get(f"/api/v1/areas/{own_community.id}/stats", headers=committee)
    ).json()
    assert community["children"] == [] and community["level"] == "community"


async def test_bad_periods_are_refused(client: httpx.AsyncClient, world: World) -> None:
    h = await login(client, world.staff["street0"])
    url = f"/api/v1/areas/{world.streets[0].id}/stats"
    for params in (
        {"from": "2026-10-01", "to": "2026-09-01"},
        {"from": "yesterday"},
        {"to": "2026-13-01"},
    ):
        response = await client.get(url, params=params, headers=h)
        assert response.status_code in (400, 422), response.text
        assert response.json()["code"] == "validation_failed"


async def test_figures_are_cached_and_refreshed_by_the_precompute_job(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(db, communities=1)
    staff = await make_user(db, role=Role.street, area=tree.street)
    h = await login(client, staff)
    first = await _stats(client, tree.street.id, h)
    async with db() as session, session.begin():
        session.add(
            Proposal(
                community_id=tree.communities[0].id,
                street_id=tree.street.id,
                author_id=staff.id,
                title="新建议",
                body="内容",
                category=CATEGORY,
            )
        )
    again = await _stats(client, tree.street.id, h)
    assert again["proposals"]["total"] == first["proposals"]["total"]  # cached
    assert again["computed_at"] == first["computed_at"]
    async with db() as session, session.begin():
        assert await precompute(session, dt.datetime.now(dt.UTC)) >= 3
    fresh = await _stats(client, tree.street.id, h)
    assert fresh["proposals"]["total"] == first["proposals"]["total"] + 1
    assert fresh["computed_at"] > first["computed_at"]
