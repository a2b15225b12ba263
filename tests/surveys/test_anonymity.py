"""Anonymous surveys: nothing in the tables joins an answer to a person — no user on the
answer, no time, no shared transaction id or physical order once closed — and responses
are final."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.builders import login, make_user
from tests.surveys.helpers import ANSWERS, make_world, open_survey, respond


async def test_anonymous_answers_do_not_name_their_respondent(
    client: httpx.AsyncClient, db: async_sessionmaker[AsyncSession]
) -> None:
    w = await make_world(db, client)
    survey = await open_survey(client, w.h["committee"], w.a, anonymous=True)
    sid = survey["id"]
    users = [await make_user(db, community=w.a) for _ in range(6)]
    headers = [await login(client, u) for u in users]
    replies = await asyncio.gather(
        *(
            respond(client, h, sid, {**ANSWERS, "satisfied": 1 + i % 5})
            for i, h in enumerate(headers)
        ),
        respond(client, headers[0], sid, ANSWERS),  # a double tap
    )
    assert sorted(r.status_code for r in replies) == [201] * 6 + [409]
    for reply in replies:
        if reply.status_code == 201:
            # The reply shows nothing of the answers again (it may be stored for a retry).
            assert reply.json()["answers"] is None and reply.json()["final"] is True
    mine = await client.get(f"/api/v1/surveys/{sid}/responses/mine", headers=headers[1])
    assert mine.status_code == 200 and mine.json()["answers"] is None
    detail = await client.get(f"/api/v1/surveys/{sid}", headers=headers[1])
    assert detail.json()["responded"] is True and detail.json()["responses_changeable"] is False
    change = await client.put(
        f"/api/v1/surveys/{sid}/responses/mine", json={"answers": ANSWERS}, headers=headers[1]
    )
    assert change.status_code == 409 and change.json()["code"] == "response_final"

    user_ids = {str(u.id) for u in users}
    async with db() as session:
        answers = (
            await session.execute(
                text(
                    "SELECT id, user_id, community_id, created_at, answers::text AS a,"
                    " xmin::text AS x"
                    " FROM survey_responses WHERE survey_id = :s"
                ),
                {"s": sid},
            )
        ).all()
        respondents = (
            await session.execute(
                text(
                    "SELECT encode(tag, 'hex') AS tag, xmin::text AS x FROM survey_respondents"
                    " WHERE survey_id = :s"
                ),
                {"s": sid},
            )
        ).all()
        columns = set(
            (
                await session.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns"
                        " WHERE table_name = 'survey_respondents'"
                    )
                )
            ).scalars()
        )
    assert len(answers) == 6 and len(respondents) == 6
    assert all(
        r.user_id is None and r.community_id is None and r.created_at is None for r in answers
    )
    assert all(r.id.version == 4 for r in answers)  # random ids: no time inside
    assert columns == {"survey_id", "tag"}
    for r in respondents:  # the tag is no user id, in any spelling
        assert all(uid.replace("-", "") not in r.tag for uid in user_ids)
    for r in answers:
        assert not any(uid in r.a for uid in user_ids)

    before = {r.id for r in answers}
    closed = await client.post(f"/api/v1/surveys/{sid}/close", headers=w.h["committee"])
    assert closed.status_code == 200
    async with db() as session:
        after = (
            await session.execute(
                text(
                    "SELECT id, xmin::text AS x, ctid::text AS ctid FROM survey_responses"
                    " WHERE survey_id = :s"
                ),
                {"s": sid},
            )
        ).all()
    # Rewritten at close: new ids, one transaction id for all, none shared with a respondent.
    assert len(after) == 6 and not before & {r.id for r in after}
    assert len({r.x for r in after}) == 1
    assert not {r.x for r in after} & {r.x for r in respondents}
    results = (await client.get(f"/api/v1/surveys/{sid}/results", headers=w.h["committee"])).json()
    assert results["online"] == 6
    assert sum(results["questions"][2]["distribution"].values()) == 6
