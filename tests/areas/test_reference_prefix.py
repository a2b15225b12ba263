"""A street's reference prefix (CY → CY-2026-000123) over HTTP: admins set it when creating or
changing a street, it is shown with the area, malformed ones are 422 and a prefix that heads
another street's reference numbers is 409."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.area import AreaLevel
from tests.builders import login, make_user, unique_code, unique_prefix
from tests.proposals.helpers import submit
from tests.staff.helpers import Org, make_org, problem_code

EN = {"Accept-Language": "en"}


@pytest.fixture
async def org(client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]) -> Org:
    return await make_org(db, client)


def street_body(district: object, **extra: Any) -> dict[str, Any]:
    return {
        "code": unique_code("N"),
        "name": "新建街道",
        "level": "street",
        "parent_id": str(district),
        "centroid": {"lat": 31.25, "lng": 121.42, "coord_sys": "gcj02"},
        **extra,
    }


def field_errors(response: httpx.Response) -> set[str]:
    assert problem_code(response) == (422, "validation_failed"), response.text
    return {e["field"] for e in response.json()["errors"]}


async def test_an_admin_sets_a_street_prefix_and_everyone_sees_it(
    client: httpx.AsyncClient, org: Org
) -> None:
    admin = org.h["admin"]
    prefix = unique_prefix()
    created = await client.post(
        "/api/v1/areas", json=street_body(org.district.id, reference_prefix=prefix), headers=admin
    )
    assert created.status_code == 201, created.text
    assert created.json()["reference_prefix"] == prefix
    shown = await client.get(f"/api/v1/areas/{created.json()['id']}")
    assert shown.status_code == 200 and shown.json()["reference_prefix"] == prefix
    listed = await client.get(f"/api/v1/areas?parent_id={org.district.id}&limit=100")
    assert {a["id"]: a["reference_prefix"] for a in listed.json()["items"]}[
        created.json()["id"]
    ] == prefix

    # Changed, then removed (the street's numbers fall back to its code).
    other = unique_prefix()
    url = f"/api/v1/areas/{created.json()['id']}"
    changed = await client.patch(url, json={"reference_prefix": other}, headers=admin)
    assert changed.status_code == 200 and changed.json()["reference_prefix"] == other
    removed = await client.patch(url, json={"reference_prefix": None}, headers=admin)
    assert removed.status_code == 200 and removed.json()["reference_prefix"] is None
    assert (await client.get(url)).json()["reference_prefix"] is None

    # Other areas carry none.
    community = await client.patch(
        f"/api/v1/areas/{org.a.id}", json={"reference_prefix": unique_prefix()}, headers=admin
    )
    assert field_errors(community) == {"reference_prefix"}
    assert org.a.level == AreaLevel.community
    district = await client.patch(
        f"/api/v1/areas/{org.district.id}",
        json={"reference_prefix": unique_prefix()},
        headers=admin,
    )
    assert field_errors(district) == {"reference_prefix"}
    # Only an admin sets one.
    staff = await client.patch(
        f"/api/v1/areas/{org.street.id}",
        json={"reference_prefix": unique_prefix()},
        headers=org.h["street"],
    )
    assert staff.status_code == 403


@pytest.mark.parametrize("bad", ["cy", "C", "ABCDEFG", "C-Y", "C Y", "曹杨", "", 12])
async def test_a_malformed_prefix_is_422_on_its_field(
    client: httpx.AsyncClient, org: Org, bad: object
) -> None:
    admin = org.h["admin"]
    created = await client.post(
        "/api/v1/areas", json=street_body(org.district.id, reference_prefix=bad), headers=admin
    )
    assert field_errors(created) == {"reference_prefix"}
    patched = await client.patch(
        f"/api/v1/areas/{org.street.id}", json={"reference_prefix": bad}, headers=admin
    )
    assert field_errors(patched) == {"reference_prefix"}
    assert (await client.get(f"/api/v1/areas/{org.street.id}")).json()[
        "reference_prefix"
    ] == org.street.reference_prefix


async def test_a_prefix_of_another_street_is_409_reference_prefix_taken(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], org: Org
) -> None:
    admin = org.h["admin"]
    mine = org.street.reference_prefix
    theirs = org.other_street.reference_prefix  # a street of another district
    assert mine and theirs
    for prefix in (mine, theirs):
        created = await client.post(
            "/api/v1/areas",
            json=street_body(org.district.id, reference_prefix=prefix),
            headers={**admin, **EN},
        )
        assert problem_code(created) == (409, "reference_prefix_taken")
        assert created.json()["detail"] == "The reference prefix is already used by another street"
    new = await client.post("/api/v1/areas", json=street_body(org.district.id), headers=admin)
    assert new.status_code == 201, new.text
    new_url = f"/api/v1/areas/{new.json()['id']}"
    taken = await client.patch(new_url, json={"reference_prefix": theirs}, headers=admin)
    assert problem_code(taken) == (409, "reference_prefix_taken")
    assert taken.json()["detail"] == "该编号前缀已被其他街道使用"
    # Setting a street's own prefix again changes nothing and is fine.
    same = await client.patch(
        f"/api/v1/areas/{org.street.id}", json={"reference_prefix": mine}, headers=admin
    )
    assert same.status_code == 200 and same.json()["reference_prefix"] == mine

    # A prefix given up still heads the numbers filed with it: no other street takes it.
    resident = await login(client, await make_user(db, community=org.a))
    filed = await submit(client, resident)
    assert filed["reference"].startswith(f"{mine}-")
    moved = await client.patch(
        f"/api/v1/areas/{org.street.id}",
        json={"reference_prefix": unique_prefix()},
        headers=admin,
    )
    assert moved.status_code == 200, moved.text
    reused = await client.patch(new_url, json={"reference_prefix": mine}, headers=admin)
    assert problem_code(reused) == (409, "reference_prefix_taken")
    back = await client.patch(
        f"/api/v1/areas/{org.street.id}", json={"reference_prefix": mine}, headers=admin
    )
    assert back.status_code == 200 and back.json()["reference_prefix"] == mine
    # Neither does a street's code become another street's prefix, nor the reverse.
    new_code = unique_prefix()
    renamed = await client.patch(new_url, json={"code": new_code}, headers=admin)
    assert renamed.status_code == 200, renamed.text
    as_code = await client.patch(
        f"/api/v1/areas/{org.street.id}", json={"reference_prefix": new_code}, headers=admin
    )
    assert problem_code(as_code) == (409, "reference_prefix_taken")
    code_of_prefix = await client.patch(new_url, json={"code": mine}, headers=admin)
    assert problem_code(code_of_prefix) == (409, "area_code_taken")
