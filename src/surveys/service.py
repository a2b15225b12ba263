"""The rules of needs surveys: who builds and runs them, who answers and how often, what the
results say and who sees them. Anonymity: see src/models/survey.py and docs/surveys.md."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections import defaultdict
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from src.core import audit
from src.core.auth import Principal
from src.core.db import driver_connection
from src.core.errors import AppError, Message, conflict, forbidden, not_found, validation_failed
from src.core.geo import CoordSys, convert
from src.core.pagination import decode_cursor_as, encode_cursor, timestamp, uuid_value
from src.core.policy import MODERATE_ROLES, VIEW_ROLES, acting_role, covers, load_area
from src.core.schemas import model_json
from src.models.area import AreaLevel
from src.models.survey import Channel, QuestionKind, SurveyStatus
from src.surveys import repository
from src.surveys.repository import SurveyRow
from src.surveys.rules import (
    SURVEY_ITEM,
    Question,
    answer_items,
    check_answers,
    check_questions,
    check_window,
    merge,
    response_rates,
    tally_items,
)
from src.surveys.schemas import (
    OptionOut,
    OptionVotes,
    PointOut,
    QuestionIn,
    QuestionOut,
    QuestionResultOut,
    RankItemOut,
    ResponseIn,
    ResponseOut,
    ResultsOut,
    ScaleOut,
    SurveyIn,
    SurveyOut,
    SurveyPatch,
    TextOut,
)

TEXTS_INLINE = 10
POINTS_INLINE = 20  # more through …/results/{key}/points
POINTS_PAGE_MAX = 1000

# --- errors ---------------------------------------------------------------------------------


def survey_not_found() -> AppError:
    return not_found("问卷", "Survey")


def questions_frozen() -> AppError:
    return conflict(
        "questions_frozen",
        "问卷已发布，题目不能再修改",
        "The survey has opened: its questions can no longer change",
    )


def survey_not_draft() -> AppError:
    return conflict("survey_not_draft", "问卷已发布", "The survey is no longer a draft")


def survey_not_open() -> AppError:
    return conflict(
        "survey_not_open", "问卷不在答题时间内", "The survey is not open for answers now"
    )


def survey_closed() -> AppError:
    return conflict("survey_closed", "问卷已结束", "The survey is closed")


def already_responded() -> AppError:
    return conflict(
        "already_responded", "您已提交过本问卷", "You have already answered this survey"
    )


def response_final() -> AppError:
    return conflict(
        "response_final",
        "匿名问卷提交后不能修改",
        "Answers to an anonymous survey are final once sent",
    )


def no_response() -> AppError:
    return AppError(404, "no_response", Message("您还没有提交本问卷", "You have not answered"))


def not_in_area() -> AppError:
    return forbidden(
        "not_in_survey_area",
        "本问卷只面向所在社区或街道的居民",
        "This survey is for residents of its community or street",
    )


def results_hidden() -> AppError:
    return forbidden(
        "results_not_visible", "问卷结束后公布结果", "The results are shown once the survey closes"
    )


def unknown_question() -> AppError:
    return not_found("题目", "Question")


# --- access ---------------------------------------------------------------------------------


def is_staff(principal: Principal, survey: SurveyRow) -> bool:
    return covers(principal, survey.area_path, VIEW_ROLES)


async def lives_in(conn: Any, principal: Principal, survey: SurveyRow) -> bool:
    """The caller's home community is the survey's community or one of its street's."""
    home = principal.community_id
    if home is None:
        return False
    if survey.area_level == AreaLevel.community.value:
        return home == survey.area_id
    return await repository.street_of(conn, home) == survey.area_id


