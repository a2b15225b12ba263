"""The rules of a questionnaire, without the database: which question sets are valid, which
answers a question takes (one field-level error per fault), and what an answer adds to the
running tallies. The HTTP endpoint and the paper import both go through here."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from src.core.geo import Location
from src.models.survey import QuestionKind
from src.surveys.schemas import TEXT_MAX, QuestionIn

CHOICE_KINDS = (QuestionKind.single, QuestionKind.multiple, QuestionKind.ranking)
SCALE_SPAN_MAX = 20
SURVEY_ITEM = ""  # question_key '' / item '': the survey's own count; item '': "answered"


@dataclass(frozen=True)
class Option:
    id: uuid.UUID
    key: str
    label: str


@dataclass(frozen=True)
class Question:
    key: str
    kind: QuestionKind
    title: str
    required: bool
    min_choices: int | None = None
    max_choices: int | None = None
    scale_min: int | None = None
    scale_max: int | None = None
    scale_labels: dict[str, str] | None = None
    options: tuple[Option, ...] = field(default_factory=tuple)

    @cached_property
    def option_keys(self) -> dict[str, Option]:
        return {o.key: o for o in self.options}


Errors = list[dict[str, str]]


def check_window(opens_at: dt.datetime, closes_at: dt.datetime) -> Errors:
    errors: Errors = []
    for name, value in (("opens_at", opens_at), ("closes_at", closes_at)):
        if value.tzinfo is None:
            errors.append({"field": name, "message": "give the time with its offset"})
    if not errors and closes_at <= opens_at:
        errors.append({"field": "closes_at", "message": "must be after opens_at"})
    return errors


def check_questions(questions: Sequence[QuestionIn]) -> Errors:
    """Every fault of the question set, each under ``questions[i].<field>``."""
    errors: Errors = []
    seen: set[str] = set()
    for i, q in enumerate(questions):
        at = f"questions[{i}]"

        def err(name: str, message: str, at: str = at) -> None:
            errors.append({"field": f"{at}.{name}" if name else at, "message": message})

        if q.key in seen:
            err("key", "duplicate question key")
        seen.add(q.key)
        options = q.options or []
        if q.kind in CHOICE_KINDS:
            if len(options) < 2:
                err("options", "a choice question needs at least 2 options")
            keys = [o.key for o in options]
            if len(set(keys)) != len(keys):
                err("options", "duplicate option key")
        elif q.options is not None:
            err("options", f"a {q.kind.value} question has no options")
        n = len(options)
        if q.kind is QuestionKind.single:
            if q.max_choices not in (None, 1) or q.min_choices not in (None, 0, 1):
                err("max_choices", "a single-choice question takes exactly one option")
        elif q.kind in (QuestionKind.multiple, QuestionKind.ranking) and n >= 2:
            top = q.max_choices if q.max_choices is not None else n
            low = q.min_choices if q.min_choices is not None else 1
            if top > n:
                err("max_choices", f"at most {n} (the number of options)")
            if low > top:
                err("min_choices", "must not exceed max_choices")
            if low < 1:
                err("min_choices", "at least 1 (leave the question unanswered instead)")
        elif q.kind not in CHOICE_KINDS and (
            q.min_choices is not None or q.max_choices is not None
        ):
            err("max_choices", f"a {q.kind.value} question has no choice limits")
        if q.kind is QuestionKind.scale:
            if q.scale is None:
                err("scale", "a scale question needs scale.min and scale.max")
            elif q.scale.max <= q.scale.min:
                err("scale.max", "must be greater than scale.min")
            elif q.scale.max - q.scale.min > SCALE_SPAN_MAX:
                err("scale.max", f"a scale spans at most {SCALE_SPAN_MAX} steps")
            else:
                for label in q.scale.labels or {}:
                    try:
                        value = int(label)
                    except ValueError:
                        value = None
                    if value is None or not q.scale.min <= value <= q.scale.max:
                        err(f"scale.labels.{label}", "not a value of the scale")
        elif q.scale is not None:
            err("scale", f"a {q.kind.value} question has no scale")
    return errors


def choice_bounds(q: Question) -> tuple[int, int]:
    if q.kind is QuestionKind.single:
        return 1, 1
    top = q.max_choices if q.max_choices is not None else len(q.options)
    low = q.min_choices if q.min_choices is not None else 1
    return low, top


def _keys_list(q: Question, value: Any, field_name: str, errors: Errors) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append({"field": field_name, "message": "a list of option keys is required"})
        return None
    known = q.option_keys
    unknown = [v for v in value if v not in known]
    if unknown:
        errors.append({"field": field_name, "message": f"unknown options: {', '.join(unknown)}"})
        return None
    if len(set(value)) != len(value):
        errors.append({"field": field_name, "message": "an option appears twice"})
        return None
    low, top = choice_bounds(q)
    if len(value) < low:
        errors.append({"field": field_name, "message": f"choose at least {low}"})
        return None
    if len(value) > top:
        errors.append({"field": field_name, "message": f"choose at most {top}"})
        return None
    return value


def check_answer(q: Question, value: Any, field_name: str, errors: Errors) -> Any:
    """The answer as stored (location in WGS-84), or None after appending an error."""
    kind = q.kind
    if kind is QuestionKind.single:
        if not isinstance(value, str):
            errors.append({"field": field_name, "message": "an option key is required"})
            return None
        if value not in q.option_keys:
            errors.append({"field": field_name, "message": f"unknown option: {value}"})
            return None
        return value
    if kind in (QuestionKind.multiple, QuestionKind.ranking):
        return _keys_list(q, value, field_name, errors)
    if kind is QuestionKind.scale:
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append({"field": field_name, "message": "a whole number is required"})
            return None
        assert q.scale_min is not None and q.scale_max is not None
        if not q.scale_min <= value <= q.scale_max:
            errors.append({"field": field_name, "message": f"must be {q.scale_min}..{q.scale_max}"})
            return None
        return value
    if kind is QuestionKind.text:
        if not isinstance(value, str) or not value.strip():
            errors.append({"field": field_name, "message": "a text is required"})
            return None
        if len(value) > TEXT_MAX:
            errors.append({"field": field_name, "message": f"at most {TEXT_MAX} characters"})
            return None
        return value.strip()
    # location
    try:
        where = Location.model_validate(value)
    except ValidationError:
        errors.append(
            {"field": field_name, "message": "a point {lat, lng, coord_sys?} is required"}
        )
        return None
    lat, lng = where.to_wgs84()
    return {"lat": round(lat, 6), "lng": round(lng, 6)}


def check_answers(
    questions: Sequence[Question], answers: dict[str, Any], prefix: str = "answers"
) -> tuple[dict[str, Any], Errors]:
    """The answers as stored and every fault: unknown questions, missing required ones,
    wrong kinds, options, choice limits and scale bounds."""
    errors: Errors = []
    by_key = {q.key: q for q in questions}
    for key in answers:
        if key not in by_key:
            errors.append({"field": f"{prefix}.{key}", "message": "unknown question"})
    stored: dict[str, Any] = {}
    for q in questions:
        value = answers.get(q.key)
        if value is None or value == [] or value == "":
            if q.required:
                errors.append({"field": f"{prefix}.{q.key}", "message": "required"})
            continue
        checked = check_answer(q, value, f"{prefix}.{q.key}", errors)
        if checked is not None:
            stored[q.key] = checked
    return stored, errors


TallyKey = tuple[str, str]


def tally_items(
    questions: Iterable[Question], stored: dict[str, Any]
) -> list[tuple[str, str, int, int]]:
    """What one response adds: (question_key, item, n, total) rows."""
    rows: list[tuple[str, str, int, int]] = [(SURVEY_ITEM, SURVEY_ITEM, 1, 0)]
    for q in questions:
        if q.key not in stored:
            continue
        value = stored[q.key]
        rows.append((q.key, SURVEY_ITEM, 1, 0))
        if q.kind is QuestionKind.single:
            rows.append((q.key, value, 1, 0))
        elif q.kind is QuestionKind.multiple:
            rows.extend((q.key, v, 1, 0) for v in value)
        elif q.kind is QuestionKind.ranking:
            rows.extend((q.key, v, 1, position) for position, v in enumerate(value, 1))
        elif q.kind is QuestionKind.scale:
            rows.append((q.key, str(value), 1, int(value)))
    return rows


AnswerItem = tuple[str, str | None, float | None, float | None]


def answer_items(questions: Iterable[Question], stored: dict[str, Any]) -> list[AnswerItem]:
    """The text and map answers of one response, as (question_key, body, lat, lng) rows."""
    rows: list[AnswerItem] = []
    for q in questions:
        value = stored.get(q.key)
        if value is None:
            continue
        if q.kind is QuestionKind.text:
            rows.append((q.key, value, None, None))
        elif q.kind is QuestionKind.location:
            rows.append((q.key, None, value["lat"], value["lng"]))
    return rows


def merge(
    *deltas: tuple[int, Iterable[tuple[str, str, int, int]]],
) -> list[tuple[str, str, int, int]]:
    """Sum (sign, rows) pairs per (question_key, item), in key order (the upsert locks rows
    in that order: concurrent responses never deadlock); rows that net to zero are dropped."""
    acc: dict[TallyKey, list[int]] = defaultdict(lambda: [0, 0])
    for sign, rows in deltas:
        for q, item, n, total in rows:
            cell = acc[(q, item)]
            cell[0] += sign * n
            cell[1] += sign * total
    return [(q, i, n, t) for (q, i), (n, t) in sorted(acc.items()) if n or t]


@dataclass(frozen=True)
class ResponseRates:
    online: float | None  # ``response_rate``
    with_paper: float | None  # ``response_rate_with_paper``


def response_rates(online: int, paper: int, residents: int) -> ResponseRates:
    """The response rates of a survey's results, and of the area figures over several surveys
    (their responses and their residents summed): responses ÷ the registered residents of the
    survey's area (None without residents), to 4 places. Registered residents answer at most
    once each: online ÷ residents is at most 1. Paper sheets come also from residents not on
    the app, so their rate may pass 1."""
    if not residents:
        return ResponseRates(None, None)
    return ResponseRates(round(online / residents, 4), round((online + paper) / residents, 4))
