"""``lifecircle surveys import-paper``: good sheets in, bad rows named by line, --strict keeps
nothing, results count paper apart and together."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.staff.test_import import run_cli
from tests.surveys.helpers import ANSWERS, make_world, open_survey, respond

HEADER = ["sheet_no", "community", "need", "also", "satisfied", "order", "idea", "where"]


def write(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


async def _paper_count(db: async_sessionmaker[AsyncSession], sid: str) -> int:
    async with db() as session:
        count: int = await session.scalar(
            text(
                "SELECT count(*) FROM survey_responses WHERE survey_id = :s AND channel = 'paper'"
            ),
            {"s": sid},
        )
    return count


async def test_import_with_bad_rows_and_strict(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
) -> None:
    w = await make_world(db, client)
    survey = await open_survey(client, w.h["street_staff"], w.street)
    sid = survey["id"]
    assert (await respond(client, w.h["resident"], sid, ANSWERS)).status_code == 201
    good = [
        ["S-1", w.a.code, "elder", "meal|park", "5", "lift>green", "楼道太暗", "31.2431,121.4150"],
        ["S-2", w.b.name, "为老服务", "助餐、菜场", "4", "", "", ""],  # labels work too
        ["S-3", "", "kids", "", "2", "parking|lift|green", "", ""],
    ]
    bad = [
        ["S-4", "", "zoo", "", "3", "", "", ""],  # line 5: unknown option
        ["S-5", "", "elder", "", "", "", "", ""],  # line 6: required scale missing
        ["S-1", "", "elder", "", "3", "", "", ""],  # line 7: sheet twice in the file
        ["S-8", "NOWHERE", "elder", "", "9", "", "", ""],  # line 8: community and scale
    ]
    path = write(tmp_path / "paper.csv", good + bad)

    strict_code, out, err = await run_cli(
        "surveys", "import-paper", str(path), "--survey", sid, "--strict", database_url=database_url
    )
    assert strict_code == 2, (out, err)
    assert "--strict: nothing was saved" in out
    assert await _paper_count(db, sid) == 0

    report = tmp_path / "rejected.csv"
    code, out, err = await run_cli(
        "surveys",
        "import-paper",
        str(path),
        "--survey",
        sid,
        "--report",
        str(report),
        database_url=database_url,
    )
    assert code == 1, (out, err)
    for line in (5, 6, 7, 8):
        assert f"line {line}:" in err
    assert "column.need: unknown option: zoo" in err
    assert "column.satisfied: required" in err
    assert "also on line 2" in err
    assert "3 created" in out and "4 rejected" in out and "(100%)" in out
    with report.open(encoding="utf-8-sig") as handle:
        assert [r["line"] for r in csv.DictReader(handle)] == ["5", "6", "7", "8"]
    assert await _paper_count(db, sid) == 3

    # Run again: the sheets are there already, each named.
    again, out, err = await run_cli(
        "surveys",
        "import-paper",
        str(write(tmp_path / "again.csv", good[:1])),
        "--survey",
        sid,
        database_url=database_url,
    )
    assert again == 2 and "entered already" in err

    results = (
        await client.get(f"/api/v1/surveys/{sid}/results", headers=w.h["street_staff"])
    ).json()
    assert (results["responses"], results["online"], results["paper"]) == (4, 1, 3)
    need = results["questions"][0]
    assert need["counts"] == {"elder": 3, "kids": 1, "sport": 0}
    assert need["counts_paper"] == {"elder": 2, "kids": 1, "sport": 0}
    also = results["questions"][1]
    assert also["counts_paper"] == {"meal": 2, "clinic": 0, "park": 1, "market": 1}
    async with db() as session:
        placed = await session.scalar(
            text(
                "SELECT count(*) FROM survey_responses WHERE survey_id = :s AND community_id = :c"
            ),
            {"s": sid, "c": w.b.id},
        )
    assert placed == 1


async def test_unusable_file_or_survey_does_nothing(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
) -> None:
    w = await make_world(db, client)
    survey = await open_survey(client, w.h["committee"], w.a)
    unknown = write(
        tmp_path / "u.csv", [["1", "", "elder", "", "3", "", "", "", "x"]], [*HEADER, "colour"]
    )
    code, _, err = await run_cli(
        "surveys", "import-paper", str(unknown), "--survey", survey["id"], database_url=database_url
    )
    assert code == 2 and "unknown columns: colour" in err
    missing = write(tmp_path / "m.csv", [["1", "elder"]], ["sheet_no", "need"])
    code, _, err = await run_cli(
        "surveys", "import-paper", str(missing), "--survey", survey["id"], database_url=database_url
    )
    assert code == 2 and "missing columns: satisfied" in err
    await client.post(f"/api/v1/surveys/{survey['id']}/close", headers=w.h["committee"])
    ok = write(tmp_path / "ok.csv", [["1", "", "elder", "", "3", "", "", ""]])
    code, _, err = await run_cli(
        "surveys", "import-paper", str(ok), "--survey", survey["id"], database_url=database_url
    )
    assert code == 2 and "closed" in err
