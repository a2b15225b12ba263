from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.system import AuditEntry
from src.models.user import Role, RoleGrant
from tests.builders import login, make_user
from tests.staff.helpers import Org, make_org, problem_code


@pytest.fixture
async def org(client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]) -> Org:
    return await make_org(db, client)


async def grant(
    client: httpx.AsyncClient, headers: dict[str, str], area_id: object, user_id: object, role: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/areas/{area_id}/staff",
        json={"user_id": str(user_id), "role": role},
        headers=headers,
    )


async def revoke(
    client: httpx.AsyncClient, headers: dict[str, str], area_id: object, user_id: object, role: str
) -> httpx.Response:
    return await client.delete(
        f"/api/v1/areas/{area_id}/staff/{user_id}", params={"role": role}, headers=headers
    )


async def test_grant_matrix(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], org: Org
) -> None:
    target = await make_user(db, community=org.a)
    # (who, area, role) → (status, code)
    cases = [
        ("admin", org.a, "committee", (201, None)),
        ("admin", org.street, "street", (201, None)),
        ("admin", org.street, "planner", (201, None)),
        ("admin", org.district, "admin", (201, None)),
        ("admin", org.other_community, "committee", (403, "area_forbidden")),
        ("admin", org.other_district, "admin", (403, "area_forbidden")),
        ("street", org.b, "committee", (201, None)),
        ("street", org.other_community, "committee", (403, "area_forbidden")),
        ("street", org.street, "street", (403, "role_above_own")),
        ("street", org.street, "planner", (403, "role_above_own")),
        ("street", org.district, "admin", (403, "role_above_own")),
        ("other_street", org.a, "committee", (403, "area_forbidden")),
        ("committee", org.a, "committee", (403, "role_required")),
        ("planner", org.a, "committee", (403, "role_required")),
        ("resident", org.a, "committee", (403, "role_required")),
        ("admin", org.street, "committee", (422, "role_level_mismatch")),
        ("admin", org.a, "street", (422, "role_level_mismatch")),
        ("admin", org.street, "admin", (422, "role_level_mismatch")),
        ("admin", org.a, "resident", (422, "role_level_mismatch")),
    ]
    for who, area, role, expected in cases:
        response = await grant(client, org.h[who], area.id, target.id, role)
        assert problem_code(response) == expected, (who, area.name, role, response.text)
        if response.status_code == 201:
            body = response.json()
            assert body["role"] == role and body["area_id"] == str(area.id)
            assert body["granted_by"] == str(org.people[who].id)

    # Messages are Chinese by default, English on request.
    above = await client.post(
        f"/api/v1/areas/{org.street.id}/staff",
        json={"user_id": str(target.id), "role": "street"},
        headers={**org.h["street"], "Accept-Language": "en"},
    )
    assert above.json()["detail"] == "You may not manage a role above your own"
    above_zh = await grant(client, org.h["street"], org.street.id, target.id, "street")
    assert above_zh.json()["detail"] == "不能授予或撤销高于自身的角色"

    # Granting again is harmless: 200, still one row.
    again = await grant(client, org.h["admin"], org.a.id, target.id, "committee")
    assert again.status_code == 200
    async with db() as session:
        rows = (
            await session.scalars(select(RoleGrant).where(RoleGrant.user_id == target.id))
        ).all()
    assert sorted((r.role.value, r.area_id) for r in rows) == sorted(
        [
            ("committee", org.a.id),
            ("committee", org.b.id),
            ("street", org.street.id),
            ("planner", org.street.id),
            ("admin", org.district.id),
        ]
    )
    # A user may hold several roles; the staff list of the street shows both of theirs.
    staff = await client.get(f"/api/v1/areas/{org.street.id}/staff", headers=org.h["planner"])
    assert staff.status_code == 200
    mine = sorted(s["role"] for s in staff.json() if s["user_id"] == str(target.id))
    assert mine == ["planner", "street"]
    assert {"user_id", "display_name", "role"} <= set(staff.json()[0])
    # Residents do not see the staff list; staff of another district do not either.
    assert (
        await client.get(f"/api/v1/areas/{org.a.id}/staff", headers=org.h["resident"])
    ).status_code == 403
    assert (
        await client.get(f"/api/v1/areas/{org.a.id}/staff", headers=org.h["other_street"])
    ).status_code == 403

    # Bad input and unknowns.
    unknown_user = await grant(
        client, org.h["admin"], org.a.id, "0190a0a0-0000-7000-8000-000000000000", "committee"
    )
    assert problem_code(unknown_user) == (404, "not_found")
    unknown_area = await grant(
        client, org.h["admin"], "0190a0a0-0000-7000-8000-000000000000", target.id, "committee"
    )
    assert problem_code(unknown_area) == (404, "not_found")
    bad_role = await grant(client, org.h["admin"], org.a.id, target.id, "mayor")
    assert problem_code(bad_role) == (422, "validation_failed")
    extra = await client.post(
        f"/api/v1/areas/{org.a.id}/staff",
        json={"user_id": str(target.id), "role": "committee", "area_id": str(org.b.id)},
        headers=org.h["admin"],
    )
    assert problem_code(extra) == (422, "validation_failed")

    # Every grant left an audit row naming who and where.
    async with db() as session:
        audits = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "staff.grant", AuditEntry.object_id == str(target.id)
                )
            )
        ).all()
    assert len(audits) == 5
    assert {a.actor_id for a in audits} == {org.people["admin"].id, org.people["street"].id}


