"""Search pages: every match exactly once, in order, whether the first look at the newest rows
finds a page of matches, a wider look does, or the GIN index has to answer."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.proposals import repository
from tests.proposals.helpers import make_world


# (first window, widest window): the defaults; the GIN index after a first look (10, 10 and
# 3, 3); a wider look sized by the first one's matches (3, 40).
@pytest.mark.parametrize(("window", "window_max"), [(2000, 20_000), (10, 10), (3, 3), (3, 40)])
@pytest.mark.parametrize("sort", ["newest", "most_supported"])
async def test_search_pages_hold_every_match_once_in_order(
    client: httpx.AsyncClient,
    db: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    window: int,
    window_max: int,
    sort: str,
) -> None:
    monkeypatch.setattr(repository, "SEARCH_WINDOW", window)
    monkeypatch.setattr(repository, "SEARCH_WINDOW_MAX", window_max)
    w = await make_world(db, client)
    author = (await client.get("/api/v1/me", headers=w.h["resident"])).json()["id"]
    now = dt.datetime.now(dt.UTC)
    expected: list[tuple[object, str]] = []
    async with db() as session, session.begin():
        for n in range(40):
            pid = uuid.uuid4()
            lift = n % 3 != 0  # two in three mention the lift; the rest do not
            created = now - dt.timedelta(minutes=n)
            support = (n * 7) % 5  # ties on the count: the id breaks them
            await session.execute(
                text(
                    "INSERT INTO proposals (id, community_id, street_id, author_id, title, "
                    "body, category, status, support_count, created_at, updated_at) VALUES "
                    "(:id, :c, :s, :a, :t, '详情', 'accessibility', 'submitted', :n, :at, :at)"
                ),
                {
                    "id": pid,
                    "c": w.a.id,
                    "s": w.street.id,
                    "a": author,
                    "t": f"{n}号楼加装电梯" if lift else f"{n}号楼增设座椅",
                    "n": support,
                    "at": created,
                },
            )
            if lift:
                expected.append(((support if sort == "most_supported" else created), str(pid)))
    expected.sort(reverse=True)

    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params = {"community_id": str(w.a.id), "q": "电梯", "sort": sort, "limit": "4"}
        if cursor:
            params["cursor"] = cursor
        page = await client.get("/api/v1/proposals", params=params, headers=w.h["neighbour"])
        assert page.status_code == 200, page.text
        seen += [p["id"] for p in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [pid for _, pid in expected]


@pytest.mark.parametrize(
    ("window", "found", "limit", "wider"),
    [
        (2000, 13, 20, 6460),  # 加装电梯 老人 in the bench: about three times the rows
        (2000, 1, 20, None),  # a page needs ~42,000 rows at this density: the index answers
        (2000, 0, 20, None),  # nothing in the newest rows: rare, the index answers
        (3, 2, 4, 14),
    ],
)
def test_a_wider_window_is_sized_by_the_density_of_matches(
    window: int, found: int, limit: int, wider: int | None
) -> None:
    assert repository._wider_window(window, found, limit) == wider