async def _visible(
    conn: Any, principal: Principal, survey_id: uuid.UUID, *, lock: str | None = None
) -> tuple[SurveyRow, bool]:
    """The survey and whether the caller is staff over it; 404 for anyone else (and for
    residents while it is a draft)."""
    survey = await repository.load(conn, survey_id, lock=lock)
    if survey is None:
        raise survey_not_found()
    if is_staff(principal, survey):
        return survey, True
    if survey.status is SurveyStatus.draft or not await lives_in(conn, principal, survey):
        raise survey_not_found()
    return survey, False


async def _managed(conn: Any, principal: Principal, survey_id: uuid.UUID) -> SurveyRow:
    survey = await repository.load(conn, survey_id, lock="UPDATE")
    if survey is None or not is_staff(principal, survey):
        raise survey_not_found()
    acting_role(principal, survey.area_path, MODERATE_ROLES)
    return survey


def respondent_tag(secret: str, survey_id: uuid.UUID, user_id: uuid.UUID) -> bytes:
    """That this user answered this anonymous survey, in a form only the server can compute
    (an HMAC under the server secret): the tables alone never name the respondent."""
    return hmac.new(
        secret.encode(), b"survey-respondent\0" + survey_id.bytes + user_id.bytes, hashlib.sha256
    ).digest()


# --- shaping --------------------------------------------------------------------------------


def _question_out(q: Question) -> QuestionOut:
    return QuestionOut(
        key=q.key,
        kind=q.kind,
        title=q.title,
        required=q.required,
        options=[OptionOut(id=o.id, key=o.key, label=o.label) for o in q.options]
        if q.options
        else None,
        min_choices=q.min_choices,
        max_choices=q.max_choices,
        scale=ScaleOut(min=q.scale_min, max=q.scale_max, labels=q.scale_labels)
        if q.kind is QuestionKind.scale and q.scale_min is not None and q.scale_max is not None
        else None,
    )


def survey_out(survey: SurveyRow, responded: bool | None = None) -> SurveyOut:
    return SurveyOut(
        id=survey.id,
        title=survey.title,
        description=survey.description,
        area_id=survey.area_id,
        street_id=survey.street_id,
        year=survey.year,
        opens_at=survey.opens_at,
        closes_at=survey.closes_at,
        anonymous=survey.anonymous,
        status=survey.status,
        accepting=survey.accepting,
        responses_changeable=not survey.anonymous and survey.accepting,
        questions=[_question_out(q) for q in survey.questions],
        created_at=survey.created_at,
        opened_at=survey.opened_at,
        closed_at=survey.closed_at,
        responded=responded,
    )


def _question_rows(questions: list[QuestionIn]) -> list[dict[str, Any]]:
    rows = []
    for q in questions:
        rows.append(
            {
                "key": q.key,
                "kind": q.kind.value,
                "title": q.title,
                "required": q.required,
                "min_choices": q.min_choices,
                "max_choices": q.max_choices,
                "scale_min": q.scale.min if q.scale else None,
                "scale_max": q.scale.max if q.scale else None,
                "scale_labels": q.scale.labels if q.scale else None,
                "options": [{"key": o.key, "label": o.label} for o in q.options or []],
            }
        )
    return rows


# --- building and running -------------------------------------------------------------------


async def create(session: AsyncSession, principal: Principal, data: SurveyIn) -> SurveyOut:
    area = await load_area(session, data.area_id)
    if area is None:
        raise not_found("区域", "Area")
    if area.level not in (AreaLevel.community, AreaLevel.street):
        raise validation_failed([{"field": "area_id", "message": "a community or a street"}])
    if not covers(principal, area.path, VIEW_ROLES):
        raise forbidden("area_forbidden", "无权访问该区域的数据", "Not allowed in this area")
    acting_role(principal, area.path, MODERATE_ROLES)
    errors = check_window(data.opens_at, data.closes_at) + check_questions(data.questions)
    if errors:
        raise validation_failed(errors)
    street_id = area.id if area.level is AreaLevel.street else area.parent_id
    assert street_id is not None
    conn = await driver_connection(session)
    survey_id = uuid.uuid4()
    await repository.insert_survey(
        conn,
        survey_id=survey_id,
        area_id=area.id,
        street_id=street_id,
        title=data.title,
        description=data.description,
        year=data.year,
        opens_at=data.opens_at,
        closes_at=data.closes_at,
        anonymous=data.anonymous,
        created_by=principal.user_id,
    )
    await repository.replace_questions(conn, survey_id, _question_rows(data.questions))
    await audit.record(
        session,
        principal,
        "survey.create",
        "survey",
        survey_id,
        area_id=area.id,
        details={"questions": len(data.questions), "anonymous": data.anonymous},
    )
    survey = await repository.load(conn, survey_id)
    assert survey is not None
    return survey_out(survey)


