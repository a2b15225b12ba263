"""Suggestion exports: the files are read back (csv module, openpyxl) and compared with the
database — every row there, nothing extra, masking applied, formulas neutralised."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.proposal import ProposalStatus
from tests.builders import login, make_user
from tests.exports.helpers import (
    World,
    add_proposal,
    make_world,
    read_csv,
    read_xlsx,
    utf8_filename,
)

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
URL = "/api/v1/exports/proposals"
S = ProposalStatus

TRICKY_BODY = '他说："电梯, 要装"\n第二行\r\n第三行'
FORMULAS = ['=HYPERLINK("http://evil")', "+86-1", "-2+3", "@SUM(A1)", "\tTAB"]


async def _seed(db: async_sessionmaker[AsyncSession], w: World) -> dict[str, object]:
    when = dt.datetime(2026, 3, 5, 1, 30, 15, tzinfo=dt.UTC)  # 09:30:15 in Shanghai
    main = await add_proposal(
        db,
        w.a,
        w.author,
        title="加装电梯",
        body=TRICKY_BODY,
        supports=12,
        created_at=when,
        lat=31.2412345,
        lng=121.4098765,
        replies=["已收到，街道将现场查看", "已列入年度项目"],
        moves=[(S.submitted, S.under_review), (S.under_review, S.accepted)],
        status=S.accepted,
        staff=w.street_staff,
    )
    anon = await add_proposal(
        db,
        w.b,
        w.author,
        title="匿名建议",
        anonymous=True,
        category="parking",
        created_at=when + dt.timedelta(days=1),
    )
    formulas = [
        await add_proposal(
            db, w.a, w.author, title=f, body=f, created_at=when + dt.timedelta(days=2 + i)
        )
        for i, f in enumerate(FORMULAS)
    ]
    return {"main": main, "anon": anon, "formulas": formulas}


async def test_csv_opens_in_excel_and_matches_the_database(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    seeded = await _seed(db, w)
    # Another street's suggestion must not leak in.
    other = await make_world(db, client)
    await add_proposal(db, other.a, other.author, title="别处的建议")

    response = await client.get(
        URL, params={"street_id": str(w.street.id), "format": "csv"}, headers=w.h["street_staff"]
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"  # the charset once
    assert response.headers["cache-control"] == "no-store"
    name = utf8_filename(response)
    assert name.startswith("测试街道居民建议_") and name.endswith(".csv")
    assert 'filename="proposals_' in response.headers["content-disposition"]

    raw = response.content
    # CRLF after every record; the only bare LFs are inside quoted bodies.
    first_line = raw.split(b"\r\n", 1)[0].decode("utf-8-sig")
    assert first_line.startswith("建议编号,系统编号,社区,类别,标题")
    rows = read_csv(response)
    header, data = rows[0], rows[1:]
    assert header[:5] == ["建议编号", "系统编号", "社区", "类别", "标题"]
    col = {name: i for i, name in enumerate(header)}
    by_id = {r[col["系统编号"]]: r for r in data}

    async with db() as session:
        expected = set(
            str(i)
            for i in await session.scalars(
                text("SELECT id FROM proposals WHERE street_id = :s"), {"s": w.street.id}
            )
        )
        phone = (
            await session.execute(text("SELECT phone FROM users WHERE id = :u"), {"u": w.author.id})
        ).scalar_one()
    assert set(by_id) == expected and len(data) == len(expected) == 7

    main = by_id[str(seeded["main"].id)]  # type: ignore[attr-defined]
    assert main[col["建议编号"]] == seeded["main"].reference  # type: ignore[attr-defined]
    assert main[col["标题"]] == "加装电梯"
    assert main[col["内容"]] == TRICKY_BODY  # quotes, comma, LF and CRLF survive
    assert main[col["社区"]] == w.a.name
    assert main[col["状态"]] == "已采纳"
    assert main[col["支持数"]] == "12"
    assert main[col["提交时间"]] == "2026-03-05 09:30:15"
    assert main[col["手机号（脱敏）"]] == f"{phone[:3]}****{phone[-4:]}"
    assert phone not in response.text
    assert main[col["纬度（WGS-84，约百米）"]] == "31.241"
    assert main[col["经度（WGS-84，约百米）"]] == "121.41"
    assert main[col["回复数"]] == "2"
    assert "已收到，街道将现场查看" in main[col["回复内容"]]
    assert "已列入年度项目" in main[col["回复内容"]]
    assert main[col["状态变更记录"]] == "2026-03-06 已提交→审核中；2026-03-07 审核中→已采纳"

    anon = by_id[str(seeded["anon"].id)]  # type: ignore[attr-defined]
    assert anon[col["提交人"]] == "匿名居民"
    assert anon[col["手机号（脱敏）"]] == ""
    assert anon[col["社区"]] == w.b.name
    assert anon[col["回复数"]] == "0"

    for proposal, formula in zip(seeded["formulas"], FORMULAS, strict=True):  # type: ignore[call-overload]
        row = by_id[str(proposal.id)]
        assert row[col["标题"]] == "'" + formula
        assert row[col["内容"]] == "'" + formula

    # The export is recorded (who, filter, format, rows) and audited.
    export_id = response.headers["x-export-id"]
    listing = await client.get("/api/v1/exports", headers=w.h["street_staff"])
    assert listing.status_code == 200, listing.text
    item = next(i for i in listing.json()["items"] if i["id"] == export_id)
    assert item["row_count"] == 7 and item["status"] == "completed"
    assert item["format"] == "csv" and item["kind"] == "proposals"
    assert item["filters"]["street_id"] == str(w.street.id)
    assert item["actor"]["id"] == str(w.street_staff.id)
    assert item["area"]["name"] == "测试街道"
    async with db() as session:
        audit = (
            await session.execute(
                text("SELECT actor_id, action, area_id FROM audit_log WHERE object_id = :id"),
                {"id": export_id},
            )
        ).one()
    assert audit.action == "export.proposals" and audit.actor_id == w.street_staff.id


async def test_xlsx_has_typed_cells_frozen_header_and_english_headers(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    seeded = await _seed(db, w)
    markup = await add_proposal(db, w.b, w.author, title="<b>&amp;", body="a\x01b\x1fc & <d>")
    response = await client.get(
        URL, params={"street_id": str(w.street.id), "format": "xlsx"}, headers=w.h["street_staff"]
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert utf8_filename(response).endswith(".xlsx")
    book = read_xlsx(response)
    sheet = book.active
    assert sheet.title == "居民建议"
    assert sheet.freeze_panes == "A2"
    assert sheet.max_row == 1 + 8
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["建议编号", "系统编号", "社区", "类别"]
    assert all(c.font.b for c in sheet[1])
    assert sheet.column_dimensions["F"].width == 60
    col = {name: i for i, name in enumerate(header)}
    rows = {r[1].value: r for r in sheet.iter_rows(min_row=2)}

    main = rows[str(seeded["main"].id)]  # type: ignore[attr-defined]
    created = main[col["提交时间"]]
    assert isinstance(created.value, dt.datetime) and created.is_date
    assert abs(created.value - dt.datetime(2026, 3, 5, 9, 30, 15)) < dt.timedelta(seconds=1)
    assert main[col["支持数"]].value == 12 and main[col["支持数"]].data_type == "n"
    assert main[col["纬度（WGS-84，约百米）"]].value == 31.241
    assert main[col["内容"]].value == TRICKY_BODY
    assert main[col["状态"]].value == "已采纳"
    anon = rows[str(seeded["anon"].id)]  # type: ignore[attr-defined]
    assert anon[col["提交人"]].value == "匿名居民"
    assert anon[col["手机号（脱敏）"]].value is None
    # Markup is text; characters XML cannot carry are dropped.
    assert rows[str(markup.id)][col["标题"]].value == "<b>&amp;"
    assert rows[str(markup.id)][col["内容"]].value == "abc & <d>"
    assert anon[col["纬度（WGS-84，约百米）"]].value is None
    # Inline strings are text, never formulas (no apostrophe needed in a real cell type).
    for proposal, formula in zip(seeded["formulas"], FORMULAS, strict=True):  # type: ignore[call-overload]
        cell = rows[str(proposal.id)][col["标题"]]
        assert cell.value == formula and cell.data_type == "s"

    english = await client.get(
        URL,
        params={"community_id": str(w.a.id), "format": "xlsx"},
        headers={**w.h["street_staff"], "Accept-Language": "en"},
    )
    assert english.status_code == 200, english.text
    sheet = read_xlsx(english).active
    english_header = [c.value for c in sheet[1]][:4]
    assert english_header == ["Reference", "Suggestion ID", "Community", "Category"]
    assert sheet.max_row == 1 + 6  # community a only
    statuses = {r[6].value for r in sheet.iter_rows(min_row=2)}
    assert statuses == {"Accepted", "Submitted"}
    assert "Suggestions" in utf8_filename(english)


async def test_filters_select_exactly_the_matching_rows(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    day = dt.datetime(2026, 5, 10, 16, 30, tzinfo=dt.UTC)  # 2026-05-11 00:30 in Shanghai
    early = await add_proposal(db, w.a, w.author, created_at=day - dt.timedelta(hours=1))
    late = await add_proposal(db, w.a, w.author, created_at=day, category="parking")
    done = await add_proposal(db, w.b, w.author, created_at=day, status=S.done)

    async def ids(**params: str) -> set[str]:
        response = await client.get(
            URL, params={"street_id": str(w.street.id), **params}, headers=w.h["street_staff"]
        )
        assert response.status_code == 200, response.text
        return {r[1] for r in read_csv(response)[1:]}

    assert await ids() == {str(early.id), str(late.id), str(done.id)}
    # Dates are Shanghai calendar days, both ends inclusive.
    assert await ids(**{"from": "2026-05-11"}) == {str(late.id), str(done.id)}
    assert await ids(to="2026-05-10") == {str(early.id)}
    assert await ids(**{"from": "2026-05-10", "to": "2026-05-10"}) == {str(early.id)}
    assert await ids(status="done") == {str(done.id)}
    assert await ids(category="parking") == {str(late.id)}
    assert await ids(community_id=str(w.b.id)) == {str(done.id)}


async def test_who_may_export(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    await add_proposal(db, w.a, w.author)
    street = {"street_id": str(w.street.id)}

    async def status_code(who: str, **params: str) -> tuple[int, str | None]:
        response = await client.get(URL, params=params or street, headers=w.h[who])
        return response.status_code, response.json().get(
            "code"
        ) if response.status_code >= 400 else None

    assert (await client.get(URL, params=street)).status_code == 401
    assert await status_code("resident") == (403, "role_required")
    assert await status_code("committee") == (403, "role_required")
    assert await status_code("planner") == (403, "role_required")
    assert await status_code("other_street") == (403, "area_forbidden")
    assert await status_code("other_street", community_id=str(w.a.id)) == (403, "area_forbidden")
    assert await status_code("other_admin") == (403, "area_forbidden")
    assert await status_code("street_staff") == (200, None)
    assert await status_code("street_staff", community_id=str(w.a.id)) == (200, None)
    assert await status_code("district_admin") == (200, None)
    city_admin = await make_user(
        db, role=__import__("src.models.user", fromlist=["Role"]).Role.admin, city_admin=True
    )

    city = await login(client, city_admin)
    assert (await client.get(URL, params=street, headers=city)).status_code == 200
    missing = "00000000-0000-7000-8000-000000000000"
    assert await status_code("street_staff", street_id=missing) == (404, "not_found")

    # The list of past exports: street staff see their street's, admins their area's.
    async def listed(headers: dict[str, str]) -> int:
        response = await client.get("/api/v1/exports", params={"limit": 100}, headers=headers)
        assert response.status_code == 200, response.text
        return sum(
            1
            for i in response.json()["items"]
            if i["area"]["id"] in {str(w.street.id), str(w.a.id)}
        )

    assert await listed(w.h["street_staff"]) == 4
    assert await listed(w.h["district_admin"]) == 4
    assert await listed(city) == 4
    assert await listed(w.h["other_street"]) == 0
    for who in ("resident", "committee"):
        response = await client.get("/api/v1/exports", headers=w.h[who])
        assert response.status_code == 403 and response.json()["code"] == "role_required"


async def test_bad_parameters_are_4xx_problems(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    h = w.h["street_staff"]
    street = str(w.street.id)
    elsewhere = str((await make_world(db, client)).a.id)
    cases: list[tuple[dict[str, str], int, str]] = [
        ({}, 422, "area_required"),
        ({"street_id": street, "format": "pdf"}, 422, "validation_failed"),
        ({"street_id": street, "status": "bogus"}, 422, "validation_failed"),
        ({"street_id": street, "from": "2026-13-01"}, 422, "validation_failed"),
        ({"street_id": street, "from": "2026-05-02", "to": "2026-05-01"}, 422, "validation_failed"),
        ({"street_id": street, "category": "no-such"}, 422, "validation_failed"),
        ({"street_id": "not-a-uuid"}, 422, "validation_failed"),
        ({"street_id": str(w.a.id)}, 422, "validation_failed"),
        ({"community_id": street}, 422, "validation_failed"),
        ({"street_id": street, "community_id": elsewhere}, 422, "validation_failed"),
    ]
    for params, status, code in cases:
        response = await client.get(URL, params=params, headers=h)
        assert response.status_code == status, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code, (params, response.json())
    listing = await client.get("/api/v1/exports", params={"cursor": "%%%"}, headers=h)
    assert listing.status_code == 400 and listing.json()["code"] == "invalid_cursor"
    # Refused requests leave no export record behind.
    async with db() as session:
        count = await session.scalar(
            select(text("count(*)"))
            .select_from(text("exports"))
            .where(text("actor_id = :a"))
            .params(a=w.street_staff.id)
        )
    assert count == 0
