from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.system import AuditEntry, OutboxItem
from src.models.user import Role
from tests.builders import login, make_user, unique_code
from tests.proposals.helpers import World, make_world, submit


def new_code() -> str:
    return unique_code("cat").lower()


async def admin_headers(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> dict[str, str]:
    return await login(client, await make_user(db, role=Role.admin, city_admin=True))


async def add(
    client: httpx.AsyncClient, headers: dict[str, str], code: str, **fields: object
) -> httpx.Response:
    body = {
        "code": code,
        "name_zh": "夜间集市",
        "name_en": "Night markets",
        "group": "livable",
        **fields,
    }
    return await client.post("/api/v1/categories", json=body, headers=headers)


async def codes_offered(client: httpx.AsyncClient, w: World) -> set[str]:
    listed = await client.get("/api/v1/proposals/categories", headers=w.h["resident"])
    return {c["code"] for c in listed.json()}


async def test_add_rename_retire_restore(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    admin = await admin_headers(client, db)
    code = new_code()

    created = await add(client, admin, code, sort_order=900)
    assert created.status_code == 201, created.text
    assert created.json() == {
        "kind": "proposal",
        "code": code,
        "name": "夜间集市",
        "name_zh": "夜间集市",
        "name_en": "Night markets",
        "group": "livable",
        "sort_order": 900,
        "retired": False,
        "retired_at": None,
        "tier_minutes": None,
    }
    # Offered at once, to residents and in both lists.
    assert code in await codes_offered(client, w)
    everyone = await client.get("/api/v1/categories")
    assert everyone.status_code == 200
    assert code in {c["code"] for c in everyone.json()}
    old = await submit(client, w.h["resident"], category=code, title="夜市噪音")

    renamed = await client.patch(
        f"/api/v1/categories/{code}",
        json={"name_zh": "夜市与小吃", "name_en": "Night markets and snacks", "group": "leisure"},
        headers={**admin, "Accept-Language": "en"},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Night markets and snacks"
    listed = {c["code"]: c for c in (await client.get("/api/v1/categories")).json()}
    assert listed[code]["name"] == "夜市与小吃" and listed[code]["group"] == "leisure"

    retired = await client.patch(
        f"/api/v1/categories/{code}", json={"retired": True}, headers=admin
    )
    assert retired.status_code == 200
    assert retired.json()["retired"] is True and retired.json()["retired_at"] is not None
    twice = await client.patch(f"/api/v1/categories/{code}", json={"retired": True}, headers=admin)
    assert twice.status_code == 200 and twice.json() == retired.json()  # a no-op, not audited
    # No longer offered, refused for new suggestions and projects with a clear code …
    assert code not in await codes_offered(client, w)
    assert code not in {c["code"] for c in (await client.get("/api/v1/categories")).json()}
    refused = await client.post(
        "/api/v1/proposals",
        json={"title": "再提一条", "body": "内容", "category": code},
        headers=w.h["resident"],
    )
    assert refused.status_code == 422 and refused.json()["code"] == "category_retired"
    assert refused.json()["errors"] == [{"field": "category", "message": "retired category"}]
    project = await client.post(
        "/api/v1/projects",
        json={"title": "夜市整治", "community_id": str(w.a.id), "category": code},
        headers=w.h["committee"],
    )
    assert project.status_code == 422 and project.json()["code"] == "category_retired"
    # … while old records keep it, and the full list still names it.
    kept = await client.get(f"/api/v1/proposals/{old['id']}", headers=w.h["resident"])
    assert kept.json()["category"] == code
    by_cat = await client.get(
        f"/api/v1/proposals?community_id={w.a.id}&category={code}", headers=w.h["committee"]
    )
    assert [p["id"] for p in by_cat.json()["items"]] == [old["id"]]
    full = await client.get("/api/v1/categories?include_retired=true")
    assert {c["code"]: c["retired"] for c in full.json()}[code] is True

    restored = await client.patch(
        f"/api/v1/categories/{code}", json={"retired": False}, headers=admin
    )
    assert restored.status_code == 200 and restored.json()["retired"] is False
    again = await client.post(
        "/api/v1/proposals",
        json={"title": "再提一条", "body": "内容", "category": code},
        headers=w.h["resident"],
    )
    assert again.status_code == 201

    async with db() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == "category", AuditEntry.object_id == code)
                .order_by(AuditEntry.id)
            )
        ).all()
        topics = (
            await session.scalars(
                select(OutboxItem.payload)
                .where(OutboxItem.ordering_key == f"category:proposal:{code}")
                .order_by(OutboxItem.id)
            )
        ).all()
    assert actions == ["category.create", "category.update", "category.retire", "category.restore"]
    assert [p["retired"] for p in topics] == [False, False, True, False]


