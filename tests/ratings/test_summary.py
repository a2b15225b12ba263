"""Summaries: a hand-computed meeting, and random data checked against plain SQL."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.event import EventStatus
from tests.builders import login, make_user
from tests.ratings.helpers import make_meeting, make_project, make_world, rate, set_status

CRITERIA = ("overall", "design", "construction", "usefulness")


def _scores(o: int, d: int, c: int, u: int) -> dict[str, int]:
    return {"overall": o, "design": d, "construction": c, "usefulness": u}


async def test_hand_computed_meeting(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    project = await make_project(db, w.a, w.committee)
    event = await make_meeting(db, w.a, w.committee, project_id=project)
    people = [await make_user(db, community=w.a) for _ in range(4)]
    h = [await login(client, p) for p in people]
    for headers, scores in zip(
        h,
        [_scores(5, 4, 3, 5), _scores(4, 4, 2, 4), _scores(3, 5, 3, 3), _scores(2, 1, 4, 4)],
        strict=True,
    ):
        assert (await rate(client, headers, event, scores)).status_code == 201
    changed = await client.put(
        f"/api/v1/events/{event}/ratings/mine",
        json={"scores": _scores(4, 2, 4, 4)},
        headers=h[3],
    )
    assert changed.status_code == 200
    base = f"/api/v1/events/{event}/ratings"
    # A first paper entry, then the corrected one: the latest counts, whole.
    first = await client.post(
        f"{base}/paper-counts", json={"counts": {"overall": {"1": 9}}}, headers=w.h["committee"]
    )
    assert first.status_code == 201 and first.json()["paper"]["count"] == 9
    paper = {
        "overall": {"5": 2, "3": 1, "1": 1},
        "design": {"4": 4},
        "construction": {"3": 2, "5": 2},
        "usefulness": {"2": 4},
    }
    entered = await client.post(
        f"{base}/paper-counts",
        json={"counts": paper, "note": "会场纸质评分表 4 份"},
        headers=w.h["committee"],
    )
    assert entered.status_code == 201, entered.text
    summary = (await client.get(f"{base}/summary", headers=w.h["street_staff"])).json()
    assert summary["app"]["count"] == 4
    assert summary["app"]["means"] == {
        "overall": 4.0,
        "design": 3.75,
        "construction": 3.0,
        "usefulness": 4.0,
    }
    assert summary["app"]["distribution"]["overall"] == {"1": 0, "2": 0, "3": 1, "4": 2, "5": 1}
    assert summary["app"]["satisfaction_rate"] == 0.75
    assert summary["paper"]["count"] == 4
    assert summary["paper"]["means"] == {
        "overall": 3.5,
        "design": 4.0,
        "construction": 4.0,
        "usefulness": 2.0,
    }
    assert summary["paper"]["satisfaction_rate"] == 0.5
    assert summary["count"] == 8
    assert summary["means"] == {
        "overall": 3.75,
        "design": 3.875,
        "construction": 3.5,
        "usefulness": 3.0,
    }
    assert summary["distribution"]["overall"] == {"1": 1, "2": 0, "3": 2, "4": 2, "5": 3}
    assert summary["distribution"]["design"] == {"1": 0, "2": 1, "3": 0, "4": 6, "5": 1}
    assert summary["satisfaction_rate"] == 0.625
    assert summary["criteria"] == list(CRITERIA)
    assert summary["final"] is False
    # The project's satisfaction is the same while it has this one meeting.
    satisfaction = (
        await client.get(f"/api/v1/projects/{project}/satisfaction", headers=w.h["committee"])
    ).json()
    assert satisfaction["count"] == 8 and satisfaction["satisfaction_rate"] == 0.625
    assert satisfaction["meetings"] == 1
    # Residents see nothing before the close (after_close is the default rule) …
    hidden = await client.get(f"{base}/summary", headers=w.h["resident"])
    assert hidden.status_code == 403 and hidden.json()["code"] == "results_not_visible"
    resident_view = await client.get(
        f"/api/v1/projects/{project}/satisfaction", headers=w.h["resident"]
    )
    assert resident_view.json()["count"] == 0
    # … and everything after it.
    await set_status(db, event, EventStatus.closed)
    after = (await client.get(f"{base}/summary", headers=w.h["resident"])).json()
    assert after["count"] == 8 and after["final"] is True
    assert (
        await client.get(f"/api/v1/projects/{project}/satisfaction", headers=w.h["resident"])
    ).json()["count"] == 8


async def test_visibility_rules(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    live = await make_meeting(db, w.a, w.committee, voting={"results_visibility": "live"})
    after_vote = await make_meeting(
        db, w.a, w.committee, voting={"results_visibility": "after_vote"}
    )
    assert (
        await client.get(f"/api/v1/events/{live}/ratings/summary", headers=w.h["resident"])
    ).status_code == 200
    url = f"/api/v1/events/{after_vote}/ratings/summary"
    assert (await client.get(url, headers=w.h["resident"])).status_code == 403
    assert (await rate(client, w.h["resident"], after_vote)).status_code == 201
    assert (await client.get(url, headers=w.h["resident"])).json()["count"] == 1
    assert (await client.get(url, headers=w.h["neighbour"])).status_code == 403
    # Staff of the street and of the community always see; another committee does not.
    assert (await client.get(url, headers=w.h["street_staff"])).status_code == 200
    assert (await client.get(url, headers=w.h["committee"])).status_code == 200
    assert (await client.get(url, headers=w.h["committee_b"])).status_code in (403, 404)
    assert (await client.get(url, headers=w.h["outsider"])).status_code in (403, 404)


def _expected(counts: dict[str, dict[int, int]]) -> dict[str, Any]:
    overall = counts.get("overall", {})
    count = sum(overall.values())
    means = {}
    for c in CRITERIA:
        by = counts.get(c, {})
        total = sum(by.values())
        means[c] = sum(s * n for s, n in by.items()) / total if total else None
    return {
        "count": count,
        "means": means,
        "distribution": {
            c: {str(s): counts.get(c, {}).get(s, 0) for s in range(1, 6)} for c in CRITERIA
        },
        "satisfaction_rate": (
            sum(n for s, n in overall.items() if s >= 4) / count if count else None
        ),
    }


def _same(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert actual["count"] == expected["count"]
    assert actual["distribution"] == expected["distribution"]
    for c in CRITERIA:
        assert actual["means"][c] == pytest.approx(expected["means"][c])
    assert actual["satisfaction_rate"] == pytest.approx(expected["satisfaction_rate"])


async def _sql_counts(
    session: AsyncSession, where: str, params: dict[str, Any]
) -> dict[str, dict[int, int]]:
    """Plain SQL over the ratings themselves and the latest paper entry of each meeting."""
    counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    app = await session.execute(
        text(
            f"""
            SELECT s.key AS criterion, s.value::int AS score, count(*) AS n
            FROM ratings r JOIN events e ON e.id = r.event_id,
                 jsonb_each_text(r.scores) AS s
            WHERE {where}
            GROUP BY 1, 2
            """
        ),
        params,
    )
    for row in app:
        counts[row.criterion][row.score] += row.n
    paper = await session.execute(
        text(
            f"""
            SELECT DISTINCT ON (p.event_id) p.counts
            FROM rating_paper_entries p JOIN events e ON e.id = p.event_id
            WHERE {where}
            ORDER BY p.event_id, p.id DESC
            """
        ),
        params,
    )
    for (entry,) in paper:
        for criterion, by_score in entry.items():
            for score, n in by_score.items():
                counts[criterion][int(score)] += n
    return counts


@pytest.mark.parametrize("seed", [11, 2026])
async def test_property_random_ratings_match_sql(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession], seed: int
) -> None:
    rng = random.Random(seed)
    w = await make_world(db, client)
    projects_a = [await make_project(db, w.a, w.committee, f"项目{i}") for i in range(3)]
    project_b = await make_project(db, w.b, w.committee_b, "B项目")
    meetings = [(await make_meeting(db, w.a, w.committee, project_id=p), w.a) for p in projects_a]
    meetings.append((await make_meeting(db, w.a, w.committee, project_id=projects_a[0]), w.a))
    meetings.append((await make_meeting(db, w.b, w.committee_b, project_id=project_b), w.b))
    residents = {
        w.a.id: [await login(client, await make_user(db, community=w.a)) for _ in range(10)],
        w.b.id: [await login(client, await make_user(db, community=w.b)) for _ in range(6)],
    }
    for event, community in meetings:
        for headers in residents[community.id]:
            if rng.random() < 0.3:
                continue
            scores = {c: rng.randint(1, 5) for c in CRITERIA}
            assert (await rate(client, headers, event, scores)).status_code == 201
            if rng.random() < 0.3:
                scores = {c: rng.randint(1, 5) for c in CRITERIA}
                response = await client.put(
                    f"/api/v1/events/{event}/ratings/mine",
                    json={"scores": scores},
                    headers=headers,
                )
                assert response.status_code == 200
        if rng.random() < 0.6:
            staff = w.h["committee"] if community.id == w.a.id else w.h["committee_b"]
            paper = {
                c: {str(s): rng.randint(0, 4) for s in range(1, 6) if rng.random() < 0.7}
                for c in CRITERIA
            }
            response = await client.post(
                f"/api/v1/events/{event}/ratings/paper-counts",
                json={"counts": paper},
                headers=staff,
            )
            assert response.status_code == 201, response.text
    # All but the last meeting of community a close; residents see only closed ones.
    for event, _ in meetings[:2] + meetings[3:]:
        await set_status(db, event, EventStatus.closed)

    async with db() as session:
        for event, _ in meetings:
            got = (
                await client.get(
                    f"/api/v1/events/{event}/ratings/summary", headers=w.h["street_staff"]
                )
            ).json()
            _same(got, _expected(await _sql_counts(session, "e.id = :e", {"e": event})))
        for project in [*projects_a, project_b]:
            got = (
                await client.get(
                    f"/api/v1/projects/{project}/satisfaction", headers=w.h["street_staff"]
                )
            ).json()
            expected = await _sql_counts(
                session,
                "e.project_id = :p AND e.status IN ('open', 'closed')",
                {"p": project},
            )
            _same(got, _expected(expected))
        street = (
            await client.get(
                f"/api/v1/areas/{w.street.id}/satisfaction",
                params={"min_ratings": 3, "limit": 100},
                headers=w.h["street_staff"],
            )
        ).json()
        _same(
            street,
            _expected(await _sql_counts(session, "e.street_id = :s", {"s": w.street.id})),
        )
        # The ranking, recomputed from the same SQL counts per project.
        rows = []
        for project in [*projects_a, project_b]:
            overall = (await _sql_counts(session, "e.project_id = :p", {"p": project})).get(
                "overall", {}
            )
            count = sum(overall.values())
            if count >= 3:
                rate_ = sum(n for s, n in overall.items() if s >= 4) / count
                mean = sum(s * n for s, n in overall.items()) / count
                rows.append((-rate_, -mean, -count, str(project)))
        expected_ranking = [r[3] for r in sorted(rows)]
        assert [r["project_id"] for r in street["ranking"]] == expected_ranking
        assert [r["rank"] for r in street["ranking"]] == list(range(1, len(rows) + 1))
        # A resident of a sees their community over closed meetings only.
        community = (
            await client.get(f"/api/v1/areas/{w.a.id}/satisfaction", headers=w.h["resident"])
        ).json()
        _same(
            community,
            _expected(
                await _sql_counts(
                    session,
                    "e.community_id = :c AND e.status = 'closed'",
                    {"c": w.a.id},
                )
            ),
        )
        # The project whose only meeting is still open is not ranked for residents yet.
        assert str(projects_a[2]) not in {r["project_id"] for r in community["ranking"]}