async def update(
    session: AsyncSession, principal: Principal, survey_id: uuid.UUID, data: SurveyPatch
) -> SurveyOut:
    conn = await driver_connection(session)
    survey = await _managed(conn, principal, survey_id)
    given = data.model_dump(exclude_unset=True)
    if survey.status is SurveyStatus.closed:
        raise survey_closed()
    if survey.status is SurveyStatus.open:
        if "questions" in given:
            raise questions_frozen()
        if set(given) - {"description", "closes_at"}:
            raise survey_not_draft()
    opens_at = data.opens_at or survey.opens_at
    closes_at = data.closes_at or survey.closes_at
    errors = check_window(opens_at, closes_at)
    if data.questions is not None:
        errors += check_questions(data.questions)
    if errors:
        raise validation_failed(errors)
    changes = {
        k: getattr(data, k) for k in given if k != "questions" and getattr(data, k) is not None
    }
    if changes:
        await repository.update_survey(conn, survey_id, changes)
    if data.questions is not None:
        await repository.replace_questions(conn, survey_id, _question_rows(data.questions))
    await audit.record(
        session,
        principal,
        "survey.update",
        "survey",
        survey_id,
        area_id=survey.area_id,
        details={"fields": sorted(given)},
    )
    fresh = await repository.load(conn, survey_id)
    assert fresh is not None
    return survey_out(fresh)


async def open_survey(
    session: AsyncSession, principal: Principal, survey_id: uuid.UUID
) -> SurveyOut:
    conn = await driver_connection(session)
    survey = await _managed(conn, principal, survey_id)
    if survey.status is not SurveyStatus.draft:
        raise survey_not_draft()
    if survey.closes_at <= survey.now:
        raise validation_failed([{"field": "closes_at", "message": "the window is already over"}])
    await repository.set_status(conn, survey_id, SurveyStatus.open)
    await audit.record(
        session, principal, "survey.open", "survey", survey_id, area_id=survey.area_id
    )
    fresh = await repository.load(conn, survey_id)
    assert fresh is not None
    return survey_out(fresh)


async def close_survey(
    session: AsyncSession, principal: Principal, survey_id: uuid.UUID
) -> SurveyOut:
    conn = await driver_connection(session)
    survey = await _managed(conn, principal, survey_id)
    if survey.status is SurveyStatus.closed:
        raise survey_closed()
    if survey.status is SurveyStatus.draft:
        raise survey_not_open()
    await repository.set_status(conn, survey_id, SurveyStatus.closed)
    shuffled = await repository.shuffle_anonymous(conn, survey_id) if survey.anonymous else 0
    await audit.record(
        session,
        principal,
        "survey.close",
        "survey",
        survey_id,
        area_id=survey.area_id,
        details={"anonymous_rewritten": shuffled},
    )
    fresh = await repository.load(conn, survey_id)
    assert fresh is not None
    return survey_out(fresh)


async def get(
    session: AsyncSession, principal: Principal, survey_id: uuid.UUID, secret: str
) -> SurveyOut:
    conn = await driver_connection(session)
    survey, _ = await _visible(conn, principal, survey_id)
    responded = None
    if await lives_in(conn, principal, survey):
        responded = await _has_responded(conn, survey, principal, secret)
    return survey_out(survey, responded)


