"""Exports of a review meeting's ratings and of a coordination meeting's results, read back
from the files (csv module, openpyxl) as the street staff would open them."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from pathlib import Path

import httpx
import openpyxl
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.user import Role
from tests.builders import login, make_tree, make_user
from tests.events.helpers import create_event, make_world
from tests.exports.helpers import read_csv, read_xlsx, utf8_filename
from tests.projects.helpers import create_project
from tests.votes.helpers import OPTIONS, vote

ROOT = Path(__file__).resolve().parents[2]
SCORES = {"overall": 5, "design": 4, "construction": 3, "usefulness": 4}


async def _export_records(db: async_sessionmaker[AsyncSession], kind: str) -> list[object]:
    async with db() as session:
        rows = await session.execute(
            text(
                "SELECT e.id, e.row_count, e.status::text AS status, e.filters,"
                " (SELECT count(*) FROM audit_log a WHERE a.object_id = e.id::text) AS audits"
                " FROM exports e WHERE e.kind = :k ORDER BY e.created_at"
            ),
            {"k": kind},
        )
        return list(rows)


async def test_ratings_export_with_comments(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    other = await make_tree(db, communities=1)
    other_street = await login(client, await make_user(db, role=Role.street, area=other.street))
    project = await create_project(client, w.h["committee"], w.a, title="口袋公园")
    review = await create_event(
        client, w.h["committee"], w.a, kind="review", project_id=project["id"], open_it=True
    )
    for who, scores, comment in (
        ("resident", SCORES, "=1+1 座椅太少"),
        ("neighbour", {**SCORES, "overall": 2}, None),
    ):
        body = {"scores": scores, **({"comment": comment} if comment else {})}
        rated = await client.post(
            f"/api/v1/events/{review['id']}/ratings", json=body, headers=w.h[who]
        )
        assert rated.status_code == 201, rated.text

    url = "/api/v1/exports/ratings"
    by_event = await client.get(
        url, params={"event_id": review["id"], "format": "csv"}, headers=w.h["street_staff"]
    )
    assert by_event.status_code == 200, by_event.text
    assert by_event.headers["content-type"].startswith("text/csv")
    assert utf8_filename(by_event).startswith("口袋公园")
    rows = read_csv(by_event)
    header, body_rows = rows[0], rows[1:]
    assert header[:5] == ["评分编号", "社区", "项目", "评议会", "总体满意度"]
    assert len(body_rows) == 2
    col = {name: i for i, name in enumerate(header)}
    first = body_rows[0]
    assert first[col["项目"]] == "口袋公园" and first[col["社区"]] == w.a.name
    assert [r[col["总体满意度"]] for r in body_rows] == ["5", "2"]
    assert first[col["评价内容"]] == "'=1+1 座椅太少"  # never run as a formula
    assert first[col["评价已隐藏"]] == "否"
    phone = first[col["手机号（脱敏）"]]
    assert "****" in phone and len(phone) == 11
    assert "construction=3" in first[col["全部评分"]]

    by_project = await client.get(
        url,
        params={"project_id": project["id"], "format": "xlsx"},
        headers={**w.h["street_staff"], "Accept-Language": "en"},
    )
    assert by_project.status_code == 200, by_project.text
    sheet = read_xlsx(by_project).active
    values = list(sheet.values)
    assert sheet.title == "Ratings"
    assert values[0][:5] == ("Rating ID", "Community", "Project", "Review meeting", "Overall")
    assert [v[4] for v in values[1:]] == [5, 2]

    # Scope and input, as for the suggestions export.
    for headers, status in (
        (other_street, 403),
        (w.h["committee"], 403),
        (w.h["resident"], 403),
    ):
        refused = await client.get(url, params={"event_id": review["id"]}, headers=headers)
        assert refused.status_code == status, refused.text
    for params in ({}, {"event_id": review["id"], "project_id": project["id"]}):
        bad = await client.get(url, params=params, headers=w.h["street_staff"])
        assert bad.status_code == 422 and bad.json()["code"] == "validation_failed"
    missing = await client.get(
        url,
        params={"project_id": "0190d7a4-1b2c-7d3e-8f40-123456789abc"},
        headers=w.h["street_staff"],
    )
    assert missing.status_code == 404

    records = await _export_records(db, "ratings")
    mine = [r for r in records if r.filters.get("event_id") == review["id"]]
    assert [(r.row_count, r.status, r.audits) for r in mine] == [(2, "completed", 1)]
    listed = await client.get("/api/v1/exports", headers=w.h["street_staff"])
    assert "ratings" in {e["kind"] for e in listed.json()["items"]}


async def test_coordination_results_export(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    other = await make_tree(db, communities=1)
    other_street = await login(client, await make_user(db, role=Role.street, area=other.street))
    event = await create_event(
        client,
        w.h["committee"],
        w.a,
        options=OPTIONS,
        voting={"quorum": 3, "electorate": 10},
        open_it=True,
    )
    eid, opts = event["id"], [o["id"] for o in event["options"]]
    assert (await vote(client, w.h["resident"], eid, [opts[0]])).status_code == 201
    assert (await vote(client, w.h["neighbour"], eid, [opts[1]])).status_code == 201
    paper = await client.post(
        f"/api/v1/events/{eid}/paper-counts",
        json={"counts": {opts[0]: 3}},
        headers=w.h["committee"],
    )
    assert paper.status_code == 201, paper.text
    url = f"/api/v1/exports/events/{eid}/results"

    # While open: the totals, no receipts yet.
    running = read_csv(await client.get(url, headers=w.h["street_staff"]))
    assert running[0] == ["部分", "项目", "数值/选项", "线上票数", "纸质票数", "合计票数", "得票率"]
    assert not [r for r in running if r[0] == "回执"]
    summary = {r[1]: r[2] for r in running if r[0] == "汇总"}
    assert summary["结果已最终确定"] == "否"

    closed = await client.post(f"/api/v1/events/{eid}/close", headers=w.h["committee"])
    assert closed.status_code == 200, closed.text
    results = (await client.get(f"/api/v1/events/{eid}/results", headers=w.h["resident"])).json()
    receipts = (await client.get(f"/api/v1/events/{eid}/receipts", headers=w.h["resident"])).json()

    rows = read_csv(await client.get(url, params={"format": "csv"}, headers=w.h["street_staff"]))
    summary = {r[1]: r[2] for r in rows if r[0] == "汇总"}
    assert summary["结果已最终确定"] == "是"
    assert summary["有资格投票人数"] == str(results["eligible_count"])
    assert summary["线上投票人数"] == "2" and summary["纸质票/举手人数"] == "3"
    assert float(summary["投票率"]) == results["turnout"]
    assert summary["法定人数"] == "3" and summary["达到法定人数"] == "是"
    assert summary["可投票人数"] == "10" and results["electorate"] == 10
    # The digest of the published receipts, as the results carry it (64 hex digits).
    assert summary["回执摘要 (SHA-256)"] == results["digest"] and len(results["digest"]) == 64
    options = [r for r in rows if r[0] == "选项"]
    assert [(r[1], r[3], r[4], r[5]) for r in options] == [
        (o["title"], str(o["online_votes"]), str(o["paper_votes"]), str(o["votes"]))
        for o in results["options"]
    ]
    assert options[0][3:6] == ["1", "3", "4"]
    exported = {r[1]: r[2] for r in rows if r[0] == "回执"}
    titles = {o["id"]: o["title"] for o in results["options"]}
    assert exported == {
        r["receipt"]: "；".join(titles[o] for o in r["option_ids"]) for r in receipts["items"]
    }
    assert len(exported) == 2

    book = await client.get(url, params={"format": "xlsx"}, headers=w.h["street_staff"])
    assert book.status_code == 200
    sheet = read_xlsx(book).active
    assert sheet.title == "投票结果"
    xrows = list(sheet.values)
    xoptions = [r for r in xrows if r[0] == "选项"]
    assert (xoptions[0][3], xoptions[0][4], xoptions[0][5]) == (1, 3, 4)
    assert abs(xoptions[0][6] - results["options"][0]["share"]) < 1e-9
    assert len([r for r in xrows if r[0] == "回执"]) == 2

    # Another street's staff, committees and residents are refused; not a vote → 422.
    for headers in (other_street, w.h["committee"], w.h["resident"]):
        assert (await client.get(url, headers=headers)).status_code == 403
    review = await create_event(client, w.h["committee"], w.a, kind="review")
    not_vote = await client.get(
        f"/api/v1/exports/events/{review['id']}/results", headers=w.h["street_staff"]
    )
    assert not_vote.status_code == 422
    records = [
        r for r in await _export_records(db, "event_results") if r.filters["event_id"] == eid
    ]
    assert [(r.row_count, r.status, r.audits) for r in records] == [
        (0, "completed", 1),
        (2, "completed", 1),
        (2, "completed", 1),
    ]


async def test_cli_exports_ratings_and_results(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
) -> None:
    w = await make_world(db, client)
    project = await create_project(client, w.h["committee"], w.a, title="口袋公园")
    review = await create_event(
        client, w.h["committee"], w.a, kind="review", project_id=project["id"], open_it=True
    )
    rated = await client.post(
        f"/api/v1/events/{review['id']}/ratings",
        json={"scores": SCORES, "comment": "很好"},
        headers=w.h["resident"],
    )
    assert rated.status_code == 201, rated.text
    event = await create_event(client, w.h["committee"], w.a, options=OPTIONS, open_it=True)
    assert (
        await vote(client, w.h["resident"], event["id"], [event["options"][2]["id"]])
    ).status_code == 201
    assert (
        await client.post(f"/api/v1/events/{event['id']}/close", headers=w.h["committee"])
    ).status_code == 200
    env = {**os.environ, "LIFECIRCLE_DATABASE_URL": database_url, "LIFECIRCLE_ENV": "test"}

    ratings_file = tmp_path / "ratings.csv"
    code, stderr = await _cli(env, "ratings", "--project", project["id"], "-o", str(ratings_file))
    assert code == 0, stderr
    assert "✓ 1 rows" in stderr
    rows = list(csv.reader(io.StringIO(ratings_file.read_bytes().decode("utf-8-sig"), newline="")))
    assert len(rows) == 2 and "很好" in rows[1]

    results_file = tmp_path / "results.xlsx"
    code, stderr = await _cli(
        env,
        "results",
        "--event",
        event["id"],
        "--format",
        "xlsx",
        "--lang",
        "en",
        "-o",
        str(results_file),
    )
    assert code == 0, stderr
    values = list(openpyxl.load_workbook(results_file).active.values)
    assert values[0][0] == "Section"
    options = [r for r in values if r[0] == "Options"]
    assert [r[5] for r in options] == [0, 0, 1]
    assert len([r for r in values if r[0] == "Receipts"]) == 1

    code, stderr = await _cli(
        env, "results", "--event", review["id"], "-o", str(tmp_path / "x.csv")
    )
    assert code == 2 and "event_id" in stderr
    assert not (tmp_path / "x.csv").exists()


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "src.cli",
        "export",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, stderr.decode()
