"""All SQL of surveys, hand-written on the request's asyncpg connection (``conn``). JSON goes
in as text cast to jsonb and comes out as text, whatever codecs the connection has."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from src.areas.residents import residents_sql
from src.models.survey import Channel, QuestionKind, SurveyStatus
from src.surveys.rules import Option, Question

_SURVEY = """
SELECT s.id, s.area_id, s.street_id, s.title, s.description, s.year, s.opens_at, s.closes_at,
       s.anonymous, s.status::text AS status, s.created_by, s.created_at, s.opened_at,
       s.closed_at, a.level::text AS area_level, a.path AS area_path, now() AS now
FROM surveys s JOIN areas a ON a.id = s.area_id
WHERE s.id = $1
"""
_QUESTIONS = """
SELECT coalesce(json_agg(json_build_object(
    'key', q.key, 'kind', q.kind, 'title', q.title, 'required', q.required,
    'min_choices', q.min_choices, 'max_choices', q.max_choices,
    'scale_min', q.scale_min, 'scale_max', q.scale_max, 'scale_labels', q.scale_labels,
    'options', (SELECT coalesce(json_agg(json_build_object(
                    'id', o.id, 'key', o.key, 'label', o.label) ORDER BY o.position), '[]')
                FROM survey_options o
                WHERE o.survey_id = q.survey_id AND o.question_key = q.key)
) ORDER BY q.position), '[]')::text
FROM survey_questions q WHERE q.survey_id = $1
"""
# Questions no longer change once a survey has left draft: each process keeps them.
_FROZEN: dict[uuid.UUID, tuple[Question, ...]] = {}
_FROZEN_MAX = 2000


@dataclass(frozen=True)
class SurveyRow:
    id: uuid.UUID
    area_id: uuid.UUID
    street_id: uuid.UUID
    area_level: str
    area_path: list[uuid.UUID]
    title: str
    description: str
    year: int
    opens_at: dt.datetime
    closes_at: dt.datetime
    anonymous: bool
    status: SurveyStatus
    created_by: uuid.UUID
    created_at: dt.datetime
    opened_at: dt.datetime | None
    closed_at: dt.datetime | None
    now: dt.datetime
    questions: tuple[Question, ...]

    @property
    def accepting(self) -> bool:
        """Residents may answer: open, and within the window."""
        return self.status is SurveyStatus.open and self.opens_at <= self.now < self.closes_at


def _questions(raw: str) -> tuple[Question, ...]:
    out = []
    for q in json.loads(raw):
        out.append(
            Question(
                key=q["key"],
                kind=QuestionKind(q["kind"]),
                title=q["title"],
                required=q["required"],
                min_choices=q["min_choices"],
                max_choices=q["max_choices"],
                scale_min=q["scale_min"],
                scale_max=q["scale_max"],
                scale_labels=q["scale_labels"],
                options=tuple(
                    Option(uuid.UUID(o["id"]), o["key"], o["label"]) for o in q["options"]
                ),
            )
        )
    return tuple(out)


async def load(conn: Any, survey_id: uuid.UUID, *, lock: str | None = None) -> SurveyRow | None:
    """The survey with its questions; ``lock`` ("KEY SHARE", "UPDATE") locks its row first
    (a close takes FOR UPDATE and so waits for responses in flight)."""
    if lock is not None:
        assert lock in ("KEY SHARE", "SHARE", "UPDATE")
        found = await conn.fetchval(f"SELECT 1 FROM surveys WHERE id = $1 FOR {lock}", survey_id)
        if found is None:
            return None
    row = await conn.fetchrow(_SURVEY, survey_id)
    if row is None:
        return None
    values = dict(row)
    values["status"] = SurveyStatus(values["status"])
    values["area_path"] = list(values["area_path"])
    questions = _FROZEN.get(survey_id)
    if questions is None:
        questions = _questions(await conn.fetchval(_QUESTIONS, survey_id))
        if values["status"] is not SurveyStatus.draft:
            if len(_FROZEN) >= _FROZEN_MAX:
                _FROZEN.clear()
            _FROZEN[survey_id] = questions
    values["questions"] = questions
    return SurveyRow(**values)


async def insert_survey(
    conn: Any,
    *,
    area_id: uuid.UUID,
    street_id: uuid.UUID,
    title: str,
    description: str,
    year: int,
    opens_at: dt.datetime,
    closes_at: dt.datetime,
    anonymous: bool,
    created_by: uuid.UUID,
    survey_id: uuid.UUID,
) -> None:
    await conn.execute(
        """
        INSERT INTO surveys (id, area_id, street_id, title, description, year, opens_at,
                             closes_at, anonymous, status, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', $10)
        """,
        survey_id,
        area_id,
        street_id,
        title,
        description,
        year,
        opens_at,
        closes_at,
        anonymous,
        created_by,
    )


async def update_survey(conn: Any, survey_id: uuid.UUID, changes: dict[str, Any]) -> None:
    allowed = ("title", "description", "opens_at", "closes_at", "anonymous")
    sets = [f"{name} = ${i}" for i, name in enumerate(changes, 2) if name in allowed]
    assert len(sets) == len(changes)
    await conn.execute(
        f"UPDATE surveys SET {', '.join([*sets, 'updated_at = now()'])} WHERE id = $1",
        survey_id,
        *changes.values(),
    )


async def replace_questions(
    conn: Any, survey_id: uuid.UUID, questions: Sequence[dict[str, Any]]
) -> None:
    """The draft's questions anew; an option that keeps its (question, key) keeps its id."""
    await conn.execute("DELETE FROM survey_questions WHERE survey_id = $1", survey_id)
    await conn.executemany(
        """
        INSERT INTO survey_questions (survey_id, key, position, kind, title, required,
            min_choices, max_choices, scale_min, scale_max, scale_labels)
        VALUES ($1, $2, $3, $4::survey_question_kind, $5, $6, $7, $8, $9, $10, $11::jsonb)
        """,
        [
            (
                survey_id,
                q["key"],
                i,
                q["kind"],
                q["title"],
                q["required"],
                q["min_choices"],
                q["max_choices"],
                q["scale_min"],
                q["scale_max"],
                None if q["scale_labels"] is None else json.dumps(q["scale_labels"]),
            )
            for i, q in enumerate(questions)
        ],
    )
    options = [
        (survey_id, q["key"], o["key"], o["label"], j)
        for q in questions
        for j, o in enumerate(q["options"] or [])
    ]
    keep = [(q, k) for _, q, k, _, _ in options]
    await conn.execute(
        """
        DELETE FROM survey_options WHERE survey_id = $1
          AND (question_key, key) NOT IN (SELECT * FROM unnest($2::text[], $3::text[]))
        """,
        survey_id,
        [q for q, _ in keep],
        [k for _, k in keep],
    )
    await conn.executemany(
        """
        INSERT INTO survey_options (id, survey_id, question_key, key, label, position)
        VALUES (gen_random_uuid(), $1, $2, $3, $4, $5)
        ON CONFLICT (survey_id, question_key, key)
        DO UPDATE SET label = excluded.label, position = excluded.position
        """,
        options,
    )


async def set_status(conn: Any, survey_id: uuid.UUID, status: SurveyStatus) -> None:
    stamp = {SurveyStatus.open: "opened_at", SurveyStatus.closed: "closed_at"}[status]
    await conn.execute(
        f"UPDATE surveys SET status = $2::survey_status, {stamp} = now(), updated_at = now()"
        " WHERE id = $1",
        survey_id,
        status.value,
    )


async def shuffle_anonymous(conn: Any, survey_id: uuid.UUID) -> int:
    """Rewrite the anonymous online responses in random order with new random ids: one
    transaction id and a physical order that tells nothing (see src/models/survey.py)."""
    result: str = await conn.execute(
        """
        WITH moved AS (
            DELETE FROM survey_responses
            WHERE survey_id = $1 AND channel = 'online' AND user_id IS NULL
            RETURNING answers
        )
        INSERT INTO survey_responses (id, survey_id, channel, answers, revision)
        SELECT gen_random_uuid(), $1, 'online', answers, 1 FROM moved ORDER BY random()
        """,
        survey_id,
    )
    await conn.execute(
        """
        WITH moved AS (
            DELETE FROM survey_answer_items
            WHERE survey_id = $1 AND channel = 'online' AND response_id IS NULL
            RETURNING question_key, body, lat, lng
        )
        INSERT INTO survey_answer_items (survey_id, question_key, id, channel, body, lat, lng)
        SELECT $1, question_key, gen_random_uuid(), 'online', body, lat, lng
        FROM moved ORDER BY random()
        """,
        survey_id,
    )
    return int(result.rsplit(" ", 1)[-1])


_LIST = """
SELECT s.id FROM surveys s
WHERE s.area_id = ANY($1::uuid[])
  AND ($2::survey_status IS NULL OR s.status = $2::survey_status)
  AND ($3::int IS NULL OR s.year = $3)
  AND ($4::timestamptz IS NULL OR (s.created_at, s.id) < ($4, $5::uuid))
  AND ($6::boolean OR s.status <> 'draft')
ORDER BY s.created_at DESC, s.id DESC
LIMIT $7
"""


async def list_ids(
    conn: Any,
    area_ids: Sequence[uuid.UUID],
    *,
    status: SurveyStatus | None,
    year: int | None,
    after: tuple[dt.datetime, uuid.UUID] | None,
    with_drafts: bool,
    limit: int,
) -> list[uuid.UUID]:
    rows = await conn.fetch(
        _LIST,
        list(area_ids),
        status.value if status else None,
        year,
        after[0] if after else None,
        after[1] if after else None,
        with_drafts,
        limit,
    )
    return [r["id"] for r in rows]


async def street_of(conn: Any, community_id: uuid.UUID) -> uuid.UUID | None:
    value: uuid.UUID | None = await conn.fetchval(
        "SELECT parent_id FROM areas WHERE id = $1", community_id
    )
    return value


# --- responses ----------------------------------------------------------------------------


async def insert_named(
    conn: Any,
    *,
    response_id: uuid.UUID,
    survey_id: uuid.UUID,
    user_id: uuid.UUID,
    community_id: uuid.UUID | None,
    answers: dict[str, Any],
) -> dict[str, Any] | None:
    """The resident's one response; None when they have one (the unique index decides: a
    racing twin waits for the first to commit, then does nothing)."""
    row = await conn.fetchrow(
        """
        INSERT INTO survey_responses (id, survey_id, channel, user_id, community_id, answers,
                                      created_at, updated_at)
        VALUES ($1, $2, 'online', $3, $4, $5::jsonb, now(), now())
        ON CONFLICT (survey_id, user_id) WHERE user_id IS NOT NULL DO NOTHING
        RETURNING id, revision, created_at, updated_at
        """,
        response_id,
        survey_id,
        user_id,
        community_id,
        json.dumps(answers, ensure_ascii=False),
    )
    return None if row is None else dict(row)


async def insert_anonymous(
    conn: Any, *, survey_id: uuid.UUID, tag: bytes, answers: dict[str, Any]
) -> bool:
    """The respondent's tag and, apart, the answers (random id, no user, no time) in one
    statement; False when the tag is there already."""
    inserted: bool = await conn.fetchval(
        """
        WITH who AS (
            INSERT INTO survey_respondents (survey_id, tag) VALUES ($1, $2)
            ON CONFLICT DO NOTHING RETURNING 1
        ), answer AS (
            INSERT INTO survey_responses (id, survey_id, channel, answers)
            SELECT gen_random_uuid(), $1, 'online', $3::jsonb FROM who
            RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM answer)
        """,
        survey_id,
        tag,
        json.dumps(answers, ensure_ascii=False),
    )
    return inserted


async def has_tag(conn: Any, survey_id: uuid.UUID, tag: bytes) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM survey_respondents WHERE survey_id = $1 AND tag = $2", survey_id, tag
    )
    return found is not None