async def _has_responded(conn: Any, survey: SurveyRow, principal: Principal, secret: str) -> bool:
    if survey.anonymous:
        return await repository.has_tag(
            conn, survey.id, respondent_tag(secret, survey.id, principal.user_id)
        )
    return (
        await repository.mine_for_update(conn, survey.id, principal.user_id, lock=False) is not None
    )


async def list_surveys(
    session: AsyncSession,
    principal: Principal,
    *,
    area_id: uuid.UUID | None,
    status: SurveyStatus | None,
    year: int | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[SurveyOut], str | None]:
    """A community's surveys include its street's; without ``area_id``, the caller's home
    community's. Drafts only for staff."""
    conn = await driver_connection(session)
    target = area_id or principal.community_id
    if target is None:
        raise validation_failed([{"field": "area_id", "message": "required"}])
    area = await load_area(session, target)
    if area is None:
        raise not_found("区域", "Area")
    staff = covers(principal, area.path, VIEW_ROLES)
    resident = principal.community_id is not None and (
        principal.community_id == area.id
        or (
            area.level is AreaLevel.street
            and await repository.street_of(conn, principal.community_id) == area.id
        )
    )
    if not staff and not resident:
        raise not_found("区域", "Area")
    areas = [area.id]
    if area.level is AreaLevel.community and area.parent_id is not None:
        areas.append(area.parent_id)
    after = decode_cursor_as(cursor, timestamp, uuid_value)
    ids = await repository.list_ids(
        conn,
        areas,
        status=status,
        year=year,
        after=after,
        with_drafts=staff,
        limit=limit + 1,
    )
    items = []
    for sid in ids[:limit]:
        row = await repository.load(conn, sid)
        if row is not None:
            items.append(survey_out(row))
    next_cursor = (
        encode_cursor([items[-1].created_at.isoformat(), str(items[-1].id)])
        if len(ids) > limit and items
        else None
    )
    return items, next_cursor


# --- answering ------------------------------------------------------------------------------


async def _count(
    conn: Any,
    survey: SurveyRow,
    channel: Channel,
    stored: dict[str, Any],
    response_id: uuid.UUID | None,
) -> None:
    """A new response into the tallies and its text and map answers into their pages, in
    the response's transaction (anonymous ones without a response id)."""
    await repository.add_tallies(
        conn, survey.id, channel, merge((1, tally_items(survey.questions, stored)))
    )
    await repository.add_items(
        conn,
        survey.id,
        channel,
        [(response_id, *item) for item in answer_items(survey.questions, stored)],
    )


def _checked(survey: SurveyRow, answers: dict[str, Any]) -> dict[str, Any]:
    stored, errors = check_answers(survey.questions, answers)
    if errors:
        raise validation_failed(errors)
    return stored


async def submit(
    session: AsyncSession,
    principal: Principal,
    survey_id: uuid.UUID,
    data: ResponseIn,
    secret: str,
) -> ResponseOut:
    conn = await driver_connection(session)
    if data.channel is Channel.paper:
        return await _enter_paper(session, conn, principal, survey_id, data)
    if data.sheet_no is not None or data.community_id is not None:
        raise validation_failed(
            [{"field": "sheet_no", "message": "only for paper questionnaires (channel paper)"}]
        )
    survey = await repository.load(conn, survey_id, lock="KEY SHARE")
    if survey is None or survey.status is SurveyStatus.draft:
        raise survey_not_found()
    if not await lives_in(conn, principal, survey):
        if is_staff(principal, survey):
            raise not_in_area()
        raise survey_not_found()
    if not survey.accepting:
        raise survey_not_open()
    stored = _checked(survey, data.answers)
    if survey.anonymous:
        tag = respondent_tag(secret, survey.id, principal.user_id)
        if not await repository.insert_anonymous(
            conn, survey_id=survey.id, tag=tag, answers=stored
        ):
            raise already_responded()
        await _count(conn, survey, Channel.online, stored, None)
        return ResponseOut(survey_id=survey.id, channel=Channel.online, final=True)
    row = await repository.insert_named(
        conn,
        response_id=uuid.uuid4(),
        survey_id=survey.id,
        user_id=principal.user_id,
        community_id=principal.community_id,
        answers=stored,
    )
    if row is None:
        raise already_responded()
    await _count(conn, survey, Channel.online, stored, row["id"])
    return ResponseOut(
        survey_id=survey.id, channel=Channel.online, answers=stored, final=False, **row
    )


