"""All SQL of the exports: the export query of each kind, the export records, the listing.

The export query does the per-cell work PostgreSQL does best and cheapest: labels, phone
masking, rounding of coordinates, dates in Shanghai time, formula neutralisation for CSV.
Python then only moves rows from the cursor into the file writer.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from src.exports.writers import FORMULA_TRIGGERS, Column, Kind
from src.models.export import ExportRecord, ExportStatus
from src.models.proposal import ProposalCategory, ProposalStatus

LOCAL_TZ = "Asia/Shanghai"

STATUS_LABELS: dict[ProposalStatus, tuple[str, str]] = {
    ProposalStatus.submitted: ("已提交", "Submitted"),
    ProposalStatus.under_review: ("审核中", "Under review"),
    ProposalStatus.accepted: ("已采纳", "Accepted"),
    ProposalStatus.rejected: ("未采纳", "Rejected"),
    ProposalStatus.merged: ("已合并", "Merged"),
    ProposalStatus.adopted: ("已立项", "Adopted into a project"),
    ProposalStatus.done: ("已完成", "Done"),
    ProposalStatus.hidden: ("已隐藏", "Hidden"),
    ProposalStatus.pending_review: ("待审核", "Pending review"),
}
ROLE_LABELS: dict[str, tuple[str, str]] = {
    "committee": ("居委会", "Committee"),
    "street": ("街道", "Street"),
    "planner": ("社区规划师", "Planner"),
    "admin": ("管理员", "Administrator"),
}
ANONYMOUS = ("匿名居民", "Anonymous resident")

PROPOSAL_COLUMNS: tuple[Column, ...] = (
    Column("id", "建议编号", "Suggestion ID", Kind.text, 38),
    Column("community", "社区", "Community", Kind.text, 16),
    Column("category", "类别", "Category", Kind.text, 20),
    Column("title", "标题", "Title", Kind.text, 30),
    Column("body", "内容", "Text", Kind.text, 60),
    Column("status", "状态", "Status", Kind.text, 12),
    Column("supports", "支持数", "Supports", Kind.int, 9),
    Column("author", "提交人", "Author", Kind.text, 14),
    Column("phone", "手机号（脱敏）", "Phone (masked)", Kind.text, 15),
    Column("lat", "纬度（WGS-84，约百米）", "Latitude (WGS-84, ~100 m)", Kind.float, 12),
    Column("lng", "经度（WGS-84，约百米）", "Longitude (WGS-84, ~100 m)", Kind.float, 12),
    Column("created_at", "提交时间", "Submitted at", Kind.datetime, 20),
    Column("updated_at", "更新时间", "Updated at", Kind.datetime, 20),
    Column("reply_count", "回复数", "Replies", Kind.int, 9),
    Column("replies", "回复内容", "Reply texts", Kind.text, 60),
    Column("history", "状态变更记录", "Status history", Kind.text, 50),
)


@dataclass(frozen=True)
class ProposalFilter:
    street_id: uuid.UUID
    community_id: uuid.UUID | None = None
    status: ProposalStatus | None = None
    category: str | None = None
    event_id: uuid.UUID | None = None
    created_from: dt.datetime | None = None  # inclusive
    created_to: dt.datetime | None = None  # exclusive


def _lit(value: str) -> str:
    """A SQL string literal of one of our own constants."""
    return "'" + value.replace("'", "''") + "'"


def _pick(pair: tuple[str, str], english: bool) -> str:
    return pair[1] if english else pair[0]


def _case(expr: str, labels: dict[Any, tuple[str, str]], english: bool) -> str:
    whens = " ".join(
        f"WHEN {_lit(str(key))} THEN {_lit(_pick(pair, english))}" for key, pair in labels.items()
    )
    return f"CASE {expr} {whens} ELSE {expr} END"


_TRIGGERS_SQL = ", ".join(
    "E'\\t'" if t == "\t" else "E'\\r'" if t == "\r" else _lit(t) for t in FORMULA_TRIGGERS
)


def _safe(expr: str) -> str:
    """CSV only: an apostrophe before a cell a spreadsheet would run as a formula."""
    return f"CASE WHEN left({expr}, 1) IN ({_TRIGGERS_SQL}) THEN '''' || {expr} ELSE {expr} END"


def _local(expr: str, fmt: str) -> str:
    return f"to_char({expr} AT TIME ZONE {_lit(LOCAL_TZ)}, {_lit(fmt)})"


def _serial(expr: str) -> str:
    """An Excel date serial (days since 1899-12-30) of the Shanghai wall-clock time."""
    return (
        f"(extract(epoch FROM date_trunc('second', {expr} AT TIME ZONE {_lit(LOCAL_TZ)}))"
        " / 86400.0 + 25569)::float8"
    )


def _where(flt: ProposalFilter) -> tuple[str, list[Any]]:
    args: list[Any] = [flt.street_id]
    where = ["p.street_id = $1"]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if flt.community_id is not None:
        where.append(f"p.community_id = {arg(flt.community_id)}")
    if flt.status is not None:
        where.append(f"p.status = {arg(flt.status.value)}::proposal_status")
    if flt.category is not None:
        where.append(f"p.category = {arg(flt.category)}")
    if flt.event_id is not None:
        where.append(f"p.event_id = {arg(flt.event_id)}")
    if flt.created_from is not None:
        where.append(f"p.created_at >= {arg(flt.created_from)}")
    if flt.created_to is not None:
        where.append(f"p.created_at < {arg(flt.created_to)}")
    return " AND ".join(where), args


class Shape(StrEnum):
    """What each row of the export query looks like."""

    typed = "typed"  # numbers as numbers, dates as Excel serials (the XLSX writer)
    csv_columns = "csv_columns"  # every column as CSV text, neutralised (COPY ... csv)
    csv_lines = "csv_lines"  # one column: the whole CSV record, quoted (the CSV writer)


def _csv_field(expr: str, kind: Kind) -> str:
    """One CSV field built by PostgreSQL: text always quoted (RFC 4180) and neutralised."""
    if kind is not Kind.text:
        return f"coalesce(({expr})::text, '')"
    guard = f"CASE WHEN left({expr}, 1) IN ({_TRIGGERS_SQL}) THEN '''' ELSE '' END"
    return f"""coalesce('"' || {guard} || replace({expr}, '"', '""') || '"', '')"""


def proposals_query(flt: ProposalFilter, *, english: bool, shape: Shape) -> tuple[str, list[Any]]:
    """The export query (positional ``$n`` parameters, for asyncpg) and its arguments."""
    where, args = _where(flt)
    typed = shape is Shape.typed

    def when(expr: str) -> str:
        return _serial(expr) if typed else _local(expr, "YYYY-MM-DD HH24:MI:SS")

    status_label = _case("p.status::text", STATUS_LABELS, english)
    from_label = _case("t.from_status::text", STATUS_LABELS, english)
    to_label = _case("t.to_status::text", STATUS_LABELS, english)
    role_label = _case("r.author_role", ROLE_LABELS, english)
    category = "cat.name_en" if english else "cat.name_zh"
    anonymous = _lit(_pick(ANONYMOUS, english))
    sep = "'; '" if english else "'；'"
    colon = "': '" if english else "'：'"
    expressions = [
        "p.id::text",
        "c.name",
        category,
        "p.title",
        "p.body",
        status_label,
        "p.support_count",
        f"CASE WHEN p.anonymous THEN {anonymous} ELSE u.display_name END",
        # Anonymous authors stay anonymous; others keep 3 + 4 digits (138****1234).
        "CASE WHEN p.anonymous OR u.phone IS NULL THEN NULL"
        " WHEN length(u.phone) >= 8 THEN left(u.phone, 3) || '****' || right(u.phone, 4)"
        " ELSE '****' END",
        # Three decimals: about 110 m, never a precise home location.
        "round(p.lat::numeric, 3)::float8",
        "round(p.lng::numeric, 3)::float8",
        when("p.created_at"),
        when("p.updated_at"),
        "rep.n",
        "rep.texts",
        "hist.texts",
    ]
    assert len(expressions) == len(PROPOSAL_COLUMNS)
    kinds = [c.kind for c in PROPOSAL_COLUMNS]
    if shape is Shape.typed:
        select_list = ",\n  ".join(expressions)
    elif shape is Shape.csv_columns:
        select_list = ",\n  ".join(
            _safe(e) if k is Kind.text else e for e, k in zip(expressions, kinds, strict=True)
        )
    else:
        fields = [_csv_field(e, k) for e, k in zip(expressions, kinds, strict=True)]
        select_list = " || ',' || ".join(fields) + " AS line"
    sql = f"""
