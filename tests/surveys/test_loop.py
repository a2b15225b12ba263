"""The whole survey loop through HTTP: build, open, answer online and on paper, change,
close, read the results."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.surveys.helpers import ANSWERS, make_world, open_survey, respond, survey_body


async def test_build_open_answer_change_close_results(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    created = await client.post("/api/v1/surveys", json=survey_body(w.a), headers=w.h["committee"])
    assert created.status_code == 201, created.text
    survey = created.json()
    assert survey["status"] == "draft"
    sid = survey["id"]
    # A draft is the staff's: residents do not see it.
    assert (await client.get(f"/api/v1/surveys/{sid}", headers=w.h["resident"])).status_code == 404
    assert (await respond(client, w.h["resident"], sid, ANSWERS)).status_code == 404
    opened = await client.post(f"/api/v1/surveys/{sid}/open", headers=w.h["committee"])
    assert opened.status_code == 200 and opened.json()["accepting"] is True
    option_ids = {o["key"]: o["id"] for o in survey["questions"][0]["options"]}
    assert {o["key"]: o["id"] for o in opened.json()["questions"][0]["options"]} == option_ids

    first = await respond(client, w.h["resident"], sid, ANSWERS)
    assert first.status_code == 201, first.text
    assert first.json()["answers"]["need"] == "elder"
    again = await respond(client, w.h["resident"], sid, ANSWERS)
    assert again.status_code == 409 and again.json()["code"] == "already_responded"
    neighbour = await respond(client, w.h["neighbour"], sid, {"need": "kids", "satisfied": 2})
    assert neighbour.status_code == 201
    outsider = await respond(client, w.h["outsider"], sid, ANSWERS)
    assert outsider.status_code == 404  # another community's survey is not theirs
    paper = await respond(
        client,
        w.h["committee"],
        sid,
        {"need": "elder", "satisfied": 5, "also": ["meal"]},
        channel="paper",
        sheet_no="P-001",
    )
    assert paper.status_code == 201, paper.text
    twice = await respond(
        client,
        w.h["committee"],
        sid,
        {"need": "elder", "satisfied": 5},
        channel="paper",
        sheet_no="P-001",
    )
    assert twice.status_code == 409 and twice.json()["code"] == "duplicate_sheet"

    changed = await client.put(
        f"/api/v1/surveys/{sid}/responses/mine",
        json={"answers": {**ANSWERS, "need": "sport", "satisfied": 3}},
        headers=w.h["resident"],
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["revision"] == 2
    mine = await client.get(f"/api/v1/surveys/{sid}/responses/mine", headers=w.h["resident"])
    assert mine.json()["answers"]["need"] == "sport"

    # Residents see results once closed; staff always.
    hidden = await client.get(f"/api/v1/surveys/{sid}/results", headers=w.h["resident"])
    assert hidden.status_code == 403 and hidden.json()["code"] == "results_not_visible"
    live = await client.get(f"/api/v1/surveys/{sid}/results", headers=w.h["committee"])
    assert live.status_code == 200, live.text
    r = live.json()
    assert (r["responses"], r["online"], r["paper"]) == (3, 2, 1)
    need = r["questions"][0]
    assert need["counts"] == {"elder": 1, "kids": 1, "sport": 1}
    assert need["counts_paper"] == {"elder": 1, "kids": 0, "sport": 0}
    scale = r["questions"][2]
    assert scale["distribution"] == {"1": 0, "2": 1, "3": 1, "4": 0, "5": 1}
    assert scale["mean"] == round((3 + 2 + 5) / 3, 4)
    ranking = r["questions"][3]["ranking"]
    assert [x["option"] for x in ranking] == ["lift", "green", "parking"]
    assert ranking[0]["borda"] == 3 and ranking[0]["mean_rank"] == 1
    assert r["questions"][4]["texts"][0]["text"] == "希望增加电梯"
    point = r["questions"][5]["points"][0]
    assert abs(point["lat"] - 31.2435) < 1e-5 and point["coord_sys"] == "gcj02"
    wgs = await client.get(
        f"/api/v1/surveys/{sid}/results?coord_sys=wgs84", headers=w.h["committee"]
    )
    wgs_point = wgs.json()["questions"][5]["points"][0]
    assert abs(wgs_point["lat"] - 31.2435) > 1e-4  # hundreds of metres apart
    # The community's registered residents: resident and neighbour (staff live nowhere here).
    assert (r["residents"], r["response_rate"], r["response_rate_with_paper"]) == (2, 1.0, 1.5)

    closed = await client.post(f"/api/v1/surveys/{sid}/close", headers=w.h["committee"])
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    late = await client.put(
        f"/api/v1/surveys/{sid}/responses/mine", json={"answers": ANSWERS}, headers=w.h["resident"]
    )
    assert late.status_code == 409 and late.json()["code"] == "survey_not_open"
    seen = await client.get(f"/api/v1/surveys/{sid}/results", headers=w.h["resident"])
    assert seen.status_code == 200 and seen.json()["responses"] == 3


async def test_street_survey_reaches_every_community(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    committee_try = await client.post(
        "/api/v1/surveys", json=survey_body(w.street), headers=w.h["committee"]
    )
    assert committee_try.status_code == 403
    survey = await open_survey(client, w.h["street_staff"], w.street)
    for name in ("resident", "outsider"):
        assert (await respond(client, w.h[name], survey["id"], ANSWERS)).status_code == 201
    listed = await client.get(f"/api/v1/surveys?area_id={w.b.id}", headers=w.h["outsider"])
    assert [s["id"] for s in listed.json()["items"]] == [survey["id"]]
    results = await client.get(
        f"/api/v1/surveys/{survey['id']}/results", headers=w.h["street_staff"]
    )
    assert results.json()["online"] == 2