async def test_duplicate_codes_are_refused_even_when_retired(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    admin = await admin_headers(client, db)
    code = new_code()
    assert (await add(client, admin, code)).status_code == 201
    duplicate = await add(client, admin, code, name_zh="别的名字")
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "category_exists"
    seeded = await add(client, admin, "parking")
    assert seeded.status_code == 409 and seeded.json()["code"] == "category_exists"
    await client.patch(f"/api/v1/categories/{code}", json={"retired": True}, headers=admin)
    reused = await add(client, admin, code)
    assert reused.status_code == 409 and reused.json()["code"] == "category_exists"
    listed = {
        c["code"]: c for c in (await client.get("/api/v1/categories?include_retired=1")).json()
    }
    assert listed[code]["name_zh"] == "夜间集市"  # the first one was not overwritten


async def test_only_admins_manage_and_bad_input(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    admin = await admin_headers(client, db)
    code = new_code()
    for who in ("resident", "committee", "street_staff", "planner"):
        denied = await add(client, w.h[who], code)
        assert denied.status_code == 403, (who, denied.text)
        assert denied.json()["code"] == "role_required"
        patched = await client.patch(
            "/api/v1/categories/parking", json={"name_zh": "改名"}, headers=w.h[who]
        )
        assert patched.status_code == 403, (who, patched.text)
    assert (await add(client, {}, code)).status_code == 401
    assert (
        await client.patch("/api/v1/categories/parking", json={"retired": True})
    ).status_code == 401

    bad_bodies: list[dict[str, object]] = [
        {"code": "Bad-Code"},
        {"code": "x"},
        {"code": "a" * 33},
        {"code": "1abc"},
        {"group": "fun"},
        {"name_zh": ""},
        {"name_en": "x" * 81},
        {"sort_order": -1},
        {"colour": "red"},
    ]
    for fields in bad_bodies:
        response = await add(client, admin, **{"code": code, **fields})  # type: ignore[arg-type]
        assert response.status_code == 422, (fields, response.text)
        assert response.json()["code"] == "validation_failed"
    not_json = await client.post(
        "/api/v1/categories",
        content=b"{nope",
        headers={**admin, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    for body in ({}, {"name_zh": None}, {"retired": None}, {"group": "fun"}, {"code": "x"}):
        response = await client.patch("/api/v1/categories/parking", json=body, headers=admin)
        assert response.status_code == 422, (body, response.text)
    missing = await client.patch(
        f"/api/v1/categories/{new_code()}", json={"name_zh": "无"}, headers=admin
    )
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    # Nothing was created by the refused requests.
    listed = (await client.get("/api/v1/categories?include_retired=true")).json()
    assert code not in {c["code"] for c in listed}


async def test_facility_kind_is_listed_read_only(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    admin = await admin_headers(client, db)
    unknown = await client.get(
        "/api/v1/categories?kind=spaceship", headers={"Accept-Language": "en"}
    )
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["code"] == "unknown_category_kind"
    assert "facility" in unknown.json()["detail"]
    proposal = await client.get("/api/v1/categories?kind=proposal")
    assert proposal.status_code == 200 and len(proposal.json()) >= 16
    assert {c["kind"] for c in proposal.json()} == {"proposal"}

    # The facility list is the facilities domain's own table, in the same shape.
    facility = await client.get("/api/v1/categories?kind=facility")
    assert facility.status_code == 200, facility.text
    listed = facility.json()
    nearby = (await client.get("/api/v1/facilities/categories")).json()
    assert [c["code"] for c in listed] == [c["code"] for c in nearby]
    assert {c["kind"] for c in listed} == {"facility"}
    groups = {
        "宜居": "livable",
        "宜业": "work",
        "宜游": "leisure",
        "宜学": "learning",
        "宜养": "care",
    }
    by_code = {c["code"]: c for c in listed}
    for c in nearby:
        mine = by_code[c["code"]]
        assert mine["name"] == mine["name_zh"] == c["name"]
        assert mine["tier_minutes"] == c["tier_minutes"]
        assert mine["group"] == groups[c["group"]] and mine["retired"] is False
    english = await client.get(
        "/api/v1/categories?kind=facility", headers={"Accept-Language": "en"}
    )
    assert [c["name"] for c in english.json()] == [c["name_en"] for c in nearby]
    assert proposal.json()[0]["tier_minutes"] is None

    # Read-only here: facility categories come with the facilities data.
    created = await add(client, admin, new_code(), kind="facility")
    assert created.status_code == 422 and created.json()["code"] == "category_kind_read_only"
    patched = await client.patch(
        f"/api/v1/categories/{listed[0]['code']}?kind=facility",
        json={"name_zh": "停车"},
        headers=admin,
    )
    assert patched.status_code == 422 and patched.json()["code"] == "category_kind_read_only"
    odd = await add(client, admin, new_code(), kind="spaceship")
    assert odd.status_code == 422 and odd.json()["code"] == "unknown_category_kind"
    again = (await client.get("/api/v1/categories?kind=facility")).json()
    assert again == listed