SELECT
  {select_list}
FROM proposals p
JOIN areas c ON c.id = p.community_id
JOIN proposal_categories cat ON cat.code = p.category
JOIN users u ON u.id = p.author_id
CROSS JOIN LATERAL (
  SELECT count(*) AS n,
         string_agg({_local("r.created_at", "YYYY-MM-DD HH24:MI")} || ' ' || {role_label}
                    || {colon} || r.body, E'\\n' ORDER BY r.created_at, r.id) AS texts
  FROM proposal_replies r WHERE r.proposal_id = p.id
) rep
CROSS JOIN LATERAL (
  SELECT string_agg({_local("t.at", "YYYY-MM-DD")} || ' ' || {from_label} || '→' || {to_label},
                    {sep} ORDER BY t.at, t.id) AS texts
  FROM proposal_transitions t WHERE t.proposal_id = p.id
) hist
WHERE {where}
ORDER BY p.created_at, p.id"""
    return sql, args


def proposals_count_query(flt: ProposalFilter) -> tuple[str, list[Any]]:
    where, args = _where(flt)
    return f"SELECT count(*) FROM proposals p WHERE {where}", args


# --- records ------------------------------------------------------------------------------


async def category_exists(session: AsyncSession, code: str) -> bool:
    found = await session.scalar(select(ProposalCategory.code).where(ProposalCategory.code == code))
    return found is not None


async def add_record(session: AsyncSession, record: ExportRecord) -> ExportRecord:
    session.add(record)
    await session.flush()
    return record


async def finish_record(
    conn: asyncpg.Connection, record_id: uuid.UUID, status: ExportStatus, row_count: int
) -> None:
    await conn.execute(
        "UPDATE exports SET status = $2::export_status, row_count = $3, finished_at = now()"
        " WHERE id = $1",
        record_id,
        status.value,
        row_count,
    )


@dataclass(frozen=True)
class ListedExport:
    record: ExportRecord
    area_name: str
    area_level: str
    actor_name: str | None


async def list_records(
    session: AsyncSession,
    *,
    area_ids: Sequence[uuid.UUID] | None,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[ListedExport]:
    """Newest first. ``area_ids`` None: everything (a city-wide admin); else the exports of
    areas at or under any of them."""
    clauses = []
    params: dict[str, Any] = {"limit": limit + 1}
    if area_ids is not None:
        clauses.append("a.path && CAST(:areas AS uuid[])")
        params["areas"] = list(area_ids)
    if after is not None:
        clauses.append("(e.created_at, e.id) < (:after_at, :after_id)")
        params["after_at"], params["after_id"] = after
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = (
        await session.execute(
            text(
                f"""
                SELECT e.id, a.name AS area_name, a.level::text AS area_level,
                       u.display_name AS actor_name
                FROM exports e
                JOIN areas a ON a.id = e.area_id
                LEFT JOIN users u ON u.id = e.actor_id
                {where}
                ORDER BY e.created_at DESC, e.id DESC
                LIMIT :limit
                """
            ),
            params,
        )
    ).all()
    if not rows:
        return []
    records = {
        r.id: r
        for r in await session.scalars(
            select(ExportRecord).where(ExportRecord.id.in_([row.id for row in rows]))
        )
    }
    return [
        ListedExport(records[row.id], row.area_name, row.area_level, row.actor_name) for row in rows
    ]


# --- the shared select list -----------------------------------------------------------------


def _select_list(expressions: Sequence[str], columns: Sequence[Column], shape: Shape) -> str:
    """The select list of an export query in the shape its writer takes."""
    assert len(expressions) == len(columns)
    kinds = [c.kind for c in columns]
    if shape is Shape.typed:
        return ",\n  ".join(expressions)
    if shape is Shape.csv_columns:
        return ",\n  ".join(
            _safe(e) if k is Kind.text else e for e, k in zip(expressions, kinds, strict=True)
        )
    fields = [_csv_field(e, k) for e, k in zip(expressions, kinds, strict=True)]
    return " || ',' || ".join(fields) + " AS line"


def _when(expr: str, shape: Shape) -> str:
    return _serial(expr) if shape is Shape.typed else _local(expr, "YYYY-MM-DD HH24:MI:SS")


def _masked_phone(expr: str) -> str:
    return (
        f"CASE WHEN {expr} IS NULL THEN NULL WHEN length({expr}) >= 8"
        f" THEN left({expr}, 3) || '****' || right({expr}, 4) ELSE '****' END"
    )


# --- ratings with comments ------------------------------------------------------------------

DEFAULT_CRITERIA = ("overall", "design", "construction", "usefulness")
YES_NO = {"true": ("是", "Yes"), "false": ("否", "No")}

RATING_COLUMNS: tuple[Column, ...] = (
    Column("id", "评分编号", "Rating ID", Kind.text, 38),
    Column("community", "社区", "Community", Kind.text, 16),
    Column("project", "项目", "Project", Kind.text, 24),
    Column("event", "评议会", "Review meeting", Kind.text, 24),
    Column("overall", "总体满意度", "Overall", Kind.int, 10),
    Column("design", "设计", "Design", Kind.int, 8),
    Column("construction", "施工", "Construction", Kind.int, 10),
    Column("usefulness", "实用性", "Usefulness", Kind.int, 10),
    Column("scores", "全部评分", "All scores", Kind.text, 40),
    Column("comment", "评价内容", "Comment", Kind.text, 60),
    Column("comment_hidden", "评价已隐藏", "Comment hidden", Kind.text, 10),
    Column("rater", "评分人", "Rater", Kind.text, 14),
    Column("phone", "手机号（脱敏）", "Phone (masked)", Kind.text, 15),
    Column("created_at", "评分时间", "Rated at", Kind.datetime, 20),
    Column("updated_at", "更新时间", "Updated at", Kind.datetime, 20),
)


@dataclass(frozen=True)
class RatingFilter:
    event_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None


def _rating_where(flt: RatingFilter) -> tuple[str, list[Any]]:
    if flt.event_id is not None:
        return "r.event_id = $1", [flt.event_id]
    assert flt.project_id is not None
    return "r.project_id = $1", [flt.project_id]


def ratings_query(flt: RatingFilter, *, english: bool, shape: Shape) -> tuple[str, list[Any]]:
    where, args = _rating_where(flt)
    hidden = _case("(r.comment_hidden_at IS NOT NULL)::text", YES_NO, english)
    expressions = [
        "r.id::text",
        "c.name",
        "pr.title",
        "e.title",
        *[f"(r.scores ->> {_lit(code)})::int" for code in DEFAULT_CRITERIA],
        "(SELECT string_agg(s.key || '=' || s.value, '; ' ORDER BY s.key)"
        " FROM jsonb_each_text(r.scores) s)",
        "r.comment",
        hidden,
        "u.display_name",
        _masked_phone("u.phone"),
        _when("r.created_at", shape),
        _when("r.updated_at", shape),
    ]
    sql = f"""
