"""Agree / disagree / pass: one reaction per resident, changeable, exact under bursts, and the
two rankings (sort=consensus, sort=controversial)."""

from __future__ import annotations

import asyncio
import math

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.proposal import ProposalReaction
from tests.builders import login, make_user
from tests.proposals.helpers import make_world, move, submit


def _counts(body: dict[str, object]) -> tuple[object, object, object]:
    return body["agree_count"], body["disagree_count"], body["pass_count"]


async def test_one_reaction_per_resident_exact_under_bursts(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    created = await submit(client, w.h["resident"])
    assert _counts(created) == (0, 0, 0) and created["my_reaction"] is None
    url = f"/api/v1/proposals/{created['id']}/reaction"
    people = [await make_user(db, community=w.a) for _ in range(9)]
    headers = [await login(client, u) for u in people]
    values = ["agree", "disagree", "pass"]
    # Each resident taps three times at once, every time with their own value...
    burst = [
        client.put(url, json={"value": values[i % 3]}, headers=h)
        for _ in range(3)
        for i, h in enumerate(headers)
    ]
    # ...and the first one also changes their mind in the middle of the burst.
    burst += [client.put(url, json={"value": "disagree"}, headers=headers[0]) for _ in range(3)]
    responses = await asyncio.gather(*burst)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    async with db() as session:
        rows = (
            await session.execute(
                select(ProposalReaction.value, func.count())
                .where(ProposalReaction.proposal_id == created["id"])
                .group_by(ProposalReaction.value)
            )
        ).all()
    by_value = {v.value: n for v, n in rows}
    assert sum(by_value.values()) == 9  # one row per resident
    detail = (await client.get(f"/api/v1/proposals/{created['id']}", headers=headers[1])).json()
    assert _counts(detail) == (
        by_value.get("agree", 0),
        by_value.get("disagree", 0),
        by_value.get("pass", 0),
    )
    assert detail["my_reaction"] == "disagree"  # headers[1]: i=1
    # Changing a reaction moves one count to another; repeating it changes nothing.
    changed = await client.put(url, json={"value": "agree"}, headers=headers[1])
    again = await client.put(url, json={"value": "agree"}, headers=headers[1])
    assert changed.status_code == again.status_code == 200
    assert _counts(again.json()) == (
        by_value.get("agree", 0) + 1,
        by_value.get("disagree", 0) - 1,
        by_value.get("pass", 0),
    )
    assert again.json()["my_reaction"] == "agree"
    # Withdrawals, concurrent and repeated, count once.
    withdrawn = await asyncio.gather(*(client.delete(url, headers=headers[1]) for _ in range(4)))
    assert all(r.status_code == 200 for r in withdrawn)
    assert withdrawn[-1].json()["my_reaction"] is None
    after = (await client.get(f"/api/v1/proposals/{created['id']}", headers=headers[1])).json()
    assert _counts(after) == (
        by_value.get("agree", 0),
        by_value.get("disagree", 0) - 1,
        by_value.get("pass", 0),
    )
    assert after["my_reaction"] is None
    # The list shows the same counts and the viewer's own reaction.
    listed = await client.get(
        "/api/v1/proposals", params={"community_id": str(w.a.id)}, headers=headers[2]
    )
    [item] = [i for i in listed.json()["items"] if i["id"] == created["id"]]
    assert _counts(item) == _counts(after) and item["my_reaction"] == "pass"


async def test_reaction_rules(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    p = (await submit(client, w.h["resident"]))["id"]
    url = f"/api/v1/proposals/{p}/reaction"
    bad = await client.put(url, json={"value": "love"}, headers=w.h["neighbour"])
    assert bad.status_code == 422 and bad.json()["code"] == "validation_failed"
    extra = await client.put(url, json={"value": "agree", "x": 1}, headers=w.h["neighbour"])
    assert extra.status_code == 422
    assert (await client.put(url, json={"value": "agree"})).status_code == 401
    outsider = await client.put(url, json={"value": "agree"}, headers=w.h["outsider"])
    assert outsider.status_code == 404
    # An author may state their own view too; staff of the area may read the counts.
    mine = await client.put(url, json={"value": "agree"}, headers=w.h["resident"])
    assert mine.status_code == 200 and mine.json()["agree_count"] == 1
    assert (await move(client, w.h["committee"], p, "under_review")).status_code == 200
    assert (await move(client, w.h["committee"], p, "rejected", reason="重复")).status_code == 200
    closed = await client.put(url, json={"value": "disagree"}, headers=w.h["neighbour"])
    assert closed.status_code == 409 and closed.json()["code"] == "proposal_closed"


def wilson_lower(k: int, n: int, z: float = 1.96) -> float:
    if n == 0:
        return 0.0
    p = k / n
    return (p + z * z / (2 * n) - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (
        1 + z * z / n
    )


async def test_consensus_and_controversial_rankings(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    # (agree, disagree, pass) per suggestion, set on the counters by a builder.
    shapes = {
        "few_all_agree": (2, 0, 0),
        "many_mostly_agree": (40, 5, 5),
        "split_large": (60, 55, 3),
        "split_small": (3, 3, 0),
        "mostly_disagree": (2, 30, 1),
        "nobody": (0, 0, 0),
    }
    ids: dict[str, str] = {}
    for name in shapes:
        ids[name] = (await submit(client, w.h["resident"], title=f"排序{name}"))["id"]
    async with db() as session, session.begin():
        for name, (a, d, p) in shapes.items():
            await session.execute(
                text(
                    "UPDATE proposals SET agree_count = :a, disagree_count = :d, pass_count = :p "
                    "WHERE id = :id"
                ),
                {"a": a, "d": d, "p": p, "id": ids[name]},
            )
    names = {v: k for k, v in ids.items()}

    async def ranking(sort: str, limit: int) -> list[str]:
        out: list[str] = []
        cursor = None
        while True:
            params = {"community_id": str(w.a.id), "sort": sort, "limit": str(limit)}
            if cursor:
                params["cursor"] = cursor
            page = await client.get("/api/v1/proposals", params=params, headers=w.h["neighbour"])
            assert page.status_code == 200, page.text
            out += [names[i["id"]] for i in page.json()["items"] if i["id"] in names]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return out

    def expected_consensus(name: str) -> float:
        a, d, p = shapes[name]
        return wilson_lower(a, a + d + p)

    def expected_controversy(name: str) -> float:
        a, d, _ = shapes[name]
        return wilson_lower(min(a, d), a + d) * math.log(1 + a + d)

    consensus = await ranking("consensus", 2)  # paged: cursors on a float key
    assert consensus == sorted(shapes, key=lambda n: -expected_consensus(n))
    assert consensus[0] == "many_mostly_agree"
    # A small unanimous sample does not beat a large, mostly agreeing one.
    assert consensus.index("few_all_agree") > consensus.index("many_mostly_agree")
    controversial = await ranking("controversial", 4)
    assert controversial[0] == "split_large"
    assert controversial.index("split_small") < controversial.index("many_mostly_agree")
    assert controversial.index("split_small") > controversial.index("split_large")
    assert controversial[-1] == "nobody" or expected_controversy(controversial[-1]) == 0
    assert [expected_controversy(n) for n in controversial] == sorted(
        (expected_controversy(n) for n in controversial), reverse=True
    )
    bad_cursor = await client.get(
        "/api/v1/proposals",
        params={"community_id": str(w.a.id), "sort": "consensus", "cursor": "WyJ4IiwieSJd"},
        headers=w.h["neighbour"],
    )
    assert bad_cursor.status_code == 400 and bad_cursor.json()["code"] == "invalid_cursor"
    bad_sort = await client.get(
        "/api/v1/proposals", params={"sort": "loudest"}, headers=w.h["neighbour"]
    )
    assert bad_sort.status_code in (400, 422)