async def test_revoke_rules_and_last_admin(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], org: Org
) -> None:
    member = await make_user(db, community=org.a)
    assert (await grant(client, org.h["street"], org.a.id, member.id, "committee")).status_code
    assert (await grant(client, org.h["admin"], org.street.id, member.id, "planner")).status_code

    # Street staff revoke committee roles, not planners; committees revoke nothing.
    no = await revoke(client, org.h["street"], org.street.id, member.id, "planner")
    assert problem_code(no) == (403, "role_above_own")
    no = await revoke(client, org.h["committee"], org.a.id, member.id, "committee")
    assert problem_code(no) == (403, "role_required")
    no = await revoke(client, org.h["other_street"], org.a.id, member.id, "committee")
    assert problem_code(no) == (403, "area_forbidden")
    ok = await revoke(client, org.h["street"], org.a.id, member.id, "committee")
    assert ok.status_code == 204
    gone = await revoke(client, org.h["street"], org.a.id, member.id, "committee")
    assert problem_code(gone) == (404, "not_found")
    missing_role = await client.delete(
        f"/api/v1/areas/{org.a.id}/staff/{member.id}", headers=org.h["street"]
    )
    assert missing_role.status_code in (400, 422)

    # The only admin of the district cannot be revoked, not even by themself.
    admin = org.people["admin"]
    last = await revoke(client, org.h["admin"], org.district.id, admin.id, "admin")
    assert problem_code(last) == (409, "last_admin")
    # With a second admin, one may go.
    second = await make_user(db)
    assert (await grant(client, org.h["admin"], org.district.id, second.id, "admin")).status_code
    second_h = await login(client, second)
    assert (await revoke(client, second_h, org.district.id, admin.id, "admin")).status_code == 204
    last = await revoke(client, second_h, org.district.id, second.id, "admin")
    assert problem_code(last) == (409, "last_admin")

    async with db() as session:
        revoked = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "staff.revoke", AuditEntry.area_id == org.district.id
                )
            )
        ).all()
    assert [(r.actor_id, r.object_id, r.details["role"]) for r in revoked] == [
        (second.id, str(admin.id), "admin")
    ]


async def test_two_admins_revoking_each_other_at_once_leave_one(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], org: Org
) -> None:
    first = org.people["admin"]
    second = await make_user(db)
    assert (await grant(client, org.h["admin"], org.district.id, second.id, "admin")).status_code
    second_h = await login(client, second)
    results = await asyncio.gather(
        revoke(client, org.h["admin"], org.district.id, second.id, "admin"),
        revoke(client, second_h, org.district.id, first.id, "admin"),
    )
    statuses = sorted(problem_code(r) for r in results)
    # Either both ran in turn (the second refused as last admin) or the second caller had
    # already lost the role when their request was authorised.
    assert statuses[0] == (204, None)
    assert statuses[1] in ((403, "role_required"), (409, "last_admin"))
    async with db() as session:
        admins = (
            await session.scalars(
                select(RoleGrant).where(
                    RoleGrant.area_id == org.district.id, RoleGrant.role == "admin"
                )
            )
        ).all()
    assert len(admins) == 1


async def test_revocation_applies_to_tokens_already_issued(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], org: Org
) -> None:
    member = await make_user(db, community=org.a)
    assert (
        await grant(client, org.h["street"], org.a.id, member.id, "committee")
    ).status_code == 201
    token = await login(client, member)  # issued while the role is held
    residents = f"/api/v1/areas/{org.a.id}/residents"
    assert (await client.get(residents, headers=token)).status_code == 200
    me = await client.get("/api/v1/me", headers=token)
    assert "committee" in str(me.json())

    assert (await revoke(client, org.h["street"], org.a.id, member.id, "committee")).status_code
    # The very next request with the same token no longer carries the role.
    denied = await client.get(residents, headers=token)
    assert problem_code(denied) == (403, "role_required")
    # The token itself still signs the user in, as a resident.
    assert (await client.get("/api/v1/me", headers=token)).status_code == 200

    # The same holds for the granting power: a street official whose role is revoked
    # cannot grant with the token they already hold.
    street_token = org.h["street"]
    assert (
        await revoke(client, org.h["admin"], org.street.id, org.people["street"].id, "street")
    ).status_code == 204
    late = await grant(client, street_token, org.a.id, member.id, "committee")
    assert problem_code(late) == (403, "role_required")


async def test_concurrent_identical_grants_make_one_role(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], org: Org
) -> None:
    target = await make_user(db, community=org.a)
    city_admin = await login(client, await make_user(db, role=Role.admin, city_admin=True))
    responses = await asyncio.gather(
        *(grant(client, org.h["admin"], org.a.id, target.id, "committee") for _ in range(4)),
        grant(client, city_admin, org.a.id, target.id, "committee"),
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
    async with db() as session:
        rows = (
            await session.scalars(select(RoleGrant).where(RoleGrant.user_id == target.id))
        ).all()
        audits = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "staff.grant", AuditEntry.object_id == str(target.id)
                )
            )
        ).all()
    assert len(rows) == 1 and len(audits) == 1
    # A city admin works in every district.
    other = await grant(client, city_admin, org.other_community.id, target.id, "committee")
    assert other.status_code == 201