async def _enter_paper(
    session: AsyncSession, conn: Any, principal: Principal, survey_id: uuid.UUID, data: ResponseIn
) -> ResponseOut:
    survey = await repository.load(conn, survey_id, lock="KEY SHARE")
    if survey is None or not is_staff(principal, survey):
        raise survey_not_found()
    acting_role(principal, survey.area_path, MODERATE_ROLES)
    if survey.status is not SurveyStatus.open:
        raise survey_closed() if survey.status is SurveyStatus.closed else survey_not_open()
    stored = _checked(survey, data.answers)
    community_id = await _paper_community(session, survey, data.community_id)
    if data.sheet_no is not None and await repository.existing_sheets(
        conn, survey.id, [data.sheet_no]
    ):
        raise duplicate_sheet(data.sheet_no)
    response_id = uuid.uuid4()
    try:
        await repository.insert_paper(
            conn,
            [
                (
                    response_id,
                    survey.id,
                    community_id,
                    data.sheet_no,
                    principal.user_id,
                    json.dumps(stored, ensure_ascii=False),
                )
            ],
        )
    except asyncpg.exceptions.UniqueViolationError as exc:  # a racing twin with the same sheet
        raise duplicate_sheet(data.sheet_no or "") from exc
    await _count(conn, survey, Channel.paper, stored, response_id)
    await audit.record(
        session,
        principal,
        "survey.paper",
        "survey",
        survey.id,
        area_id=survey.area_id,
        details={"sheet_no": data.sheet_no},
    )
    return ResponseOut(
        survey_id=survey.id,
        channel=Channel.paper,
        id=response_id,
        answers=stored,
        sheet_no=data.sheet_no,
        revision=1,
        final=True,
    )


def duplicate_sheet(sheet_no: str) -> AppError:
    return conflict(
        "duplicate_sheet",
        f"纸质问卷 {sheet_no} 已录入",
        f"Paper sheet {sheet_no} is entered already",
    )


async def _paper_community(
    session: AsyncSession, survey: SurveyRow, community_id: uuid.UUID | None
) -> uuid.UUID | None:
    if survey.area_level == AreaLevel.community.value:
        if community_id not in (None, survey.area_id):
            raise validation_failed(
                [{"field": "community_id", "message": "not the survey's community"}]
            )
        return survey.area_id
    if community_id is None:
        return None
    area = await load_area(session, community_id)
    if area is None or area.parent_id != survey.area_id:
        raise validation_failed(
            [{"field": "community_id", "message": "not a community of the survey's street"}]
        )
    return community_id


async def get_mine(
    session: AsyncSession, principal: Principal, survey_id: uuid.UUID, secret: str
) -> ResponseOut:
    conn = await driver_connection(session)
    survey, _ = await _visible(conn, principal, survey_id)
    if survey.anonymous:
        if not await repository.has_tag(
            conn, survey.id, respondent_tag(secret, survey.id, principal.user_id)
        ):
            raise no_response()
        return ResponseOut(survey_id=survey.id, channel=Channel.online, final=True)
    row = await repository.mine_for_update(conn, survey.id, principal.user_id, lock=False)
    if row is None:
        raise no_response()
    return ResponseOut(
        survey_id=survey.id, channel=Channel.online, final=not survey.accepting, **row
    )


