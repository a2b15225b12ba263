from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.areas.importer import OPTIONAL as AREA_OPTIONAL
from src.areas.importer import REQUIRED as AREA_REQUIRED
from src.areas.importer import import_area_row
from src.core.csv_import import ImportFileError, ImportSummary, print_outcome, read_rows, run_import
from src.models.area import Area
from src.models.system import AuditEntry
from src.models.user import RoleGrant, User
from src.staff.importer import OPTIONAL as STAFF_OPTIONAL
from src.staff.importer import REQUIRED as STAFF_REQUIRED
from src.staff.importer import import_staff_row
from tests import builders
from tests.builders import login, unique_code, unique_phone

ROOT = Path(__file__).resolve().parents[2]
AREA_HEADER = ["code", "name", "level", "parent_code", "lat", "lng", "coord_sys", "boundary"]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    # Written as Excel does: UTF-8 with a BOM.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


async def import_areas(
    db: async_sessionmaker[AsyncSession], path: Path, *, strict: bool = False, batch: int = 100
) -> tuple[ImportSummary, str]:
    out = io.StringIO()
    rows = read_rows(path, AREA_REQUIRED, AREA_OPTIONAL)
    summary = await run_import(
        db, rows, import_area_row, strict=strict, label="areas", out=out, batch_size=batch
    )
    return summary, out.getvalue()


async def import_staff(
    db: async_sessionmaker[AsyncSession], path: Path, *, strict: bool = False
) -> ImportSummary:
    rows = read_rows(path, STAFF_REQUIRED, STAFF_OPTIONAL)
    return await run_import(
        db, rows, import_staff_row, strict=strict, label="staff", out=io.StringIO()
    )


def area_rows(d: str, s: str, c1: str, c2: str) -> list[list[str]]:
    ring = [[121.40, 31.23], [121.42, 31.23], [121.42, 31.25], [121.40, 31.25], [121.40, 31.23]]
    boundary = json.dumps({"type": "Polygon", "coordinates": [ring]})
    return [
        [d, "导入区", "district", "", "31.24", "121.41", "", ""],
        [s, "导入街道", "street", d, "31.241", "121.411", "wgs84", boundary],
        [c1, "导入一村", "community", s, "31.242", "121.412", "", ""],
        [c2, "导入二村", "community", s, "31.243", "121.413", "bd09", ""],
    ]


async def count_codes(db: async_sessionmaker[AsyncSession], codes: list[str]) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).where(Area.code.in_(codes))) or 0)


async def test_areas_lenient_import_reports_bad_rows_and_rerun_changes_nothing(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    d, s, c1, c2 = (unique_code(p) for p in "DSCC")
    unclosed = json.dumps(
        {
            "type": "Polygon",
            "coordinates": [[[121.4, 31.2], [121.5, 31.2], [121.5, 31.3], [121.4, 31.3]]],
        }
    )
    bad = [
        [unique_code("X"), "无上级", "community", "NOPE", "31.2", "121.4", "", ""],
        [unique_code("X"), "挂在区下", "community", d, "31.2", "121.4", "", ""],
        [unique_code("X"), "纬度越界", "community", s, "200", "121.4", "", ""],
        [unique_code("X"), "级别错", "village", s, "31.2", "121.4", "", ""],
        [c1, "换了级别", "street", d, "31.2", "121.4", "", ""],
        [unique_code("X"), "边界未闭合", "street", d, "31.2", "121.4", "", unclosed],
        [unique_code("X"), "坐标系错", "street", d, "31.2", "121.4", "mars", ""],
        ["bad code!", "编码错", "street", d, "31.2", "121.4", "", ""],
    ]
    path = write_csv(tmp_path / "areas.csv", AREA_HEADER, area_rows(d, s, c1, c2) + bad)
    # Batches of three: the first is clean, the others mix good and bad rows.
    summary, progress = await import_areas(db, path, batch=3)
    assert summary.counts["created"] == 4
    assert [e.line for e in summary.rejected] == list(range(6, 14))
    messages = [e.message for e in summary.rejected]
    assert messages[0].startswith("unknown_parent")
    assert messages[1].startswith("parent_level_mismatch")
    assert "lat" in messages[2] and "level" in messages[3]
    assert messages[4].startswith("area_moved")
    assert "closed" in messages[5] and "coord_sys" in messages[6] and "code" in messages[7]
    assert summary.exit_code == 1
    assert "12/12 rows (100%)" in progress
    assert await count_codes(db, [d, s, c1, c2]) == 4
    async with db() as session:
        street = (await session.scalars(select(Area).where(Area.code == s))).one()
        community = (await session.scalars(select(Area).where(Area.code == c1))).one()
        created = await session.scalar(
            select(func.count()).where(
                AuditEntry.action == "area.create",
                AuditEntry.details["source"].astext == "cli",
                AuditEntry.details["code"].astext.in_([d, s, c1, c2]),
            )
        )
    assert street.boundary is not None and street.boundary["coordinates"][0][0] == [121.4, 31.23]
    assert community.path[0] == street.path[0] and community.parent_id == street.id
    assert created == 4

    # The same file again: nothing new, the same rows rejected.
    again, _ = await import_areas(db, path)
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 4}
    assert len(again.rejected) == 8 and again.exit_code == 1
    assert await count_codes(db, [d, s, c1, c2]) == 4

    # A renamed community is updated in place; the report lists the rejected rows.
    rows = area_rows(d, s, c1, c2)
    rows[2][1] = "导入一村（新）"
    renamed = write_csv(tmp_path / "renamed.csv", AREA_HEADER, rows + bad[:1])
    third, _ = await import_areas(db, renamed)
    assert third.counts == {"created": 0, "updated": 1, "unchanged": 3}
    report = tmp_path / "bad.csv"
    code = print_outcome(third, io.StringIO(), io.StringIO(), report, AREA_HEADER)
    assert code == 1
    with report.open(encoding="utf-8-sig") as handle:
        reported = list(csv.DictReader(handle))
    assert [(r["line"], r["name"]) for r in reported] == [("6", "无上级")]