async def insert_paper(
    conn: Any,
    rows: Sequence[
        tuple[uuid.UUID, uuid.UUID, uuid.UUID | None, str | None, uuid.UUID | None, str]
    ],
) -> None:
    """Paper sheets: (id, survey_id, community_id, sheet_no, entered_by, answers JSON) rows,
    by COPY (the bulk import's speed)."""
    now = dt.datetime.now(dt.UTC)
    await conn.copy_records_to_table(
        "survey_responses",
        records=[(*r, "paper", 1, now, now) for r in rows],
        columns=[
            "id",
            "survey_id",
            "community_id",
            "sheet_no",
            "entered_by",
            "answers",
            "channel",
            "revision",
            "created_at",
            "updated_at",
        ],
    )


async def existing_sheets(conn: Any, survey_id: uuid.UUID, sheets: Sequence[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT sheet_no FROM survey_responses WHERE survey_id = $1 AND sheet_no = ANY($2)",
        survey_id,
        list(sheets),
    )
    return {r["sheet_no"] for r in rows}


async def mine_for_update(
    conn: Any, survey_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT id, answers::text AS answers, revision, created_at, updated_at"
        " FROM survey_responses WHERE survey_id = $1 AND user_id = $2"
        + (" FOR UPDATE" if lock else ""),
        survey_id,
        user_id,
    )
    if row is None:
        return None
    out = dict(row)
    out["answers"] = json.loads(out["answers"])
    return out


async def update_answers(
    conn: Any, response_id: uuid.UUID, answers: dict[str, Any]
) -> dict[str, Any]:
    row = await conn.fetchrow(
        """
        UPDATE survey_responses SET answers = $2::jsonb, revision = revision + 1,
               updated_at = now()
        WHERE id = $1 RETURNING id, revision, created_at, updated_at
        """,
        response_id,
        json.dumps(answers, ensure_ascii=False),
    )
    return dict(row)


async def add_tallies(
    conn: Any, survey_id: uuid.UUID, channel: Channel, rows: Sequence[tuple[str, str, int, int]]
) -> None:
    """Add (question_key, item, n, total) rows, given in key order (one lock order)."""
    if not rows:
        return
    await conn.execute(
        """
        INSERT INTO survey_tallies (survey_id, channel, question_key, item, n, total)
        SELECT $1, $2::survey_channel, q, i, n, t
        FROM unnest($3::text[], $4::text[], $5::bigint[], $6::bigint[]) AS u(q, i, n, t)
        ORDER BY q, i
        ON CONFLICT (survey_id, channel, question_key, item)
        DO UPDATE SET n = survey_tallies.n + excluded.n,
                      total = survey_tallies.total + excluded.total
        """,
        survey_id,
        channel.value,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
    )


async def add_items(
    conn: Any,
    survey_id: uuid.UUID,
    channel: Channel,
    rows: Sequence[tuple[uuid.UUID | None, str, str | None, float | None, float | None]],
) -> None:
    """Text and map answers: (response_id, question_key, body, lat, lng) rows, by COPY."""
    if not rows:
        return
    await conn.copy_records_to_table(
        "survey_answer_items",
        records=[(survey_id, uuid.uuid4(), channel.value, *r) for r in rows],
        columns=["survey_id", "id", "channel", "response_id", "question_key", "body", "lat", "lng"],
    )


async def drop_items(conn: Any, response_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM survey_answer_items WHERE response_id = $1", response_id)


# --- results --------------------------------------------------------------------------------


_RESULTS = """
SELECT (SELECT coalesce(json_agg(json_build_array(channel, question_key, item, n, total)), '[]')
        FROM survey_tallies WHERE survey_id = $1)::text AS tallies,
       (SELECT coalesce(json_agg(json_build_array(k.key, i.id, i.body, i.lat, i.lng, i.channel)),
                        '[]')
        FROM unnest($2::text[]) AS k(key)
        CROSS JOIN LATERAL (
            SELECT id, body, lat, lng, channel FROM survey_answer_items
            WHERE survey_id = $1 AND question_key = k.key
            ORDER BY survey_id, question_key, id LIMIT $3
        ) i)::text AS items
"""


async def results_bundle(
    conn: Any, survey_id: uuid.UUID, item_keys: Sequence[str], first: int
) -> tuple[str, str]:
    """The tallies and the first ``first`` text/map answers of each of ``item_keys``, in one
    statement, as the JSON texts PostgreSQL wrote (:func:`parse_bundle` reads them): equal
    texts are equal results."""
    row = await conn.fetchrow(_RESULTS, survey_id, list(item_keys), first)
    return row["tallies"], row["items"]


def parse_bundle(
    tallies: str, items: str
) -> tuple[list[tuple[str, str, str, int, int]], dict[str, list[list[Any]]]]:
    """[channel, question_key, item, n, total] rows and key → [id, body, lat, lng, channel]
    rows."""
    by_key: dict[str, list[list[Any]]] = {}
    for key, *rest in json.loads(items):
        by_key.setdefault(key, []).append(rest)
    return [tuple(t) for t in json.loads(tallies)], by_key


async def residents(conn: Any, area_id: uuid.UUID) -> int:
    """Registered residents of a community, or of every community of a street."""
    count: int = await conn.fetchval(residents_sql("$1"), area_id)
    return count


async def texts(
    conn: Any,
    survey_id: uuid.UUID,
    key: str,
    *,
    q: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[tuple[uuid.UUID, str, str]]:
    """Text answers in id order (ids are random: no order of arrival), containing ``q``."""
    rows = await conn.fetch(
        """
        SELECT id, body, channel::text FROM survey_answer_items
        WHERE survey_id = $1 AND question_key = $2
          AND ($3::text IS NULL OR strpos(body, $3) > 0)
          AND ($4::uuid IS NULL OR id > $4)
        ORDER BY survey_id, question_key, id LIMIT $5
        """,
        survey_id,
        key,
        q,
        after,
        limit,
    )
    return [(r["id"], r["body"], r["channel"]) for r in rows]


async def points(
    conn: Any, survey_id: uuid.UUID, key: str, *, after: uuid.UUID | None, limit: int
) -> list[tuple[uuid.UUID, float, float, str]]:
    rows = await conn.fetch(
        """
        SELECT id, lat, lng, channel::text FROM survey_answer_items
        WHERE survey_id = $1 AND question_key = $2 AND ($3::uuid IS NULL OR id > $3)
        ORDER BY survey_id, question_key, id LIMIT $4
        """,
        survey_id,
        key,
        after,
        limit,
    )
    return [(r["id"], r["lat"], r["lng"], r["channel"]) for r in rows]


async def option_votes(conn: Any, survey_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """
        SELECT o.id AS option_id, o.survey_id, o.question_key, o.key AS option_key, o.label,
               coalesce(sum(t.n) FILTER (WHERE t.channel = 'online'), 0)::bigint AS online,
               coalesce(sum(t.n) FILTER (WHERE t.channel = 'paper'), 0)::bigint AS paper
        FROM survey_options o
        LEFT JOIN survey_tallies t ON t.survey_id = o.survey_id
             AND t.question_key = o.question_key AND t.item = o.key
        WHERE o.survey_id = $1
        GROUP BY o.id
        ORDER BY o.question_key, o.position
        """,
        survey_id,
    )
    return [dict(r) for r in rows]
