"""The whole loop through HTTP: suggestions → needs → planned → project → file → table."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.exports.helpers import add_proposal, read_csv, read_xlsx
from tests.needs.helpers import YEAR, create_need, make_world, plan


async def test_suggestions_to_ranked_needs_to_project_to_file_and_table(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    lift = [
        await add_proposal(db, w.a, w.resident, title=f"{n}号楼加装电梯", supports=s)
        for n, s in ((1, 12), (2, 5), (3, 0))
    ]
    bench = await add_proposal(db, w.a, w.resident, title="小区增设座椅", supports=30)
    park = await add_proposal(db, w.b, w.resident, title="口袋公园", supports=2)

    committee = w.h["committee"]
    need = await create_need(client, committee, community=w.a, proposal_ids=[p.id for p in lift])
    assert need["evidence"] == {"supports": 17, "survey_votes": 0, "suggestions": 3}
    assert need["score"] == 3 + 17
    assert need["status"] == "open" and need["project_ids"] == []
    assert sorted(s["id"] for s in need["suggestions"]) == sorted(str(p.id) for p in lift)
    seats = await create_need(
        client, committee, community=w.a, proposal_ids=[bench.id], title="增设休息座椅"
    )
    assert seats["score"] == 31
    street_need = await create_need(
        client,
        w.h["street"],
        street=w.street,
        proposal_ids=[park.id, lift[0].id],
        title="街道慢行步道",
        category="public_space",
    )
    assert street_need["community_id"] is None and street_need["score"] == 2 + 2 + 12

    # The community's list: its own needs, most evidence first.
    listed = await client.get(
        f"/api/v1/areas/{w.a.id}/needs", params={"year": YEAR}, headers=committee
    )
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [i["id"] for i in items] == [seats["id"], need["id"]]
    assert [i["rank"] for i in items] == [1, 2]
    # The street's list: every need of the street, ranked together.
    street_list = await client.get(
        f"/api/v1/areas/{w.street.id}/needs", params={"year": YEAR}, headers=w.h["planner"]
    )
    assert [i["id"] for i in street_list.json()["items"]] == [
        seats["id"],
        need["id"],
        street_need["id"],
    ]
    # A support more moves the score (it is read live from the suggestions).
    async with db() as session, session.begin():
        await session.execute(
            text("UPDATE proposals SET support_count = support_count + 20 WHERE id = :id"),
            {"id": lift[2].id},
        )
    again = await client.get(f"/api/v1/needs/{need['id']}", headers=committee)
    assert again.json()["score"] == 40
    reranked = await client.get(
        f"/api/v1/areas/{w.a.id}/needs", params={"year": YEAR}, headers=committee
    )
    assert [i["id"] for i in reranked.json()["items"]] == [need["id"], seats["id"]]

    # Plan it (with a reason), then make next year's project from it.
    planned = await plan(client, committee, need["id"])
    assert planned.status_code == 200, planned.text
    assert planned.json()["status"] == "planned" and planned.json()["reason"] == "列入明年计划"
    declined = await client.patch(
        f"/api/v1/needs/{seats['id']}",
        json={"status": "declined", "reason": "已有座椅"},
        headers=committee,
    )
    assert declined.json()["status"] == "declined"
    created = await client.post(
        f"/api/v1/needs/{need['id']}/projects",
        json={
            "kind": "renmin_fang",
            "content": "1-3号楼加装电梯",
            "implementation_path": "居民自治+街道代建",
            "responsible_unit": "街道管理办",
            "funding_source": "区级财政",
            "design_team": "同济规划院",
            "planned_start": f"{YEAR + 1}-03-01",
            "planned_end": f"{YEAR + 1}-10-31",
        },
        headers=committee,
    )
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["year"] == YEAR + 1 and project["kind"] == "renmin_fang"
    assert project["need_ids"] == [need["id"]]
    assert project["funding_source"] == project["budget_source"] == "区级财政"
    assert project["title"] == need["title"] and project["category"] == "accessibility"
    detail = await client.get(f"/api/v1/projects/{project['id']}", headers=committee)
    assert detail.json()["need_ids"] == [need["id"]]
    assert detail.json()["design_team"] == "同济规划院"
    after = await client.get(f"/api/v1/needs/{need['id']}", headers=committee)
    assert after.json()["project_ids"] == [project["id"]]
    # The project list with the new filters.
    by_kind = await client.get(
        "/api/v1/projects",
        params={"community_id": str(w.a.id), "year": YEAR + 1, "kind": "renmin_fang"},
        headers=committee,
    )
    assert [p["id"] for p in by_kind.json()["items"]] == [project["id"]]
    assert by_kind.json()["items"][0]["need_ids"] == [need["id"]]
    other_kind = await client.get(
        "/api/v1/projects",
        params={"community_id": str(w.a.id), "kind": "liuyi_ting"},
        headers=committee,
    )
    assert other_kind.json()["items"] == []

    # The street's file for the city office: one row per project, needs and suggestions.
    csv_file = await client.get(
        "/api/v1/exports/project-list",
        params={"street_id": str(w.street.id), "year": YEAR + 1, "format": "csv"},
        headers=w.h["street"],
    )
    assert csv_file.status_code == 200, csv_file.text
    header, *rows = read_csv(csv_file)
    assert header[:5] == ["项目编号", "街道", "社区", "年度", "项目名称"]
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["项目编号"] == project["id"] and row["项目类型"] == "人民坊"
    assert row["建设内容"] == "1-3号楼加装电梯" and row["设计团队"] == "同济规划院"
    assert row["资金来源"] == "区级财政" and row["计划完成"] == f"{YEAR + 1}-10-31"
    assert row["对应需求"] == need["title"] and row["需求数"] == "1"
    assert row["居民建议数"] == "3" and row["建议支持数"] == "37"
    assert row["居民建议（支持数）"].split("；")[0] == "3号楼加装电梯（20）"
    assert w.resident.phone not in csv_file.text and "测试用户" not in csv_file.text
    # The district's file (XLSX) has the same row.
    xlsx = await client.get(
        "/api/v1/exports/project-list",
        params={"district_id": str(w.district.id), "year": YEAR + 1},
        headers=w.h["district"],
    )
    assert xlsx.status_code == 200, xlsx.text
    sheet = read_xlsx(xlsx).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert len(values) == 2 and values[1][0] == project["id"] and values[1][5] == "人民坊"

    # The annex table: the district's streets, the street's communities.
    stats = await client.get(
        f"/api/v1/areas/{w.district.id}/project-stats",
        params={"year": YEAR + 1},
        headers=w.h["district"],
    )
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["total"] == 1 and body["renmin_fang"] == 1 and body["renmin_fang_done"] == 0
    assert [(c["area_id"], c["total"]) for c in body["children"]] == [(str(w.street.id), 1)]
    street_stats = await client.get(
        f"/api/v1/areas/{w.street.id}/project-stats",
        params={"year": YEAR + 1},
        headers=w.h["committee"],
    )
    assert street_stats.status_code == 403  # a committee's role does not cover the street
    community_stats = await client.get(
        f"/api/v1/areas/{w.a.id}/project-stats",
        params={"year": YEAR + 1},
        headers=w.h["committee"],
    )
    assert community_stats.json()["total"] == 1 and community_stats.json()["children"] == []
