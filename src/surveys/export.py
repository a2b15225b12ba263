"""The survey export (street staff): one row per questionnaire, one column per question, on
the exports domain's machinery (its record, audit, writers, masking and stream)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from src.core.auth import Principal
from src.core.db import driver_connection
from src.core.errors import forbidden
from src.core.policy import covers, load_area, require_roles
from src.exports.repository import Shape, _case, _lit, _masked_phone, _select_list, _when
from src.exports.service import (
    EXPORT_ROLES,
    ExportFormat,
    ExportPlan,
    _names,
    _record,
    _shape,
)
from src.exports.writers import Column, Kind
from src.models.survey import QuestionKind
from src.surveys import repository
from src.surveys.repository import SurveyRow
from src.surveys.service import survey_not_found

CHANNELS = {"online": ("线上", "Online"), "paper": ("纸质", "Paper")}

BASE_COLUMNS: tuple[Column, ...] = (
    Column("id", "答卷编号", "Response ID", Kind.text, 38),
    Column("channel", "渠道", "Channel", Kind.text, 8),
    Column("sheet_no", "纸质问卷编号", "Paper sheet", Kind.text, 14),
    Column("community", "社区", "Community", Kind.text, 16),
    Column("respondent", "答卷人", "Respondent", Kind.text, 14),
    Column("phone", "手机号（脱敏）", "Phone (masked)", Kind.text, 15),
    Column("submitted_at", "提交时间", "Submitted at", Kind.datetime, 20),
    Column("updated_at", "更新时间", "Updated at", Kind.datetime, 20),
)


def _answer_column(kind: QuestionKind, key: str, title: str) -> tuple[Column, str]:
    """The question's column and the SQL of its cell (labels from the ``$2`` map)."""
    k = _lit(key)
    labels = f"($2::jsonb -> {k})"
    if kind is QuestionKind.single:
        expr = f"({labels} ->> (r.answers ->> {k}))"
    elif kind in (QuestionKind.multiple, QuestionKind.ranking):
        sep = "' > '" if kind is QuestionKind.ranking else "'；'"
        expr = (
            f"(SELECT string_agg({labels} ->> e.v, {sep} ORDER BY e.ord)"
            f" FROM jsonb_array_elements_text(r.answers -> {k}) WITH ORDINALITY AS e(v, ord))"
        )
    elif kind is QuestionKind.scale:
        return Column(key, title, title, Kind.int, 10), f"(r.answers ->> {k})::int"
    elif kind is QuestionKind.text:
        expr = f"(r.answers ->> {k})"
    else:  # rounded to about 100 m, like every export's coordinates
        expr = (
            f"(round((r.answers -> {k} ->> 'lat')::numeric, 3)::text || ',' ||"
            f" round((r.answers -> {k} ->> 'lng')::numeric, 3)::text)"
        )
        title = f"{title}（WGS-84）"
    return Column(key, title, title, Kind.text, 30), expr


def survey_query(
    survey: SurveyRow, *, english: bool, shape: Shape
) -> tuple[str, list[Any], tuple[Column, ...]]:
    columns = list(BASE_COLUMNS)
    expressions = [
        "r.id::text",
        _case("r.channel::text", CHANNELS, english),
        "r.sheet_no",
        "c.name",
        "u.display_name",
        _masked_phone("u.phone"),
        _when("r.created_at", shape),
        _when("r.updated_at", shape),
    ]
    labels: dict[str, dict[str, str]] = {}
    for q in survey.questions:
        labels[q.key] = {o.key: o.label for o in q.options}
        column, expr = _answer_column(q.kind, q.key, q.title)
        columns.append(column)
        expressions.append(expr)
    sql = f"""
SELECT
  {_select_list(expressions, columns, shape)}
FROM survey_responses r
LEFT JOIN users u ON u.id = r.user_id
LEFT JOIN areas c ON c.id = r.community_id
WHERE r.survey_id = $1
ORDER BY r.channel, r.id"""
    return sql, [survey.id, json.dumps(labels, ensure_ascii=False)], tuple(columns)


async def plan_survey(
    session: AsyncSession,
    principal: Principal | None,
    survey_id: uuid.UUID,
    *,
    fmt: ExportFormat,
    english: bool,
    via: str = "api",
) -> ExportPlan:
    if principal is not None:
        require_roles(principal, *EXPORT_ROLES)
    survey = await repository.load(await driver_connection(session), survey_id)
    if survey is None:
        raise survey_not_found()
    area = await load_area(session, survey.area_id)
    assert area is not None
    if principal is not None and not covers(principal, area.path, EXPORT_ROLES):
        raise forbidden("area_forbidden", "无权导出该区域的数据", "Not allowed in this area")
    sql, args, columns = survey_query(survey, english=english, shape=_shape(fmt))
    title = f"{survey.title} Responses" if english else f"{survey.title}问卷答卷"
    filename, ascii_filename, now_local = _names(title, f"survey_{area.code}", fmt)
    filters = {"survey_id": str(survey.id), "language": "en" if english else "zh", "via": via}
    record = await _record(session, principal, "survey", fmt, area, filters, filename)
    return ExportPlan(
        record_id=record.id,
        format=fmt,
        english=english,
        columns=columns,
        sql=sql,
        args=args,
        count_sql="SELECT count(*) FROM survey_responses r WHERE r.survey_id = $1",
        count_args=[survey.id],
        filename=filename,
        ascii_filename=ascii_filename,
        title=title,
        created_at=now_local,
        sheet=("问卷答卷", "Responses"),
    )
