from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.system import AuditEntry, OutboxItem
from src.models.user import User
from tests.builders import login, make_user
from tests.staff.helpers import Org, make_org, problem_code


@pytest.fixture
async def org(client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]) -> Org:
    return await make_org(db, client)


async def test_residents_masked_counted_and_paged(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], org: Org
) -> None:
    # org.a already has one verified resident; add four more (two unverified) and one in b.
    extra = [await make_user(db, community=org.a, verified=v) for v in (True, True, False, False)]
    await make_user(db, community=org.b)
    url = f"/api/v1/areas/{org.a.id}/residents"
    seen: list[dict[str, object]] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await client.get(url, params=params, headers=org.h["committee"])
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["summary"] == {"count": 5, "verified_count": 3}
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and len({r["user_id"] for r in seen}) == 5
    by_id = {r["user_id"]: r for r in seen}
    first = by_id[str(extra[0].id)]
    assert first["phone"] == f"{extra[0].phone[:3]}****{extra[0].phone[-4:]}"
    assert extra[0].phone not in page.text
    assert by_id[str(extra[2].id)]["verified"] is False
    unverified = await client.get(url, params={"verified": "false"}, headers=org.h["committee"])
    assert {r["user_id"] for r in unverified.json()["items"]} == {
        str(extra[2].id),
        str(extra[3].id),
    }

    # Street staff and district admins see the whole street; the planner and others do not.
    street = await client.get(f"/api/v1/areas/{org.street.id}/residents", headers=org.h["street"])
    assert street.json()["summary"] == {"count": 6, "verified_count": 4}
    admin = await client.get(url, headers=org.h["admin"])
    assert admin.json()["summary"]["count"] == 5
    cases = [
        ("planner", (403, "role_required")),
        ("resident", (403, "role_required")),
        ("other_street", (403, "area_forbidden")),
        ("other_admin", (403, "area_forbidden")),
    ]
    for who, expected in cases:
        assert problem_code(await client.get(url, headers=org.h[who])) == expected, who
    committee_b = await client.get(
        f"/api/v1/areas/{org.b.id}/residents", headers=org.h["committee"]
    )
    assert problem_code(committee_b) == (403, "area_forbidden")
    bad_cursor = await client.get(url, params={"cursor": "nope"}, headers=org.h["committee"])
    assert problem_code(bad_cursor) == (400, "invalid_cursor")
    bad_limit = await client.get(url, params={"limit": "0"}, headers=org.h["committee"])
    assert bad_limit.status_code in (400, 422)


async def test_admin_moves_a_resident_with_a_reason(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], org: Org
) -> None:
    person = org.people["resident"]
    url = f"/api/v1/users/{person.id}"
    admin = org.h["admin"]
    missing = await client.patch(url, json={"home_community_id": str(org.b.id)}, headers=admin)
    assert problem_code(missing) == (422, "validation_failed")
    short = await client.patch(
        url, json={"home_community_id": str(org.b.id), "reason": " "}, headers=admin
    )
    assert problem_code(short) == (422, "validation_failed")
    to_street = await client.patch(
        url, json={"home_community_id": str(org.street.id), "reason": "搬家"}, headers=admin
    )
    assert problem_code(to_street) == (422, "not_a_community")
    for who, expected in [
        ("street", (403, "role_required")),
        ("committee", (403, "role_required")),
        ("other_admin", (403, "area_forbidden")),
    ]:
        denied = await client.patch(
            url, json={"home_community_id": str(org.b.id), "reason": "搬家"}, headers=org.h[who]
        )
        assert problem_code(denied) == expected, who
    outside = await client.patch(
        url,
        json={"home_community_id": str(org.other_community.id), "reason": "搬家"},
        headers=admin,
    )
    assert problem_code(outside) == (403, "area_forbidden")

    moved = await client.patch(
        url, json={"home_community_id": str(org.b.id), "reason": "居民搬家至B社区"}, headers=admin
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["home_community_id"] == str(org.b.id)
    assert "****" in moved.json()["phone"]
    # The resident sees the new home at once, with the token they already had.
    me = await client.get("/api/v1/me", headers=org.h["resident"])
    assert str(org.b.id) in me.text
    async with db() as session:
        user = await session.get(User, person.id)
        assert user is not None and user.home_community_id == org.b.id
        audit = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "user.home_change",
                    AuditEntry.object_id == str(person.id),
                )
            )
        ).one()
        assert audit.actor_id == org.people["admin"].id
        assert audit.details == {
            "from": str(org.a.id),
            "to": str(org.b.id),
            "reason": "居民搬家至B社区",
        }
        told = (
            await session.scalars(
                select(OutboxItem).where(OutboxItem.ordering_key == f"user:{person.id}")
            )
        ).all()
        assert [o.topic for o in told] == ["user.home_community_changed"]
    unknown = await client.patch(
        "/api/v1/users/0190a0a0-0000-7000-8000-000000000000",
        json={"home_community_id": str(org.b.id), "reason": "搬家"},
        headers=admin,
    )
    assert problem_code(unknown) == (404, "not_found")
    again = await login(client, person)
    assert (await client.get("/api/v1/me", headers=again)).status_code == 200