async def change_mine(
    session: AsyncSession, principal: Principal, survey_id: uuid.UUID, data: ResponseIn
) -> ResponseOut:
    conn = await driver_connection(session)
    if data.channel is not Channel.online or data.sheet_no or data.community_id:
        raise validation_failed([{"field": "channel", "message": "only your own online response"}])
    survey = await repository.load(conn, survey_id, lock="KEY SHARE")
    if (
        survey is None
        or survey.status is SurveyStatus.draft
        or not (await lives_in(conn, principal, survey) or is_staff(principal, survey))
    ):
        raise survey_not_found()
    if survey.anonymous:
        raise response_final()
    if not survey.accepting:
        raise survey_not_open()
    stored = _checked(survey, data.answers)
    mine = await repository.mine_for_update(conn, survey.id, principal.user_id, lock=True)
    if mine is None:
        raise no_response()
    deltas = merge(
        (-1, tally_items(survey.questions, mine["answers"])),
        (1, tally_items(survey.questions, stored)),
    )
    row = await repository.update_answers(conn, mine["id"], stored)
    await repository.add_tallies(conn, survey.id, Channel.online, deltas)
    await repository.drop_items(conn, mine["id"])
    await repository.add_items(
        conn,
        survey.id,
        Channel.online,
        [(mine["id"], *item) for item in answer_items(survey.questions, stored)],
    )
    return ResponseOut(
        survey_id=survey.id, channel=Channel.online, answers=stored, final=False, **row
    )


# --- results --------------------------------------------------------------------------------


async def _results_access(conn: Any, principal: Principal, survey_id: uuid.UUID) -> SurveyRow:
    survey, staff = await _visible(conn, principal, survey_id)
    if not staff and survey.status is not SurveyStatus.closed:
        raise results_hidden()
    return survey


def _question(survey: SurveyRow, key: str) -> Question:
    for q in survey.questions:
        if q.key == key:
            return q
    raise unknown_question()


def _point(lat: float, lng: float, coord_sys: CoordSys, channel: str) -> PointOut:
    out_lat, out_lng = convert(lat, lng, CoordSys.wgs84, coord_sys)
    return PointOut(
        lat=round(out_lat, 6),
        lng=round(out_lng, 6),
        coord_sys=coord_sys.value,
        channel=Channel(channel),
    )


# Encoded results per exact input (the survey and its status, the tallies' and first answers'
# JSON texts, the residents, the coordinate system; the questions are frozen once the survey
# has left draft, and a draft's are not kept): a read repeated while nothing changed skips the
# shaping and the encoding (most of a results request's CPU in py-spy).
_SHAPED: dict[tuple[Any, ...], bytes] = {}
_SHAPED_MAX = 256


async def results(
    conn: Any, principal: Principal, survey_id: uuid.UUID, coord_sys: CoordSys
) -> bytes:
    """The encoded results (``ResultsOut``), on the request's raw connection (no ORM session:
    the hot read of a survey)."""
    survey = await _results_access(conn, principal, survey_id)
    bundle = await _bundle(conn, survey)
    residents = await repository.residents(conn, survey.area_id)
    if survey.status is SurveyStatus.draft:
        return model_json(_shaped(survey, bundle, residents, coord_sys))
    key = (survey.id, survey.status, coord_sys, residents, bundle)
    body = _SHAPED.get(key)
    if body is None:
        body = model_json(_shaped(survey, bundle, residents, coord_sys))
        if len(_SHAPED) >= _SHAPED_MAX:
            _SHAPED.clear()
        _SHAPED[key] = body
    return body


async def compute_results(conn: Any, survey: SurveyRow, coord_sys: CoordSys) -> ResultsOut:
    """Counts, shares, means, distributions and rankings from the running tallies (a few dozen
    rows, whatever the number of responses), texts and points as their first pages."""
    bundle = await _bundle(conn, survey)
    residents = await repository.residents(conn, survey.area_id)
    return _shaped(survey, bundle, residents, coord_sys)


