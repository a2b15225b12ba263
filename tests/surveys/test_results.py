"""Results checked against plain SQL over random responses; texts paged and searched; the
export's rows; the charts."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.user import Role
from tests.builders import login, make_user
from tests.surveys.helpers import QUESTIONS, make_world, open_survey, respond


def random_answers(rng: random.Random, i: int) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "need": rng.choice(["elder", "kids", "sport"]),
        "satisfied": rng.randint(1, 5),
    }
    if rng.random() < 0.7:
        answers["also"] = rng.sample(["meal", "clinic", "park", "market"], rng.randint(1, 2))
    if rng.random() < 0.8:
        answers["order"] = rng.sample(["lift", "parking", "green"], rng.randint(1, 3))
    if rng.random() < 0.5:
        answers["idea"] = rng.choice(["加装电梯很急", "希望多些绿化", "停车难"]) + f" #{i}"
    if rng.random() < 0.3:
        answers["where"] = {"lat": 31.24 + rng.random() / 100, "lng": 121.41 + rng.random() / 100}
    return answers


async def _sql(db: async_sessionmaker[AsyncSession], sql: str, sid: str) -> list[Any]:
    async with db() as session:
        return list((await session.execute(text(sql), {"s": sid})).all())


async def test_results_equal_plain_sql_over_random_responses(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    survey = await open_survey(client, w.h["committee"], w.a)
    sid = survey["id"]
    rng = random.Random(17)
    people = [await login(client, await make_user(db, community=w.a)) for _ in range(25)]
    for i, h in enumerate(people):
        assert (await respond(client, h, sid, random_answers(rng, i))).status_code == 201
    for i in range(15):
        paper = await respond(
            client, w.h["committee"], sid, random_answers(rng, 100 + i), channel="paper"
        )
        assert paper.status_code == 201, paper.text
    r = (await client.get(f"/api/v1/surveys/{sid}/results", headers=w.h["committee"])).json()
    by_key = {q["key"]: q for q in r["questions"]}

    [(total, online, paper)] = await _sql(
        db,
        "SELECT count(*), count(*) FILTER (WHERE channel = 'online'),"
        " count(*) FILTER (WHERE channel = 'paper') FROM survey_responses WHERE survey_id = :s",
        sid,
    )
    assert (r["responses"], r["online"], r["paper"]) == (total, online, paper) == (40, 25, 15)
    need = dict(
        await _sql(
            db,
            "SELECT answers ->> 'need', count(*) FROM survey_responses"
            " WHERE survey_id = :s GROUP BY 1",
            sid,
        )
    )
    assert {k: v for k, v in by_key["need"]["counts"].items() if v} == need
    assert by_key["need"]["shares"]["elder"] == round(need.get("elder", 0) / 40, 4)
    also = dict(
        await _sql(
            db,
            "SELECT e.v, count(*) FROM survey_responses r,"
            " jsonb_array_elements_text(r.answers -> 'also') e(v)"
            " WHERE r.survey_id = :s GROUP BY 1",
            sid,
        )
    )
    assert {k: v for k, v in by_key["also"]["counts"].items() if v} == also
    [(answered_also,)] = await _sql(
        db, "SELECT count(*) FROM survey_responses WHERE survey_id = :s AND answers ? 'also'", sid
    )
    assert by_key["also"]["answered"] == answered_also
    [(mean,)] = await _sql(
        db,
        "SELECT round(avg((answers ->> 'satisfied')::int), 4)::float8 FROM survey_responses"
        " WHERE survey_id = :s",
        sid,
    )
    assert by_key["satisfied"]["mean"] == mean
    dist = dict(
        await _sql(
            db,
            "SELECT answers ->> 'satisfied', count(*) FROM survey_responses"
            " WHERE survey_id = :s GROUP BY 1",
            sid,
        )
    )
    assert {k: v for k, v in by_key["satisfied"]["distribution"].items() if v} == dist
    # Borda: with 3 options, position p earns 4 − p points.
    borda = await _sql(
        db,
        "SELECT e.v, sum(4 - e.p)::int, round(avg(e.p), 4)::float8 FROM survey_responses r,"
        " jsonb_array_elements_text(r.answers -> 'order') WITH ORDINALITY e(v, p)"
        " WHERE r.survey_id = :s GROUP BY 1 ORDER BY 2 DESC, 3, 1",
        sid,
    )
    ranking = by_key["order"]["ranking"]
    assert [(x["option"], x["borda"], x["mean_rank"]) for x in ranking] == [tuple(b) for b in borda]
    [(texts,)] = await _sql(
        db, "SELECT count(*) FROM survey_responses WHERE survey_id = :s AND answers ? 'idea'", sid
    )
    assert by_key["idea"]["answered"] == texts
    [(points,)] = await _sql(
        db, "SELECT count(*) FROM survey_responses WHERE survey_id = :s AND answers ? 'where'", sid
    )
    assert len(by_key["where"]["points"]) == points == by_key["where"]["answered"]

    # Texts: paged without repeats, searched in Chinese.
    seen: list[str] = []
    cursor = None
    while True:
        url = f"/api/v1/surveys/{sid}/results/idea/texts?limit=4" + (
            f"&cursor={cursor}" if cursor else ""
        )
        page = (await client.get(url, headers=w.h["committee"])).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == texts
    found = (
        await client.get(
            f"/api/v1/surveys/{sid}/results/idea/texts?q=电梯&limit=100", headers=w.h["committee"]
        )
    ).json()
    [(lifts,)] = await _sql(
        db,
        "SELECT count(*) FROM survey_responses WHERE survey_id = :s"
        " AND answers ->> 'idea' LIKE '%电梯%'",
        sid,
    )
    assert len(found["items"]) == lifts and all("电梯" in t["text"] for t in found["items"])
    wrong = await client.get(f"/api/v1/surveys/{sid}/results/need/texts", headers=w.h["committee"])
    assert wrong.status_code == 422

    # The export: one row per questionnaire, labels not keys, phones masked.
    exported = await client.get(
        f"/api/v1/exports/surveys/{sid}?format=csv", headers=w.h["committee"]
    )
    assert exported.status_code == 403  # committee staff do not export
    street = await login(client, await make_user(db, role=Role.street, area=w.street))
    exported = await client.get(f"/api/v1/exports/surveys/{sid}?format=csv", headers=street)
    assert exported.status_code == 200, exported.text
    assert exported.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert len(body) == 40
    assert header[8:] == [
        q["title"] if q["kind"] != "location" else q["title"] + "（WGS-84）" for q in QUESTIONS
    ]
    need_col = header.index(QUESTIONS[0]["title"])
    labels = {"为老服务": "elder", "托育": "kids", "健身": "sport"}
    exported_need: dict[str, int] = {}
    for row in body:
        exported_need[labels[row[need_col]]] = exported_need.get(labels[row[need_col]], 0) + 1
    assert exported_need == need
    phones = [row[header.index("手机号（脱敏）")] for row in body if row[1] == "线上"]
    assert len(phones) == 25 and all("****" in p and len(p) == 11 for p in phones)
    xlsx = await client.get(f"/api/v1/exports/surveys/{sid}?format=xlsx", headers=street)
    assert xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert sheet.count("<row ") == 41

    # Charts: an SVG with the Chinese labels and the counts, a PNG.
    svg = await client.get(f"/api/v1/surveys/{sid}/results/need.svg", headers=w.h["committee"])
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "为老服务" in svg.text and f">{need.get('elder', 0)}（" in svg.text
    ranked = await client.get(f"/api/v1/surveys/{sid}/results/order.svg", headers=w.h["committee"])
    assert f"{ranking[0]['borda']} 分" in ranked.text
    png = await client.get(f"/api/v1/surveys/{sid}/results/satisfied.png", headers=w.h["committee"])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    missing = await client.get(f"/api/v1/surveys/{sid}/results/nope.svg", headers=w.h["committee"])
    assert missing.status_code == 404
    odd = await client.get(f"/api/v1/surveys/{sid}/results/need.gif", headers=w.h["committee"])
    assert odd.status_code == 404 and odd.json()["code"] == "chart_format_unknown"


async def test_results_follow_every_change_between_repeated_reads(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """The encoded results are kept per exact input: each read after a change shows it (a new
    response, a changed answer with the same count, a paper sheet, the close), and two reads
    with nothing between them are the same reply."""
    w = await make_world(db, client)
    sid = (await open_survey(client, w.h["committee"], w.a))["id"]
    url = f"/api/v1/surveys/{sid}/results"

    async def need_counts() -> tuple[str, int, dict[str, int]]:
        r = await client.get(url, headers=w.h["committee"])
        assert r.status_code == 200, r.text
        body = r.json()
        need = next(q for q in body["questions"] if q["key"] == "need")
        return body["status"], body["responses"], need["counts"]

    assert await need_counts() == ("open", 0, {"elder": 0, "kids": 0, "sport": 0})
    assert (
        await respond(client, w.h["resident"], sid, {"need": "elder", "satisfied": 3})
    ).status_code == 201
    first = await client.get(url, headers=w.h["committee"])
    again = await client.get(url, headers=w.h["committee"])
    assert first.content == again.content
    assert await need_counts() == ("open", 1, {"elder": 1, "kids": 0, "sport": 0})
    changed = await client.put(
        f"/api/v1/surveys/{sid}/responses/mine",
        json={"answers": {"need": "kids", "satisfied": 3}},
        headers=w.h["resident"],
    )
    assert changed.status_code == 200, changed.text
    assert await need_counts() == ("open", 1, {"elder": 0, "kids": 1, "sport": 0})
    paper = await respond(
        client, w.h["committee"], sid, {"need": "sport", "satisfied": 5}, channel="paper"
    )
    assert paper.status_code == 201, paper.text
    assert await need_counts() == ("open", 2, {"elder": 0, "kids": 1, "sport": 1})
    closed = await client.post(f"/api/v1/surveys/{sid}/close", headers=w.h["committee"])
    assert closed.status_code == 200, closed.text
    assert await need_counts() == ("closed", 2, {"elder": 0, "kids": 1, "sport": 1})
