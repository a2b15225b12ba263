"""Bad questionnaires and bad answers: each a 4xx problem+json with a stable code and, for
validation, one field-level error per fault."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.surveys.helpers import ANSWERS, QUESTIONS, make_world, open_survey, respond, survey_body


def _fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "validation_failed"
    return {e["field"] for e in body["errors"]}


async def test_bad_question_sets_name_their_fields(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    questions: list[dict[str, Any]] = [
        {
            "key": "a",
            "kind": "single",
            "title": "一个选项",
            "options": [{"key": "x", "label": "X"}],
        },
        {"key": "a", "kind": "text", "title": "重复的键"},
        {"key": "s", "kind": "scale", "title": "倒过来", "scale": {"min": 5, "max": 1}},
        {
            "key": "m",
            "kind": "multiple",
            "title": "太多",
            "options": [{"key": "x", "label": "X"}, {"key": "y", "label": "Y"}],
            "max_choices": 3,
        },
        {
            "key": "t",
            "kind": "text",
            "title": "文本不带选项",
            "options": [{"key": "x", "label": "X"}],
        },
        {"key": "r", "kind": "ranking", "title": "无选项"},
    ]
    bad = await client.post(
        "/api/v1/surveys", json=survey_body(w.a, questions=questions), headers=w.h["committee"]
    )
    assert _fields(bad) == {
        "questions[0].options",
        "questions[1].key",
        "questions[2].scale.max",
        "questions[3].max_choices",
        "questions[4].options",
        "questions[5].options",
    }
    window = survey_body(w.a)
    window["closes_at"] = window["opens_at"]
    assert _fields(await client.post("/api/v1/surveys", json=window, headers=w.h["committee"])) == {
        "closes_at"
    }
    district = await client.post(
        "/api/v1/surveys",
        json=survey_body(w.street, area_id=str(w.street.parent_id)),
        headers=w.h["street_staff"],
    )
    assert district.status_code in (403, 422)
    resident = await client.post("/api/v1/surveys", json=survey_body(w.a), headers=w.h["resident"])
    assert resident.status_code == 403
    other = await client.post("/api/v1/surveys", json=survey_body(w.a), headers=w.h["committee_b"])
    assert other.status_code == 403


async def test_bad_answers_each_get_an_error(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    survey = await open_survey(client, w.h["committee"], w.a)
    sid = survey["id"]
    bad = await respond(
        client,
        w.h["resident"],
        sid,
        {
            "also": ["meal", "park", "clinic"],  # max 2
            "satisfied": 9,  # 1..5
            "order": ["lift", "lift"],
            "idea": 42,
            "where": {"lat": 300, "lng": 121.4},
            "nope": "x",
        },
    )
    assert _fields(bad) == {
        "answers.need",  # required, missing
        "answers.also",
        "answers.satisfied",
        "answers.order",
        "answers.idea",
        "answers.where",
        "answers.nope",
    }
    wrong_option = await respond(client, w.h["resident"], sid, {**ANSWERS, "need": "zoo"})
    assert _fields(wrong_option) == {"answers.need"}
    not_int = await respond(client, w.h["resident"], sid, {**ANSWERS, "satisfied": "4"})
    assert _fields(not_int) == {"answers.satisfied"}
    english = await client.post(
        f"/api/v1/surveys/{sid}/responses",
        json={"answers": {}},
        headers={**w.h["resident"], "Accept-Language": "en"},
    )
    assert english.json()["detail"] == "The request is not valid"
    # Nothing was recorded by the refusals: a good answer still goes in.
    assert (await respond(client, w.h["resident"], sid, ANSWERS)).status_code == 201
    # A resident may not pose as paper; a paper sheet is staff's.
    paper = await respond(client, w.h["neighbour"], sid, ANSWERS, channel="paper")
    assert paper.status_code == 404
    foreign = await respond(
        client, w.h["committee"], sid, ANSWERS, channel="paper", community_id=str(w.b.id)
    )
    assert _fields(foreign) == {"community_id"}


async def test_questions_freeze_once_open(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    created = await client.post("/api/v1/surveys", json=survey_body(w.a), headers=w.h["committee"])
    sid = created.json()["id"]
    kept = {o["key"]: o["id"] for o in created.json()["questions"][0]["options"]}
    fewer = [QUESTIONS[0], QUESTIONS[2]]
    edited = await client.patch(
        f"/api/v1/surveys/{sid}",
        json={"questions": fewer, "title": "改过的标题"},
        headers=w.h["committee"],
    )
    assert edited.status_code == 200, edited.text
    assert [q["key"] for q in edited.json()["questions"]] == ["need", "satisfied"]
    # An option that keeps its key keeps its id (needs cite them).
    assert {o["key"]: o["id"] for o in edited.json()["questions"][0]["options"]} == kept
    assert (
        await client.post(f"/api/v1/surveys/{sid}/open", headers=w.h["committee"])
    ).status_code == 200
    frozen = await client.patch(
        f"/api/v1/surveys/{sid}", json={"questions": QUESTIONS}, headers=w.h["committee"]
    )
    assert frozen.status_code == 409 and frozen.json()["code"] == "questions_frozen"
    reopen = await client.post(f"/api/v1/surveys/{sid}/open", headers=w.h["committee"])
    assert reopen.status_code == 409 and reopen.json()["code"] == "survey_not_draft"
    longer = await client.patch(
        f"/api/v1/surveys/{sid}",
        json={"closes_at": "2099-01-01T00:00:00+08:00"},
        headers=w.h["committee"],
    )
    assert longer.status_code == 200
    by_resident = await client.post(f"/api/v1/surveys/{sid}/close", headers=w.h["resident"])
    assert by_resident.status_code in (403, 404)


async def test_window_not_started_refuses_answers(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    survey = await open_survey(
        client,
        w.h["committee"],
        w.a,
        opens_at="2099-01-01T00:00:00+08:00",
        closes_at="2099-02-01T00:00:00+08:00",
    )
    early = await respond(client, w.h["resident"], survey["id"], ANSWERS)
    assert early.status_code == 409 and early.json()["code"] == "survey_not_open"
    missing = await client.get(
        "/api/v1/surveys/00000000-0000-4000-8000-000000000000", headers=w.h["resident"]
    )
    assert missing.status_code == 404
    bad_cursor = await client.get(
        f"/api/v1/surveys?area_id={w.a.id}&cursor=zzz", headers=w.h["resident"]
    )
    assert bad_cursor.status_code == 400 and bad_cursor.json()["code"] == "invalid_cursor"
