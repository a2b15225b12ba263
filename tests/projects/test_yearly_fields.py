"""The yearly project list's fields: kind, content, implementation path, funding source,
design team; the kind= filter on the list."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.projects.helpers import create_project, patch
from tests.proposals.helpers import make_world


async def test_yearly_fields_are_kept_changed_and_filtered(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    h = w.h["committee"]
    plain = await create_project(client, h, w.a, year=2027)
    assert plain["kind"] == "general" and plain["content"] == "" and plain["need_ids"] == []
    assert plain["funding_source"] == "区级财政" == plain["budget_source"]
    hub = await create_project(
        client,
        h,
        w.a,
        year=2027,
        kind="renmin_fang",
        content="党群服务+长者食堂",
        implementation_path="街道统筹、社会组织运营",
        design_team="社区规划师团队",
        funding_source="市级补贴",
        budget_source="市级补贴",  # the same value under both names is fine
    )
    assert hub["kind"] == "renmin_fang" and hub["implementation_path"] == "街道统筹、社会组织运营"
    assert hub["funding_source"] == hub["budget_source"] == "市级补贴"

    changed = await patch(
        client, h, hub["id"], kind="liuyi_ting", design_team=None, funding_source="区级财政"
    )
    assert changed.status_code == 200, changed.text
    out = changed.json()
    assert out["kind"] == "liuyi_ting" and out["design_team"] is None
    assert out["budget_source"] == "区级财政"
    detail = await client.get(f"/api/v1/projects/{hub['id']}", headers=h)
    assert detail.json()["kind"] == "liuyi_ting" and detail.json()["content"] == "党群服务+长者食堂"

    listed = await client.get(
        "/api/v1/projects",
        params={"community_id": str(w.a.id), "year": 2027, "kind": "liuyi_ting"},
        headers=h,
    )
    assert [p["id"] for p in listed.json()["items"]] == [hub["id"]]
    assert listed.json()["items"][0]["content"] == "党群服务+长者食堂"
    general = await client.get(
        "/api/v1/projects",
        params={"community_id": str(w.a.id), "year": 2027, "kind": "general"},
        headers=h,
    )
    assert [p["id"] for p in general.json()["items"]] == [plain["id"]]
    bad_kind = await client.get(
        "/api/v1/projects", params={"community_id": str(w.a.id), "kind": "palace"}, headers=h
    )
    assert bad_kind.status_code in (400, 422) and "code" in bad_kind.json()


async def test_yearly_fields_are_validated(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    h = w.h["committee"]
    base = {"title": "口袋公园", "community_id": str(w.a.id), "category": "public_space"}
    for extra in (
        {"kind": "palace"},
        {"funding_source": "市级", "budget_source": "区级"},
        {"design_team": "x" * 201},
        {"planned_start": "2027-05-01", "planned_end": "2027-01-01"},
    ):
        response = await client.post("/api/v1/projects", json={**base, **extra}, headers=h)
        assert response.status_code == 422, (extra, response.text)
        assert response.json()["code"] == "validation_failed"
    project = await create_project(client, h, w.a)
    for body in (
        {"kind": None},
        {"content": None},
        {"funding_source": "市级", "budget_source": "区级"},
    ):
        response = await patch(client, h, project["id"], **body)
        assert response.status_code == 422, (body, response.text)
