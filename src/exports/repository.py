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
    # What residents quote and clerks file by (src/proposals/references.py), first.
    Column("reference", "建议编号", "Reference", Kind.text, 22),
    Column("id", "系统编号", "Suggestion ID", Kind.text, 38),
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
        "p.reference",
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


# --- the yearly project list for the city office (项目实施清单和项目数据库) --------------------

KIND_LABELS: dict[str, tuple[str, str]] = {
    "general": ("一般项目", "General"),
    "renmin_fang": ("人民坊", "Renmin Fang (community hub)"),
    "liuyi_ting": ("六艺亭", "Liuyi Ting (pavilion)"),
    "embedded_service": ("嵌入式服务设施", "Embedded service facility"),
}
PROJECT_STATUS_LABELS: dict[str, tuple[str, str]] = {
    "planned": ("计划中", "Planned"),
    "designing": ("设计中", "Designing"),
    "building": ("实施中", "Building"),
    "done": ("已完成", "Done"),
    "cancelled": ("已取消", "Cancelled"),
}

PROJECT_LIST_COLUMNS: tuple[Column, ...] = (
    Column("id", "项目编号", "Project ID", Kind.text, 38),
    Column("street", "街道", "Street", Kind.text, 14),
    Column("community", "社区", "Community", Kind.text, 16),
    Column("year", "年度", "Year", Kind.int, 7),
    Column("title", "项目名称", "Project", Kind.text, 30),
    Column("kind", "项目类型", "Kind", Kind.text, 14),
    Column("category", "类别", "Category", Kind.text, 14),
    Column("content", "建设内容", "Content", Kind.text, 50),
    Column("implementation_path", "实施路径", "Implementation path", Kind.text, 30),
    Column("responsible_unit", "实施主体", "Responsible unit", Kind.text, 20),
    Column("funding_source", "资金来源", "Funding source", Kind.text, 16),
    Column("design_team", "设计团队", "Design team", Kind.text, 20),
    Column("planned_start", "计划开始", "Planned start", Kind.text, 12),
    Column("planned_end", "计划完成", "Planned end", Kind.text, 12),
    Column("status", "状态", "Status", Kind.text, 10),
    Column("progress", "进度（%）", "Progress (%)", Kind.int, 10),
    Column("actual_end", "实际完成", "Finished on", Kind.text, 12),
    Column("need_count", "需求数", "Needs", Kind.int, 8),
    Column("needs", "对应需求", "Needs answered", Kind.text, 40),
    Column("suggestion_count", "居民建议数", "Suggestions", Kind.int, 10),
    Column("supports", "建议支持数", "Supports", Kind.int, 10),
    Column("suggestions", "居民建议（支持数）", "Suggestions (supports)", Kind.text, 60),
)


@dataclass(frozen=True)
class ProjectListFilter:
    year: int
    street_id: uuid.UUID | None = None  # one street
    district_id: uuid.UUID | None = None  # every street of a district


def _project_list_where(flt: ProjectListFilter) -> tuple[str, list[Any]]:
    if flt.street_id is not None:
        return "p.year = $1 AND p.street_id = $2", [flt.year, flt.street_id]
    assert flt.district_id is not None
    return (
        "p.year = $1 AND p.street_id IN (SELECT id FROM areas WHERE parent_id = $2)",
        [flt.year, flt.district_id],
    )


def project_list_query(
    flt: ProjectListFilter, *, english: bool, shape: Shape
) -> tuple[str, list[Any]]:
    """One row per project of the year's list, with the needs it answers and the
    suggestions behind it (those of its needs and those adopted into it; hidden ones
    never). Suggestions are named by title and support count only: no resident leaves."""
    where, args = _project_list_where(flt)
    sep = "'; '" if english else "'；'"
    category = "cat.name_en" if english else "cat.name_zh"

    def day(expr: str) -> str:
        return f"to_char({expr}, 'YYYY-MM-DD')"

    expressions = [
        "p.id::text",
        "s.name",
        "c.name",
        "p.year",
        "p.title",
        _case("p.kind::text", KIND_LABELS, english),
        category,
        "p.content",
        "p.implementation_path",
        "p.responsible_unit",
        "p.budget_source",
        "p.design_team",
        day("p.planned_start"),
        day("p.planned_end"),
        _case("p.status::text", PROJECT_STATUS_LABELS, english),
        "p.progress_percent",
        day("p.actual_end"),
        "coalesce(nd.n, 0)",
        "nd.titles",
        "coalesce(sg.n, 0)",
        "coalesce(sg.supports, 0)",
        "sg.titles",
    ]
    # Set-based: the needs and suggestions of all listed projects are aggregated in one pass
    # each (hash joins), not by a subquery per project.
    sql = f"""
WITH listed AS (
  SELECT p.* FROM projects p WHERE {where}
), nd AS (
  SELECT pn.project_id, count(*)::int AS n,
         string_agg(n.title, {sep} ORDER BY n.title, n.id) AS titles
  FROM project_needs pn JOIN needs n ON n.id = pn.need_id
  WHERE pn.project_id IN (SELECT id FROM listed)
  GROUP BY pn.project_id
), sources AS (
  SELECT pn.project_id, e.proposal_id
  FROM project_needs pn
  JOIN need_evidence e ON e.need_id = pn.need_id AND e.kind = 'proposal'
  WHERE pn.project_id IN (SELECT id FROM listed)
  UNION
  SELECT q.project_id, q.id FROM proposals q WHERE q.project_id IN (SELECT id FROM listed)
), sg AS (
  SELECT s.project_id, count(*)::int AS n, sum(pr.support_count)::int AS supports,
         string_agg(pr.title || '（' || pr.support_count || '）', {sep}
                    ORDER BY pr.support_count DESC, pr.id) AS titles
  FROM sources s JOIN proposals pr ON pr.id = s.proposal_id AND pr.status <> 'hidden'
  GROUP BY s.project_id
)
SELECT
  {_select_list(expressions, PROJECT_LIST_COLUMNS, shape)}
FROM listed p
JOIN areas c ON c.id = p.community_id
JOIN areas s ON s.id = p.street_id
JOIN proposal_categories cat ON cat.code = p.category
LEFT JOIN nd ON nd.project_id = p.id
LEFT JOIN sg ON sg.project_id = p.id
ORDER BY s.code, c.code, p.created_at, p.id"""
    return sql, args


def project_list_count_query(flt: ProjectListFilter) -> tuple[str, list[Any]]:
    where, args = _project_list_where(flt)
    return f"SELECT count(*) FROM projects p WHERE {where}", args
