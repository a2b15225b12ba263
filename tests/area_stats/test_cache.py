"""The decision cache: a crowd of first requests computes the figures once and all of them
get the same reply; a cached reply is byte for byte the computed one; the quarterly brief
prints the snapshot the stats show."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
from typing import Any

import httpx
import pytest
from litestar.serialization import encode_json
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.area_stats import repository
from src.area_stats.cache import store
from src.area_stats.schemas import AreaStatsOut, HotspotsOut
from src.area_stats.service import SHANGHAI, quarter_of
from src.core.db import driver_connection
from src.models.proposal import Proposal
from src.models.user import Role
from tests.builders import login, make_tree, make_user

CROWD = 20
SOON = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)  # fresh whenever the test runs


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Count the calls of ``repository.<name>`` (the computation's SQL); each call also
    yields for a moment, so the crowd is all waiting while the first computes."""
    calls: list[int] = []
    real = getattr(repository, name)

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        await asyncio.sleep(0.2)
        return await real(*args, **kwargs)

    monkeypatch.setattr(repository, name, counted)
    return calls


async def _street(db: async_sessionmaker[AsyncSession], client: httpx.AsyncClient) -> Any:
    tree = await make_tree(db, communities=2)
    staff = await make_user(db, role=Role.street, area=tree.street)
    async with db() as session, session.begin():
        for n, community in enumerate(tree.communities * 3):
            session.add(
                Proposal(
                    community_id=community.id,
                    street_id=tree.street.id,
                    author_id=staff.id,
                    title=f"建议{n}",
                    body="内容",
                    category="accessibility" if n % 2 else "parking",
                    lat=31.25 + n * 0.001,
                    lng=121.41,
                )
            )
    return tree, await login(client, staff)


async def test_a_crowd_of_first_requests_computes_the_figures_once(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tree, h = await _street(db, client)
    calls = _counting(monkeypatch, "facts")
    url = f"/api/v1/areas/{tree.street.id}/stats"
    replies = await asyncio.gather(*(client.get(url, headers=h) for _ in range(CROWD)))
    assert [r.status_code for r in replies] == [200] * CROWD
    assert len(calls) == 1
    assert {r.content for r in replies} == {replies[0].content}
    body = replies[0].json()
    assert body["proposals"]["total"] == 6
    assert len({r.json()["computed_at"] for r in replies}) == 1


async def test_a_crowd_of_first_requests_computes_the_hot_spots_once(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tree, h = await _street(db, client)
    calls = _counting(monkeypatch, "hotspot_cells")
    url = f"/api/v1/areas/{tree.street.id}/hotspots"
    replies = await asyncio.gather(*(client.get(url, headers=h) for _ in range(CROWD)))
    assert [r.status_code for r in replies] == [200] * CROWD
    assert len(calls) == 1
    assert {r.content for r in replies} == {replies[0].content}
    assert sum(f["properties"]["count"] for f in replies[0].json()["features"]) == 6


@pytest.mark.parametrize(
    ("path", "model"), [("stats", AreaStatsOut), ("hotspots?cell_m=500", HotspotsOut)]
)
async def test_a_cached_reply_is_the_computed_reply_byte_for_byte(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    path: str,
    model: type[AreaStatsOut] | type[HotspotsOut],
) -> None:
    tree, h = await _street(db, client)
    url = f"/api/v1/areas/{tree.street.id}/{path}"
    computed = await client.get(url, headers=h)
    cached = await client.get(url, headers=h)
    assert computed.status_code == cached.status_code == 200
    assert cached.headers["content-type"] == "application/json"
    assert cached.content == computed.content
    # The bytes are the model's own encoding (field order, compact, UTF-8), as a handler
    # returning the model would send them.
    again = model.model_validate(json.loads(cached.content))
    assert cached.content == encode_json(again.model_dump(mode="json"))


async def test_the_brief_prints_the_figures_the_stats_show(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    tree, h = await _street(db, client)
    today = dt.datetime.now(SHANGHAI).date()
    first, last = quarter_of(today)
    period = {"from": first.isoformat(), "to": last.isoformat()}
    stats = await client.get(f"/api/v1/areas/{tree.street.id}/stats", params=period, headers=h)
    assert stats.status_code == 200
    # A suggestion after the figures were computed: the brief keeps to the same snapshot
    # (``computed_at``), as the stats page does until it is refreshed.
    author = await make_user(db, community=tree.communities[0])
    async with db() as session, session.begin():
        session.add(
            Proposal(
                community_id=tree.communities[0].id,
                street_id=tree.street.id,
                author_id=author.id,
                title="新建议",
                body="内容",
                category="parking",
            )
        )
    quarter = f"{today.year}Q{(today.month - 1) // 3 + 1}"
    brief = await client.get(
        "/api/v1/exports/briefs",
        params={"area_id": str(tree.street.id), "quarter": quarter, "format": "xlsx"},
        headers=h,
    )
    assert brief.status_code == 200, brief.text
    overview = load_workbook(io.BytesIO(brief.content)).worksheets[0]
    totals: dict[Any, Any] = {}  # the 主要指标 table: area name → suggestions
    for row in overview.iter_rows(min_row=5, max_row=40, values_only=True):
        if row[0] is None:
            break
        totals[row[0]] = row[1]
    assert totals[tree.street.name] == stats.json()["proposals"]["total"] == 6
    for child in stats.json()["children"]:
        assert totals[child["name"]] == child["proposals"]["total"] == 3
    again = await client.get(f"/api/v1/areas/{tree.street.id}/stats", params=period, headers=h)
    assert again.content == stats.content


async def test_a_reply_cached_in_an_older_shape_is_not_served(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    """A release that adds a figure (the surveys' response rates) bumps the stats' key: what
    an older release cached, fresh as it may be, is not served after it."""
    tree, h = await _street(db, client)
    older = {"area_id": str(tree.street.id), "proposals": {"total": 999}, "surveys": {"count": 0}}
    async with db() as session, session.begin():
        conn = await driver_connection(session)
        await store(conn, f"stats:{tree.street.id}:None:None", encode_json(older), SOON)
    url = f"/api/v1/areas/{tree.street.id}/stats"
    reply = await client.get(url, headers=h)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["proposals"]["total"] == 6
    assert (body["surveys"]["residents"], body["surveys"]["response_rate"]) == (0, None)
    cached = await client.get(url, headers=h)
    assert cached.content == reply.content  # the new shape is what is cached now
    assert "response_rate_with_paper" in cached.json()["children"][0]["surveys"]