SELECT
  {_select_list(expressions, RATING_COLUMNS, shape)}
FROM ratings r
JOIN events e ON e.id = r.event_id
JOIN areas c ON c.id = r.community_id
JOIN users u ON u.id = r.user_id
LEFT JOIN projects pr ON pr.id = r.project_id
WHERE {where}
ORDER BY r.created_at, r.id"""
    return sql, args


def ratings_count_query(flt: RatingFilter) -> tuple[str, list[Any]]:
    where, args = _rating_where(flt)
    return f"SELECT count(*) FROM ratings r WHERE {where}", args


# --- a coordination meeting's results -------------------------------------------------------

RESULT_COLUMNS: tuple[Column, ...] = (
    Column("section", "部分", "Section", Kind.text, 10),
    Column("item", "项目", "Item", Kind.text, 36),
    Column("value", "数值/选项", "Value / options", Kind.text, 40),
    Column("online_votes", "线上票数", "Online votes", Kind.int, 10),
    Column("paper_votes", "纸质票数", "Paper votes", Kind.int, 10),
    Column("votes", "合计票数", "Total votes", Kind.int, 10),
    Column("share", "得票率", "Share", Kind.float, 10),
)
RECEIPTS_SECTION = ("回执", "Receipts")


def receipts_query(event_id: uuid.UUID, *, english: bool, shape: Shape) -> tuple[str, list[Any]]:
    """Every ballot's receipt with the titles of its options (published after close)."""
    sep = "'; '" if english else "'；'"
    expressions = [
        _lit(_pick(RECEIPTS_SECTION, english)),
        "b.receipt",
        f"(SELECT string_agg(o.title, {sep} ORDER BY o.position, o.id) FROM event_options o"
        " WHERE o.id = ANY(b.option_ids))",
        "NULL::int",
        "NULL::int",
        "NULL::int",
        "NULL::float8",
    ]
    sql = f"""
SELECT
  {_select_list(expressions, RESULT_COLUMNS, shape)}
FROM ballots b
WHERE b.event_id = $1
ORDER BY b.receipt"""
    return sql, [event_id]


def receipts_count_query(event_id: uuid.UUID) -> tuple[str, list[Any]]:
    return "SELECT count(*) FROM ballots b WHERE b.event_id = $1", [event_id]
