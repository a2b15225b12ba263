"""Validation, transitions, permissions and the survey extension point of the needs list."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.builders import login, make_tree, make_user
from tests.exports.helpers import add_proposal
from tests.needs.helpers import YEAR, create_need, make_world, plan
from tests.surveys.helpers import ANSWERS, open_survey, respond


def fields(response: httpx.Response) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


async def test_validation_errors_name_the_field(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    mine = await add_proposal(db, w.a, w.resident)
    theirs = await add_proposal(db, w.b, w.resident)
    other = await make_tree(db, communities=1)
    far = await add_proposal(db, other.communities[0], w.resident)
    h = w.h["street"]

    bad = await create_need(
        client,
        h,
        community=w.a,
        proposal_ids=[mine.id, theirs.id, mine.id, far.id],
        expect=422,
    )
    assert bad["code"] == "validation_failed"
    assert {e["field"] for e in bad["errors"]} == {"sources[1].id", "sources[2]", "sources[3].id"}
    unknown = await create_need(
        client, h, community=w.a, proposal_ids=["0190c0de-0000-7000-8000-000000000000"], expect=422
    )
    assert unknown["errors"][0]["field"] == "sources[0].id"
    # A street's need may gather the suggestions of all its communities.
    await create_need(client, h, street=w.street, proposal_ids=[mine.id, theirs.id])
    both = await create_need(client, h, community=w.a, street=w.street, expect=422)
    assert both["code"] == "validation_failed"
    neither = await create_need(client, h, expect=422)
    assert neither["code"] == "validation_failed"
    wrong_level = await create_need(client, h, community=w.street, expect=422)
    assert wrong_level["errors"][0]["field"] == "community_id"
    category = await create_need(client, h, community=w.a, category="no_such", expect=422)
    assert category["code"] in ("validation_failed", "unknown_category")
    short = await create_need(client, h, community=w.a, title="x", year=1999, expect=422)
    assert {"title", "year"} <= {e["field"] for e in short["errors"]}
    extra = await create_need(client, h, community=w.a, expect=422, status="planned")
    assert extra["code"] == "validation_failed"

    # A survey option must name a survey of the need's area.
    survey = await create_need(
        client,
        h,
        community=w.a,
        expect=422,
        sources=[
            {
                "kind": "survey_option",
                "survey_id": "0190c0de-0000-7000-8000-000000000001",
                "question_key": "q1",
                "option_key": "lift",
            }
        ],
    )
    assert survey["errors"] == [{"field": "sources[0].survey_id", "message": "unknown survey"}]
    need = await create_need(client, h, community=w.a, proposal_ids=[mine.id])
    no_reason = await client.patch(
        f"/api/v1/needs/{need['id']}", json={"status": "planned"}, headers=h
    )
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "validation_failed"
    empty = await client.patch(f"/api/v1/needs/{need['id']}", json={}, headers=h)
    assert empty.status_code == 422
    open_project = await client.post(f"/api/v1/needs/{need['id']}/projects", json={}, headers=h)
    assert open_project.status_code == 409 and open_project.json()["code"] == "need_not_planned"


async def test_transitions_and_sources_follow_the_status(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    p1 = await add_proposal(db, w.a, w.resident, supports=4)
    p2 = await add_proposal(db, w.a, w.resident, supports=1)
    h = w.h["committee"]
    need = await create_need(client, h, community=w.a, proposal_ids=[p1.id])
    # Sources are replaced while the need is open.
    changed = await client.patch(
        f"/api/v1/needs/{need['id']}",
        json={"sources": [{"kind": "proposal", "id": str(p2.id)}], "title": "新标题"},
        headers=h,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["score"] == 2 and changed.json()["title"] == "新标题"
    assert (await plan(client, h, need["id"])).status_code == 200
    again = await plan(client, h, need["id"])  # a repeat: already so, nothing changes
    assert again.status_code == 200
    declined = await client.patch(
        f"/api/v1/needs/{need['id']}", json={"status": "declined", "reason": "改主意"}, headers=h
    )
    assert declined.status_code == 409 and declined.json()["code"] == "illegal_transition"
    closed = await client.patch(
        f"/api/v1/needs/{need['id']}",
        json={"sources": [{"kind": "proposal", "id": str(p1.id)}]},
        headers=h,
    )
    assert closed.status_code == 409 and closed.json()["code"] == "need_closed"
    async with db() as session:
        actions = (
            await session.execute(
                text(
                    "SELECT action, details->>'reason' FROM audit_log WHERE object_id = :id"
                    " ORDER BY at, id"
                ),
                {"id": need["id"]},
            )
        ).all()
    assert [a for a, _ in actions] == ["need.create", "need.update", "need.transition"]
    assert actions[-1][1] == "列入明年计划"
    # A street's need makes a project in one of its communities, named in the body.
    street_need = await create_need(client, w.h["street"], street=w.street, title="街道需求")
    await plan(client, w.h["street"], street_need["id"])
    url = f"/api/v1/needs/{street_need['id']}/projects"
    missing = await client.post(url, json={}, headers=w.h["street"])
    assert missing.status_code == 422 and fields(missing) == {"community_id"}
    made = await client.post(url, json={"community_id": str(w.b.id)}, headers=w.h["street"])
    assert made.status_code == 201 and made.json()["community_id"] == str(w.b.id)


async def test_only_staff_of_the_area_may_read_and_decide(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    p = await add_proposal(db, w.a, w.resident)
    need = await create_need(client, w.h["committee"], community=w.a, proposal_ids=[p.id])
    url = f"/api/v1/needs/{need['id']}"
    # A committee of another community: the need does not exist for them.
    assert (await client.get(url, headers=w.h["committee_b"])).status_code == 404
    assert (await plan(client, w.h["committee_b"], need["id"])).status_code == 404
    b_list = await client.get(f"/api/v1/areas/{w.a.id}/needs", headers=w.h["committee_b"])
    assert b_list.status_code == 404
    into_a = await create_need(client, w.h["committee_b"], community=w.a, expect=404)
    assert into_a["code"] == "not_found"
    # A committee may not write a street's need; the street's staff of another street neither.
    street_need = await create_need(client, w.h["committee"], street=w.street, expect=404)
    assert street_need["code"] == "not_found"
    assert (await client.get(url, headers=w.h["other_street"])).status_code == 404
    # The planner reads but does not decide; the resident reads their community's list.
    assert (await client.get(url, headers=w.h["planner"])).status_code == 200
    planner = await plan(client, w.h["planner"], need["id"])
    assert planner.status_code == 403 and planner.json()["code"] == "role_required"
    assert (await client.get(url, headers=w.h["resident"])).status_code == 200
    resident = await plan(client, w.h["resident"], need["id"])
    assert resident.status_code == 403
    assert (await client.get(url)).status_code == 401
    # The file and the table: street and district staff only, their own area.
    export = "/api/v1/exports/project-list"
    for who, params, status in (
        ("committee", {"street_id": str(w.street.id)}, 403),
        ("planner", {"street_id": str(w.street.id)}, 403),
        ("other_street", {"street_id": str(w.street.id)}, 403),
        ("street", {"district_id": str(w.district.id)}, 403),
        ("other_district", {"district_id": str(w.district.id)}, 403),
        ("street", {"district_id": str(w.street.id)}, 422),
        ("street", {}, 422),
        ("street", {"street_id": str(w.street.id), "year": "1999"}, 400),
    ):
        response = await client.get(export, params=params, headers=w.h[who])
        assert response.status_code in (status, 422 if status == 400 else status), (
            who,
            params,
            response.text,
        )
    stats = f"/api/v1/areas/{w.street.id}/project-stats"
    assert (await client.get(stats, headers=w.h["resident"])).status_code == 403
    assert (await client.get(stats, headers=w.h["other_street"])).status_code == 403
    assert (await client.get(stats, headers=w.h["planner"])).status_code == 200


async def test_survey_options_count_the_answers_that_chose_them(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    p = await add_proposal(db, w.a, w.resident, supports=3)
    survey = await open_survey(client, w.h["committee"], w.a)
    elder = {
        "kind": "survey_option",
        "survey_id": survey["id"],
        "question_key": "need",
        "option_key": "elder",
    }
    # Two residents online choose 为老服务, one chooses 托育; a paper sheet chooses 为老服务.
    for choice in ("elder", "elder", "kids"):
        headers = await login(client, await make_user(db, community=w.a))
        answered = await respond(client, headers, survey["id"], {**ANSWERS, "need": choice})
        assert answered.status_code == 201, answered.text
    paper = await respond(
        client, w.h["committee"], survey["id"], {**ANSWERS, "need": "elder"}, channel="paper"
    )
    assert paper.status_code == 201, paper.text

    need = await create_need(
        client,
        w.h["committee"],
        community=w.a,
        sources=[{"kind": "proposal", "id": str(p.id)}, elder],
    )
    assert {"id": None, **elder} in need["sources"] and len(need["sources"]) == 2
    assert need["evidence"] == {"supports": 3, "survey_votes": 3, "suggestions": 1}
    listed = await client.get(
        f"/api/v1/areas/{w.a.id}/needs", params={"year": YEAR}, headers=w.h["committee"]
    )
    row = next(n for n in listed.json()["items"] if n["id"] == need["id"])
    assert row["score"] == 1 + 3 + 3

    twice = await create_need(
        client, w.h["committee"], community=w.a, sources=[elder, elder], expect=422
    )
    assert twice["errors"][0]["field"] == "sources[1]"
    unknown = await create_need(
        client,
        w.h["committee"],
        community=w.a,
        sources=[{**elder, "option_key": "nope"}, {**elder, "survey_id": str(uuid.uuid4())}],
        expect=422,
    )
    assert [e["field"] for e in unknown["errors"]] == [
        "sources[0].option_key",
        "sources[1].survey_id",
    ]
    elsewhere = await create_need(
        client, w.h["committee_b"], community=w.b, sources=[elder], expect=422
    )
    assert elsewhere["errors"][0]["field"] == "sources[0].survey_id"
    assert need["year"] == YEAR
