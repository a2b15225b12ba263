"""The annex table and the file against plain SQL, on random projects."""

from __future__ import annotations

import datetime as dt
import random

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.areas.service import create_area
from src.models.area import AreaLevel
from src.models.project import Project, ProjectKind, ProjectStatus
from src.models.user import Role
from tests.builders import login, make_tree, make_user, unique_code
from tests.exports.helpers import read_csv

KINDS = list(ProjectKind)
STATUSES = list(ProjectStatus)

PLAIN = """
SELECT count(*) FILTER (WHERE status <> 'cancelled') AS total,
       count(*) FILTER (WHERE status = 'done' AND extract(year FROM actual_end) = :y)
         AS done_in_year,
       count(*) FILTER (WHERE status <> 'cancelled' AND extract(year FROM planned_end) <= :y)
         AS due_in_year,
       count(*) FILTER (WHERE status <> 'cancelled' AND kind = 'renmin_fang') AS renmin_fang,
       count(*) FILTER (WHERE status = 'done' AND extract(year FROM actual_end) = :y
                        AND kind = 'renmin_fang') AS renmin_fang_done,
       count(*) FILTER (WHERE status <> 'cancelled' AND kind = 'liuyi_ting') AS liuyi_ting,
       count(*) FILTER (WHERE status = 'done' AND extract(year FROM actual_end) = :y
                        AND kind = 'liuyi_ting') AS liuyi_ting_done,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled
FROM projects WHERE year = :y AND {column} = :id
"""
FIGURES = (
    "total",
    "done_in_year",
    "due_in_year",
    "renmin_fang",
    "renmin_fang_done",
    "liuyi_ting",
    "liuyi_ting_done",
    "cancelled",
)


async def test_project_stats_and_file_match_plain_sql(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    rng = random.Random()
    tree = await make_tree(db, communities=3)
    async with db() as session, session.begin():
        second = await create_area(
            session,
            code=unique_code("S"),
            name="第二街道",
            level=AreaLevel.street,
            parent=tree.district,
            lat=31.25,
            lng=121.42,
        )
        second_c = await create_area(
            session,
            code=unique_code("C"),
            name="第二社区",
            level=AreaLevel.community,
            parent=second,
            lat=31.251,
            lng=121.421,
        )
    communities = [*tree.communities, second_c]
    admin = await make_user(db, role=Role.admin, area=tree.district)
    street_staff = await make_user(db, role=Role.street, area=tree.street)
    year = 2027
    async with db() as session, session.begin():
        for n in range(rng.randrange(60, 120)):
            community = rng.choice(communities)
            status = rng.choice(STATUSES)
            start = dt.date(year - rng.randrange(0, 2), 1 + rng.randrange(12), 1)
            end = start + dt.timedelta(days=rng.randrange(30, 500))
            finished = (
                dt.date(year - 1 + rng.randrange(3), 1 + rng.randrange(12), 1 + rng.randrange(28))
                if status == ProjectStatus.done
                else None
            )
            session.add(
                Project(
                    community_id=community.id,
                    street_id=community.parent_id,
                    title=f"随机项目{n}",
                    category="public_space",
                    year=rng.choice([year, year, year, year - 1]),
                    status=status,
                    kind=rng.choice(KINDS),
                    planned_start=start,
                    planned_end=end,
                    actual_start=start if finished else None,
                    actual_end=max(finished, start) if finished else None,
                    progress_percent=100 if finished else 0,
                    created_by=admin.id,
                )
            )

    async def plain(column: str, area_id: object) -> dict[str, int]:
        async with db() as session:
            row = (
                await session.execute(text(PLAIN.format(column=column)), {"y": year, "id": area_id})
            ).one()
        return dict(zip(FIGURES, (int(v) for v in row), strict=True))

    h = await login(client, admin)
    district = await client.get(
        f"/api/v1/areas/{tree.district.id}/project-stats", params={"year": year}, headers=h
    )
    assert district.status_code == 200, district.text
    body = district.json()
    streets = {c["area_id"]: c for c in body["children"]}
    assert set(streets) == {str(tree.street.id), str(second.id)}
    expected_total = {k: 0 for k in FIGURES}
    for street in (tree.street, second):
        expected = await plain("street_id", street.id)
        assert {k: streets[str(street.id)][k] for k in FIGURES} == expected
        for k in FIGURES:
            expected_total[k] += expected[k]
    assert {k: body[k] for k in FIGURES} == expected_total
    street = await client.get(
        f"/api/v1/areas/{tree.street.id}/project-stats", params={"year": year}, headers=h
    )
    rows = {c["area_id"]: c for c in street.json()["children"]}
    for community in tree.communities:
        expected = await plain("community_id", community.id)
        assert {k: rows[str(community.id)][k] for k in FIGURES} == expected
    assert {k: street.json()[k] for k in FIGURES} == await plain("street_id", tree.street.id)

    # The file: one row per project of the year's list (cancelled ones included, marked).
    sh = await login(client, street_staff)
    file = await client.get(
        "/api/v1/exports/project-list",
        params={"street_id": str(tree.street.id), "year": year, "format": "csv"},
        headers=sh,
    )
    assert file.status_code == 200, file.text
    _, *lines = read_csv(file)
    async with db() as session:
        ids = set(
            (
                await session.execute(
                    text("SELECT id::text FROM projects WHERE street_id = :s AND year = :y"),
                    {"s": tree.street.id, "y": year},
                )
            ).scalars()
        )
    assert [line[0] for line in lines] and {line[0] for line in lines} == ids
    assert len(lines) == len(ids)
    district_file = await client.get(
        "/api/v1/exports/project-list",
        params={"district_id": str(tree.district.id), "year": year, "format": "csv"},
        headers=h,
    )
    listed = 0
    for street_id in (tree.street.id, second.id):
        figures = await plain("street_id", street_id)
        listed += figures["total"] + figures["cancelled"]
    assert len(read_csv(district_file)) - 1 == listed