async def _bundle(conn: Any, survey: SurveyRow) -> tuple[str, str]:
    item_keys = [
        q.key for q in survey.questions if q.kind in (QuestionKind.text, QuestionKind.location)
    ]
    return await repository.results_bundle(
        conn, survey.id, item_keys, max(TEXTS_INLINE, POINTS_INLINE) + 1
    )


def _shaped(
    survey: SurveyRow, bundle: tuple[str, str], residents: int, coord_sys: CoordSys
) -> ResultsOut:
    cells: dict[str, dict[str, dict[str, list[int]]]] = defaultdict(
        lambda: defaultdict(lambda: {"online": [0, 0], "paper": [0, 0]})
    )
    tallies, items = repository.parse_bundle(*bundle)
    for channel, qkey, item, n, total in tallies:
        cell = cells[qkey][item][channel]
        cell[0] += n
        cell[1] += total
    top = cells[SURVEY_ITEM][SURVEY_ITEM]
    online, paper = top["online"][0], top["paper"][0]
    rates = response_rates(online, paper, residents)
    questions = []
    for q in survey.questions:
        questions.append(_question_result(q, cells.get(q.key, {}), items.get(q.key, []), coord_sys))
    return ResultsOut(
        survey_id=survey.id,
        status=survey.status,
        responses=online + paper,
        online=online,
        paper=paper,
        residents=residents,
        response_rate=rates.online,
        response_rate_with_paper=rates.with_paper,
        questions=questions,
    )


def _question_result(
    q: Question,
    items: dict[str, dict[str, list[int]]],
    first: list[list[Any]],
    coord_sys: CoordSys,
) -> QuestionResultOut:
    def n_of(item: str, channel: str | None = None) -> int:
        cell = items.get(item)
        if cell is None:
            return 0
        if channel is None:
            return cell["online"][0] + cell["paper"][0]
        return cell[channel][0]

    def total_of(item: str) -> int:
        cell = items.get(item)
        return 0 if cell is None else cell["online"][1] + cell["paper"][1]

    answered = n_of(SURVEY_ITEM)
    if q.kind is QuestionKind.scale:
        assert q.scale_min is not None and q.scale_max is not None
        keys = [str(v) for v in range(q.scale_min, q.scale_max + 1)]
        labels = dict(q.scale_labels or {})
    else:
        keys = [o.key for o in q.options]
        labels = {o.key: o.label for o in q.options}
    counts = {k: n_of(k) for k in keys}
    out = QuestionResultOut(
        key=q.key,
        kind=q.kind,
        title=q.title,
        answered=answered,
        answered_online=n_of(SURVEY_ITEM, "online"),
        answered_paper=n_of(SURVEY_ITEM, "paper"),
        counts=counts,
        counts_online={k: n_of(k, "online") for k in keys},
        counts_paper={k: n_of(k, "paper") for k in keys},
        shares={k: round(v / answered, 4) if answered else 0.0 for k, v in counts.items()},
        labels=labels,
    )
    if q.kind is QuestionKind.scale:
        out.distribution = counts
        out.mean = round(sum(total_of(k) for k in keys) / answered, 4) if answered else None
    elif q.kind is QuestionKind.ranking:
        out.ranking = ranking(q, {k: (n_of(k), total_of(k)) for k in keys})
    elif q.kind is QuestionKind.text:
        page = first[: TEXTS_INLINE + 1]
        out.texts = [
            TextOut(id=uuid.UUID(i), text=t, channel=Channel(c))
            for i, t, _, _, c in page[:TEXTS_INLINE]
        ]
        out.texts_cursor = (
            encode_cursor([str(page[TEXTS_INLINE - 1][0])]) if len(page) > TEXTS_INLINE else None
        )
    elif q.kind is QuestionKind.location:
        found = first[: POINTS_INLINE + 1]
        out.points = [_point(lat, lng, coord_sys, c) for _, _, lat, lng, c in found[:POINTS_INLINE]]
        out.points_cursor = (
            encode_cursor([str(found[POINTS_INLINE - 1][0])])
            if len(found) > POINTS_INLINE
            else None
        )
    return out


