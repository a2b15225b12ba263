"""Reference numbers (CY-2026-000123, or 310107012-2026-000123 for a street without a prefix):
one per suggestion, counted per street and year without gaps, even under a burst of
submissions and after failed ones; shown wherever a suggestion is, found by ``?q=``."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from src.models.area import Area
from src.models.proposal import Proposal, ProposalStatus
from src.models.system import OutboxItem
from src.models.user import Role
from tests.builders import login, make_tree, make_user, unique_prefix
from tests.exports.helpers import read_csv
from tests.proposals.helpers import World, make_world, submit

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
BURST_RESIDENTS = 10
BURST_EACH = 5  # within the submit limit of one resident


def this_year() -> int:
    return dt.datetime.now(SHANGHAI).year


def number(reference: str, street: Area, year: int) -> int:
    """The sequence of a reference of ``street`` in ``year`` (asserting the rest: headed by
    the street's prefix, or its code when it has none)."""
    head = street.reference_prefix or street.code
    match = re.fullmatch(rf"{re.escape(head)}-{year}-(\d{{6,}})", reference)
    assert match is not None, reference
    return int(match.group(1))


async def test_a_burst_in_one_street_numbers_1_to_50_without_gaps(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(db, communities=2)
    residents = [
        await make_user(db, community=tree.communities[i % 2]) for i in range(BURST_RESIDENTS)
    ]
    headers = [await login(client, r) for r in residents]

    async def one(h: dict[str, str], i: int) -> dict[str, Any]:
        return await submit(client, h, title=f"建议{i}", body=f"第{i}条")

    made = await asyncio.gather(
        *(one(h, i * BURST_RESIDENTS + k) for k, h in enumerate(headers) for i in range(BURST_EACH))
    )
    year = this_year()
    numbers = sorted(number(p["reference"], tree.street, year) for p in made)
    assert numbers == list(range(1, BURST_RESIDENTS * BURST_EACH + 1))
    # What is stored is what was answered; the next number of the street follows on.
    async with db() as session:
        stored = (
            await session.execute(
                select(Proposal.reference).where(Proposal.street_id == tree.street.id)
            )
        ).scalars()
        assert sorted(stored) == sorted(p["reference"] for p in made)
    after = await submit(client, headers[0], title="之后的建议")
    assert number(after["reference"], tree.street, year) == BURST_RESIDENTS * BURST_EACH + 1


async def _waiting_on_a_lock(db: async_sessionmaker[AsyncSession]) -> None:
    """Until a submission waits for the street's counter row (at most about 10 s)."""
    for _ in range(200):
        async with db() as session:
            waiting = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'INSERT INTO proposals%'"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the submission never waited for the counter row")


async def test_failed_submissions_leave_no_gap(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    year = this_year()
    first = await submit(client, w.h["resident"])
    assert number(first["reference"], w.street, year) == 1

    # Refused before anything is stored: an unknown category, a foreign photo.
    for body in (
        {"title": "加装电梯", "body": "x", "category": "no_such_category"},
        {"title": "加装电梯", "body": "x", "category": "accessibility", "photo_ids": [str(w.a.id)]},
    ):
        refused = await client.post("/api/v1/proposals", json=body, headers=w.h["resident"])
        assert refused.status_code == 422, refused.text

    # Stored, then rolled back while another submission of the street waits for the number:
    # the waiting one gets the number the rolled-back one had.
    async with db() as session:
        await session.begin()
        doomed = Proposal(
            community_id=w.a.id,
            street_id=w.street.id,
            author_id=w.resident.id,
            title="回滚的建议",
            body="x",
            category="accessibility",
            status=ProposalStatus.submitted,
        )
        session.add(doomed)
        await session.flush()
        assert number(doomed.reference, w.street, year) == 2
        waiting = asyncio.ensure_future(submit(client, w.h["neighbour"], title="排队的建议"))
        await _waiting_on_a_lock(db)
        await session.rollback()
    second = await waiting
    assert number(second["reference"], w.street, year) == 2
    third = await submit(client, w.h["resident"], title="第三条")
    assert number(third["reference"], w.street, year) == 3


async def test_streets_count_apart_and_a_new_year_starts_at_1(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    other = await make_tree(db, communities=1)
    other_resident = await make_user(db, community=other.communities[0])
    year = this_year()
    mine = [await submit(client, w.h["resident"], title=f"建议{i}") for i in range(3)]
    theirs = await submit(client, await login(client, other_resident))
    assert [number(p["reference"], w.street, year) for p in mine] == [1, 2, 3]
    assert number(theirs["reference"], other.street, year) == 1

    # The year is Shanghai's: 2027-01-01 00:30 there is still 2026 in UTC.
    async with db() as session, session.begin():
        placed = {}
        for label, at in (
            ("last_of_2026", dt.datetime(2026, 12, 31, 23, 59, tzinfo=SHANGHAI)),
            ("first_of_2027", dt.datetime(2027, 1, 1, 0, 30, tzinfo=SHANGHAI)),
            ("second_of_2027", dt.datetime(2027, 1, 2, 9, 0, tzinfo=SHANGHAI)),
        ):
            proposal = Proposal(
                community_id=w.a.id,
                street_id=w.street.id,
                author_id=w.resident.id,
                title=label,
                body="x",
                category="accessibility",
                status=ProposalStatus.submitted,
                created_at=at,
                updated_at=at,
            )
            session.add(proposal)
            await session.flush()
            placed[label] = proposal.id
    for label, expected in (
        ("first_of_2027", f"{w.street.reference_prefix}-2027-000001"),
        ("second_of_2027", f"{w.street.reference_prefix}-2027-000002"),
    ):
        detail = await client.get(f"/api/v1/proposals/{placed[label]}", headers=w.h["resident"])
        assert detail.status_code == 200, detail.text
        assert detail.json()["reference"] == expected
    last = await client.get(f"/api/v1/proposals/{placed['last_of_2026']}", headers=w.h["resident"])
    assert last.json()["reference"].startswith(f"{w.street.reference_prefix}-2026-")


async def _list(
    client: httpx.AsyncClient, w: World, who: str, **params: str
) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/proposals", params=params, headers=w.h[who])
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_q_finds_a_suggestion_by_its_reference_in_any_case(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    wanted = await submit(client, w.h["resident"], title="口袋公园")
    await submit(client, w.h["resident"], title="停车难")
    elsewhere = await submit(client, w.h["outsider"], title="路灯")
    reference = wanted["reference"]
    community = {"community_id": str(w.a.id)}
    street = {"street_id": str(w.street.id)}

    for q in (reference, reference.lower(), f"  {reference}  "):
        found = await _list(client, w, "neighbour", q=q, **community)
        assert [p["id"] for p in found] == [wanted["id"]]
    found = await _list(client, w, "street_staff", q=reference.lower(), **street)
    assert [p["id"] for p in found] == [wanted["id"]]
    # A reference is exact and stays within the area asked for.
    assert await _list(client, w, "neighbour", q=reference[:-1] + "9", **community) == []
    assert await _list(client, w, "neighbour", q=elsewhere["reference"], **community) == []
    # The shape of a reference never hides ordinary search words.
    words = await _list(client, w, "neighbour", q="口袋公园", **community)
    assert [p["id"] for p in words] == [wanted["id"]]
    # Served by the expression index (a plan that reads the whole table would not scale).
    async with db() as session:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            (
                await session.execute(
                    text("EXPLAIN SELECT id FROM proposals WHERE upper(reference) = :r"),
                    {"r": reference.upper()},
                )
            ).scalars()
        )
    assert "ix_proposals_reference_upper" in plan


async def test_reference_in_detail_lists_notifications_and_portal_events(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    made = await submit(client, w.h["resident"])
    reference = made["reference"]
    assert number(reference, w.street, this_year()) == 1

    detail = (await client.get(f"/api/v1/proposals/{made['id']}", headers=w.h["resident"])).json()
    assert detail["reference"] == reference
    community = await _list(client, w, "neighbour", community_id=str(w.a.id))
    street = await _list(client, w, "street_staff", street_id=str(w.street.id))
    mine = await client.get("/api/v1/me/proposals", headers=w.h["resident"])
    assert mine.status_code == 200, mine.text
    for items in (community, street, mine.json()["items"]):
        assert [p["reference"] for p in items if p["id"] == made["id"]] == [reference]

    reply = await client.post(
        f"/api/v1/proposals/{made['id']}/replies",
        json={"body": "已收到，将现场查看"},
        headers=w.h["committee"],
    )
    assert reply.status_code == 201, reply.text
    moved = await client.post(
        f"/api/v1/proposals/{made['id']}/transitions",
        json={"to": "under_review"},
        headers=w.h["committee"],
    )
    assert moved.status_code == 200, moved.text
    feed = await client.get("/api/v1/me/notifications", headers=w.h["resident"])
    assert feed.status_code == 200, feed.text
    kinds = {n["kind"]: n["proposal_reference"] for n in feed.json()["items"]}
    assert kinds == {"reply": reference, "status_changed": reference}

    async with db() as session:
        events = (
            await session.execute(
                select(OutboxItem.topic, OutboxItem.payload).where(
                    OutboxItem.ordering_key == f"proposal:{made['id']}",
                    OutboxItem.channel == "portal",
                )
            )
        ).all()
    assert {topic: payload["reference"] for topic, payload in events} == {
        "proposal.created": reference,
        "proposal.replied": reference,
        "proposal.status_changed": reference,
    }


async def test_a_prefixed_street_reads_short_a_plain_one_its_code_and_filed_numbers_stay(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    year = this_year()
    w = await make_world(db, client)
    prefix = w.street.reference_prefix
    assert prefix is not None and re.fullmatch(r"[A-Z0-9]{2,6}", prefix)
    made = await submit(client, w.h["resident"])
    assert made["reference"] == f"{prefix}-{year}-000001"
    # Read out on the phone in lower case, it is still found.
    found = await _list(
        client, w, "street_staff", q=f"{prefix.lower()}-{year}-000001", street_id=str(w.street.id)
    )
    assert [p["id"] for p in found] == [made["id"]]
    # An export's first column is the number.
    export = await client.get(
        "/api/v1/exports/proposals",
        params={"street_id": str(w.street.id), "format": "csv"},
        headers=w.h["street_staff"],
    )
    assert export.status_code == 200, export.text
    rows = read_csv(export)
    assert rows[0][0] == "建议编号" and [r[0] for r in rows[1:]] == [made["reference"]]

    # A street without a prefix heads its numbers with its code.
    plain = await make_tree(db, communities=1, prefixed=False)
    assert plain.street.reference_prefix is None
    resident = await login(client, await make_user(db, community=plain.communities[0]))
    first = await submit(client, resident, title="没有前缀的街道")
    assert first["reference"] == f"{plain.street.code}-{year}-000001"

    # An admin gives it one: the next suggestion carries it and the count goes on; the number
    # already filed does not change.
    admin = await login(client, await make_user(db, role=Role.admin, area=plain.district))
    given = unique_prefix()
    patched = await client.patch(
        f"/api/v1/areas/{plain.street.id}", json={"reference_prefix": given}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    second = await submit(client, resident, title="有了前缀之后")
    assert second["reference"] == f"{given}-{year}-000002"
    again = await client.get(f"/api/v1/proposals/{first['id']}", headers=resident)
    assert again.json()["reference"] == f"{plain.street.code}-{year}-000001"
    for q in (first["reference"], second["reference"].lower()):
        listed = await client.get(
            "/api/v1/proposals",
            params={"q": q, "street_id": str(plain.street.id)},
            headers=admin,
        )
        assert listed.status_code == 200, listed.text
        assert [p["reference"] for p in listed.json()["items"]] == [q.upper()]