async def test_areas_import_sets_a_streets_reference_prefix(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    d, s, c1, c2 = (unique_code(p) for p in "DSCC")
    prefix, later = builders.unique_prefix(), builders.unique_prefix()
    header = [*AREA_HEADER, "reference_prefix"]
    rows = [[*row, prefix if row[0] == s else ""] for row in area_rows(d, s, c1, c2)]
    first = write_csv(tmp_path / "areas.csv", header, rows)
    summary, _ = await import_areas(db, first)
    assert summary.counts["created"] == 4 and not summary.rejected

    async def prefixes() -> dict[str, str | None]:
        async with db() as session:
            found = await session.execute(
                select(Area.code, Area.reference_prefix).where(Area.code.in_([d, s, c1, c2]))
            )
            return dict(found.tuples().all())

    assert await prefixes() == {d: None, s: prefix, c1: None, c2: None}
    # An empty cell leaves a prefix as is; a new one replaces it; a prefix is a street's only,
    # in the right shape, and not another street's.
    taken = builders.unique_prefix()
    other = unique_code("S")
    again = [
        [*area_rows(d, s, c1, c2)[1], later],
        [*area_rows(d, s, c1, c2)[2], builders.unique_prefix()],
        [other, "另一街道", "street", d, "31.25", "121.42", "", "", taken],
        [unique_code("S"), "同前缀街道", "street", d, "31.25", "121.42", "", "", taken],
        [unique_code("S"), "小写前缀", "street", d, "31.25", "121.42", "", "", "cy"],
    ]
    second = write_csv(tmp_path / "again.csv", header, [[*rows[0][:-1], ""], *again])
    summary, _ = await import_areas(db, second)  # one batch, redone row by row
    assert summary.counts["updated"] == 1 and summary.counts["created"] == 1, summary.rejected
    messages = [e.message for e in summary.rejected]
    assert [e.line for e in summary.rejected] == [4, 6, 7], messages
    assert "reference_prefix" in messages[0] and "reference_prefix" in messages[2]
    assert messages[1].startswith("reference_prefix_taken")
    assert (await prefixes())[s] == later


async def test_strict_import_is_all_or_nothing(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    d, s, c1, c2 = (unique_code(p) for p in "DSCC")
    rows = area_rows(d, s, c1, c2)
    bad = [unique_code("X"), "坏行", "community", s, "abc", "121.4", "", ""]
    path = write_csv(tmp_path / "strict.csv", AREA_HEADER, [*rows[:2], bad, *rows[2:]])
    summary, _ = await import_areas(db, path, strict=True)
    assert summary.rolled_back and summary.exit_code == 2
    assert [e.line for e in summary.rejected] == [4]
    assert "nothing was saved" in summary.line()
    assert await count_codes(db, [d, s, c1, c2]) == 0

    good = write_csv(tmp_path / "good.csv", AREA_HEADER, rows)
    ok, _ = await import_areas(db, good, strict=True)
    assert ok.exit_code == 0 and ok.counts["created"] == 4
    assert await count_codes(db, [d, s, c1, c2]) == 4


async def test_staff_import_sets_up_people_who_can_then_work(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    d, s, c1, c2 = (unique_code(p) for p in "DSCC")
    areas = write_csv(tmp_path / "areas.csv", AREA_HEADER, area_rows(d, s, c1, c2))
    assert (await import_areas(db, areas))[0].exit_code == 0
    admin, street, committee = unique_phone(), unique_phone(), unique_phone()
    header = ["phone", "display_name", "area_code", "role"]
    good = [
        [admin, "导入管理员", d, "admin"],
        [street, "导入街道干部", s, "street"],
        [street, "", s, "planner"],  # a known phone needs no name
        [committee, "导入居委", c1, "committee"],
        [committee, "导入居委", c2, "committee"],
    ]
    bad = [
        ["12345", "坏号码", c1, "committee"],
        [unique_phone(), "无区域", "NOPE", "committee"],
        [unique_phone(), "级别不符", s, "committee"],
        [unique_phone(), "", c1, "committee"],
        [unique_phone(), "角色错", c1, "mayor"],
    ]
    path = write_csv(tmp_path / "staff.csv", header, good + bad)
    summary = await import_staff(db, path)
    assert summary.counts == {"created": 5, "updated": 0, "unchanged": 0}
    messages = [e.message for e in summary.rejected]
    assert "phone" in messages[0]
    assert messages[1].startswith("unknown_area")
    assert messages[2].startswith("role_level_mismatch")
    assert messages[3].startswith("display_name_required")
    assert "role" in messages[4]
    assert summary.exit_code == 1
    async with db() as session:
        users = (await session.scalars(select(User).where(User.phone.in_([admin, street])))).all()
        assert len(users) == 2
        grants = await session.scalar(
            select(func.count()).where(RoleGrant.user_id.in_([u.id for u in users]))
        )
        assert grants == 3
        # Rejected rows left no users behind.
        assert (
            await session.scalar(select(func.count()).where(User.display_name == "级别不符")) == 0
        )

    again = await import_staff(db, path)
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 5}

    # The imported admin signs in and manages their district through the API.
    async with db() as session:
        admin_user = (await session.scalars(select(User).where(User.phone == admin))).one()
        c1_area = (await session.scalars(select(Area).where(Area.code == c1))).one()
        committee_user = (await session.scalars(select(User).where(User.phone == committee))).one()
    headers = await login(client, builders.TestUser(admin_user.id, admin))
    staff = await client.get(f"/api/v1/areas/{c1_area.id}/staff", headers=headers)
    assert [(x["user_id"], x["role"]) for x in staff.json()] == [
        (str(committee_user.id), "committee")
    ]
    revoked = await client.delete(
        f"/api/v1/areas/{c1_area.id}/staff/{committee_user.id}",
        params={"role": "committee"},
        headers=headers,
    )
    assert revoked.status_code == 204

    # Strict: the one bad row keeps every good one out.
    newcomer = unique_phone()
    strict = write_csv(
        tmp_path / "strict.csv", header, [[newcomer, "新人", c2, "committee"], bad[1]]
    )
    result = await import_staff(db, strict, strict=True)
    assert result.exit_code == 2
    async with db() as session:
        assert await session.scalar(select(func.count()).where(User.phone == newcomer)) == 0


async def run_cli(*args: str, database_url: str) -> tuple[int, str, str]:
    env = {**os.environ, "LIFECIRCLE_DATABASE_URL": database_url, "LIFECIRCLE_ENV": "test"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "src.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_imports_the_example_files(
    db: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    areas = ROOT / "docs" / "examples" / "areas.csv"
    staff = ROOT / "docs" / "examples" / "staff.csv"
    code, out, err = await run_cli("areas", "import", str(areas), database_url=database_url)
    assert code == 0, err
    assert "6 created" in out and "0 rejected" in out and "6/6 rows" in out
    code, out, err = await run_cli(
        "staff", "import", str(staff), "--strict", database_url=database_url
    )
    assert code == 0, err
    assert "6 created" in out
    # Run again: idempotent, exit 0.
    code, out, _ = await run_cli("areas", "import", str(areas), database_url=database_url)
    assert code == 0 and "0 created" in out and "6 unchanged" in out
    # Only bad rows: nothing done → 2, with the rows named and written to the report.
    bad = write_csv(
        tmp_path / "bad.csv", AREA_HEADER, [["Z1", "坏", "district", "", "x", "121", "", ""]]
    )
    report = tmp_path / "report.csv"
    code, out, err = await run_cli(
        "areas", "import", str(bad), "--report", str(report), database_url=database_url
    )
    assert code == 2 and "line 2" in err and report.exists()
    async with db() as session:
        granted = await session.scalar(
            select(func.count())
            .select_from(RoleGrant)
            .join(User, User.id == RoleGrant.user_id)
            .where(User.phone.like("137000001%"))
        )
    assert granted == 6


def test_unusable_files_are_refused_before_anything_runs(tmp_path: Path) -> None:
    cases = {
        "missing.csv": None,
        "header.csv": "code,name,level\nX,Y,district\n",
        "unknown.csv": ",".join([*AREA_HEADER, "colour"]) + "\n",
        "empty.csv": ",".join(AREA_HEADER) + "\n\n",
        "binary.csv": b"\xff\xfe\x00code",
    }
    expected = {
        "missing.csv": "no such file",
        "header.csv": "missing columns: parent_code, lat, lng",
        "unknown.csv": "unknown columns: colour",
        "empty.csv": "no rows",
        "binary.csv": "not a UTF-8 CSV",
    }
    for name, content in cases.items():
        path = tmp_path / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        elif isinstance(content, bytes):
            path.write_bytes(content)
        with pytest.raises(ImportFileError, match=expected[name]):
            read_rows(path, AREA_REQUIRED, AREA_OPTIONAL)