def ranking(q: Question, by_option: dict[str, tuple[int, int]]) -> list[RankItemOut]:
    """Borda count: with k options, position p earns k − p + 1 points (an option left out of
    a partial ranking earns none); ties broken by the lower mean position, then key order."""
    k = len(q.options)
    labels = {o.key: o.label for o in q.options}
    rows = []
    for key, (n, position_sum) in by_option.items():
        borda = n * (k + 1) - position_sum
        mean_rank = round(position_sum / n, 4) if n else 0.0
        rows.append((key, n, mean_rank, borda))
    rows.sort(key=lambda r: (-r[3], r[2] if r[1] else float("inf"), r[0]))
    return [
        RankItemOut(option=key, label=labels[key], rank=i, ranked_by=n, mean_rank=mean, borda=borda)
        for i, (key, n, mean, borda) in enumerate(rows, 1)
    ]


async def texts_page(
    session: AsyncSession,
    principal: Principal,
    survey_id: uuid.UUID,
    key: str,
    *,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[TextOut], str | None]:
    conn = await driver_connection(session)
    survey = await _results_access(conn, principal, survey_id)
    if _question(survey, key).kind is not QuestionKind.text:
        raise validation_failed([{"field": "key", "message": "not a text question"}])
    after = decode_cursor_as(cursor, uuid_value)
    rows = await repository.texts(
        conn, survey.id, key, q=q or None, after=after[0] if after else None, limit=limit + 1
    )
    items = [TextOut(id=i, text=t, channel=Channel(c)) for i, t, c in rows[:limit]]
    return items, encode_cursor([str(rows[limit - 1][0])]) if len(rows) > limit else None


async def points_page(
    session: AsyncSession,
    principal: Principal,
    survey_id: uuid.UUID,
    key: str,
    *,
    coord_sys: CoordSys,
    cursor: str | None,
    limit: int,
) -> tuple[list[PointOut], str | None]:
    conn = await driver_connection(session)
    survey = await _results_access(conn, principal, survey_id)
    if _question(survey, key).kind is not QuestionKind.location:
        raise validation_failed([{"field": "key", "message": "not a location question"}])
    after = decode_cursor_as(cursor, uuid_value)
    rows = await repository.points(
        conn, survey.id, key, after=after[0] if after else None, limit=limit + 1
    )
    items = [_point(lat, lng, coord_sys, c) for _, lat, lng, c in rows[:limit]]
    return items, encode_cursor([str(rows[limit - 1][0])]) if len(rows) > limit else None


async def chart_question(
    session: AsyncSession, principal: Principal, survey_id: uuid.UUID, key: str
) -> tuple[SurveyRow, QuestionResultOut, ResultsOut]:
    conn = await driver_connection(session)
    survey = await _results_access(conn, principal, survey_id)
    _question(survey, key)
    full = await compute_results(conn, survey, CoordSys.gcj02)
    return survey, next(r for r in full.questions if r.key == key), full


# --- for the needs list ---------------------------------------------------------------------


async def option_vote_counts(session: AsyncSession, survey_id: uuid.UUID) -> list[OptionVotes]:
    """Every option of a survey with its votes, online and paper apart and together: what a
    need cites as evidence (``{"kind": "survey_option", "survey_id", "question_key",
    "option_key"}``). No access check: the caller's domain decides who may read it."""
    conn = await driver_connection(session)
    return [
        OptionVotes(total=r["online"] + r["paper"], **r)
        for r in await repository.option_votes(conn, survey_id)
    ]
