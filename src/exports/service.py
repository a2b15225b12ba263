"""The rules of exports: who may export what, how the file is named, how it is streamed,
and the record every export leaves.

Street staff export their street (or one of its communities), admins what their grant
covers; committees and residents are refused (403). The rows come from a server-side cursor
on a dedicated asyncpg connection, in one read-only snapshot, batch by batch into a file
writer: memory stays flat however many rows there are.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import uuid
import zoneinfo
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import anyio
import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from src.core import audit
from src.core.auth import Principal
from src.core.errors import AppError, Message, forbidden, not_found, validation_failed
from src.core.pagination import decode_cursor, paginate
from src.core.policy import AreaRef, area_required, covers, load_area, require_roles
from src.events import repository as events_repository
from src.exports import repository
from src.exports.repository import PROPOSAL_COLUMNS, ProposalFilter, Shape
from src.exports.schemas import ExportActorOut, ExportAreaOut, ExportOut
from src.exports.writers import XLSX_MAX_ROWS, Column, CsvWriter, XlsxWriter
from src.models.area import AreaLevel
from src.models.event import EventKind, EventStatus
from src.models.export import ExportRecord, ExportStatus
from src.models.proposal import ProposalStatus
from src.models.user import Role
from src.projects import repository as projects_repository
from src.votes import service as votes
from src.votes import tally
from src.votes.schemas import ResultsOut

logger = logging.getLogger("lifecircle.exports")

EXPORT_ROLES = (Role.street, Role.admin)
LOCAL_TZ = zoneinfo.ZoneInfo(repository.LOCAL_TZ)
BATCH_ROWS = 2000


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


@dataclass(frozen=True)
class ProposalExportQuery:
    """What the caller asked for (already type-checked by the controller or the CLI)."""

    format: ExportFormat = ExportFormat.csv
    street_id: uuid.UUID | None = None
    community_id: uuid.UUID | None = None
    status: ProposalStatus | None = None
    category: str | None = None
    event_id: uuid.UUID | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass
class ExportPlan:
    """Everything the stream needs; the export record exists (status ``started``)."""

    record_id: uuid.UUID
    format: ExportFormat
    english: bool
    columns: Sequence[Column]
    sql: str
    args: list[Any]
    count_sql: str
    count_args: list[Any]
    filename: str
    ascii_filename: str
    title: str
    created_at: dt.datetime
    total: int | None = field(default=None)
    sheet: tuple[str, str] = ("居民建议", "Suggestions")
    # Rows computed before the stream (a meeting's totals), written ahead of the cursor's.
    head_rows: list[Sequence[Any]] = field(default_factory=list)

    @property
    def media_type(self) -> str:
        return CsvWriter.media_type if self.format is ExportFormat.csv else XlsxWriter.media_type

    def content_disposition(self) -> str:
        # RFC 6266 / RFC 5987: an ASCII name for old clients, the Chinese one for the rest.
        return (
            f'attachment; filename="{self.ascii_filename}"; '
            f"filename*=UTF-8''{quote(self.filename, safe='')}"
        )


def _area_kind_error(field_name: str, level: AreaLevel) -> AppError:
    return validation_failed([{"field": field_name, "message": f"not a {level.value}"}])


async def _export_area(
    session: AsyncSession, principal: Principal | None, query: ProposalExportQuery
) -> tuple[AreaRef, AreaRef | None]:
    """The street and (optionally) the community to export, checked against the caller."""
    if query.street_id is None and query.community_id is None:
        raise area_required()
    community: AreaRef | None = None
    if query.community_id is not None:
        community = await load_area(session, query.community_id)
        if community is None:
            raise not_found("社区", "Community")
        if community.level != AreaLevel.community:
            raise _area_kind_error("community_id", AreaLevel.community)
        if query.street_id is not None and community.parent_id != query.street_id:
            raise validation_failed(
                [{"field": "community_id", "message": "the community is not in this street"}]
            )
    street_id = query.street_id if query.street_id is not None else community.parent_id  # type: ignore[union-attr]
    assert street_id is not None
    street = await load_area(session, street_id)
    if street is None:
        raise not_found("街道", "Street")
    if street.level != AreaLevel.street:
        raise _area_kind_error("street_id", AreaLevel.street)
    target = community or street
    if principal is not None and not covers(principal, target.path, EXPORT_ROLES):
        raise forbidden("area_forbidden", "无权导出该区域的数据", "Not allowed in this area")
    return street, community


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=LOCAL_TZ)


_ASCII_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


async def plan_proposals(
    session: AsyncSession,
    principal: Principal | None,
    query: ProposalExportQuery,
    *,
    english: bool,
    via: str = "api",
) -> ExportPlan:
    """Check the request, record the export and audit it; ``principal`` None is the CLI."""
    if principal is not None:
        require_roles(principal, *EXPORT_ROLES)
    errors: list[dict[str, str]] = []
    if query.date_from and query.date_to and query.date_from > query.date_to:
        errors.append({"field": "from", "message": "from must not be after to"})
    if query.category is not None and not await repository.category_exists(session, query.category):
        errors.append({"field": "category", "message": "unknown category"})
    if errors:
        raise validation_failed(errors)
    street, community = await _export_area(session, principal, query)
    area = community or street

    flt = ProposalFilter(
        street_id=street.id,
        community_id=community.id if community else None,
        status=query.status,
        category=query.category,
        event_id=query.event_id,
        created_from=_local_midnight(query.date_from) if query.date_from else None,
        created_to=(
            _local_midnight(query.date_to + dt.timedelta(days=1)) if query.date_to else None
        ),
    )
    shape = Shape.csv_lines if query.format is ExportFormat.csv else Shape.typed
    sql, args = repository.proposals_query(flt, english=english, shape=shape)
    count_sql, count_args = repository.proposals_count_query(flt)

    now_local = dt.datetime.now(LOCAL_TZ)
    stamp = now_local.strftime("%Y%m%d-%H%M")
    area_name = street.name + (community.name if community else "")
    ext = query.format.value
    title = f"{area_name} Suggestions" if english else f"{area_name}居民建议"
    filename = f"{title}_{stamp}.{ext}"
    ascii_filename = f"proposals_{_ASCII_SAFE.sub('-', area.code)}_{stamp}.{ext}"

    filters = {
        "street_id": str(street.id),
        "community_id": str(community.id) if community else None,
        "status": query.status.value if query.status else None,
        "category": query.category,
        "event_id": str(query.event_id) if query.event_id else None,
        "from": query.date_from.isoformat() if query.date_from else None,
        "to": query.date_to.isoformat() if query.date_to else None,
        "language": "en" if english else "zh",
        "via": via,
    }
    record = await repository.add_record(
        session,
        ExportRecord(
            actor_id=principal.user_id if principal else None,
            kind="proposals",
            format=query.format.value,
            area_id=area.id,
            filters={k: v for k, v in filters.items() if v is not None},
            filename=filename[:200],
            status=ExportStatus.started,
        ),
    )
    await audit.record(
        session,
        principal,
        "export.proposals",
        "export",
        record.id,
        area_id=area.id,
        details={"format": query.format.value, "filters": record.filters},
    )
    return ExportPlan(
        record_id=record.id,
        format=query.format,
        english=english,
        columns=PROPOSAL_COLUMNS,
        sql=sql,
        args=args,
        count_sql=count_sql,
        count_args=count_args,
        filename=filename,
        ascii_filename=ascii_filename,
        title=title,
        created_at=now_local,
    )


# --- ratings and meeting results ----------------------------------------------------------


async def _covered_community(
    session: AsyncSession, principal: Principal | None, community_id: uuid.UUID
) -> AreaRef:
    """The community of a meeting or project, checked against the caller like the
    suggestions export: street staff of its street and admins covering it, else 403."""
    community = await load_area(session, community_id)
    assert community is not None
    if principal is not None and not covers(principal, community.path, EXPORT_ROLES):
        raise forbidden("area_forbidden", "无权导出该区域的数据", "Not allowed in this area")
    return community


async def _record(
    session: AsyncSession,
    principal: Principal | None,
    kind: str,
    fmt: ExportFormat,
    area: AreaRef,
    filters: dict[str, Any],
    filename: str,
) -> ExportRecord:
    record = await repository.add_record(
        session,
        ExportRecord(
            actor_id=principal.user_id if principal else None,
            kind=kind,
            format=fmt.value,
            area_id=area.id,
            filters={k: v for k, v in filters.items() if v is not None},
            filename=filename[:200],
            status=ExportStatus.started,
        ),
    )
    await audit.record(
        session,
        principal,
        f"export.{kind}",
        "export",
        record.id,
        area_id=area.id,
        details={"format": fmt.value, "filters": record.filters},
    )
    return record


def _names(title: str, ascii_stem: str, fmt: ExportFormat) -> tuple[str, str, dt.datetime]:
    now_local = dt.datetime.now(LOCAL_TZ)
    stamp = now_local.strftime("%Y%m%d-%H%M")
    ext = fmt.value
    return f"{title}_{stamp}.{ext}", f"{_ASCII_SAFE.sub('-', ascii_stem)}_{stamp}.{ext}", now_local


def _shape(fmt: ExportFormat) -> Shape:
    return Shape.csv_lines if fmt is ExportFormat.csv else Shape.typed


async def plan_ratings(
    session: AsyncSession,
    principal: Principal | None,
    *,
    fmt: ExportFormat,
    event_id: uuid.UUID | None,
    project_id: uuid.UUID | None,
    english: bool,
    via: str = "api",
) -> ExportPlan:
    """The ratings (with comments) of one review meeting or of all a project's meetings."""
    if principal is not None:
        require_roles(principal, *EXPORT_ROLES)
    if (event_id is None) == (project_id is None):
        raise validation_failed(
            [{"field": "event_id", "message": "give exactly one of event_id and project_id"}]
        )
    if event_id is not None:
        event = await events_repository.get(session, event_id)
        if event is None:
            raise not_found("会议", "Meeting")
        if event.kind != EventKind.review:
            raise validation_failed([{"field": "event_id", "message": "not a review meeting"}])
        community_id, subject = event.community_id, event.title
    else:
        assert project_id is not None
        project = await projects_repository.get(session, project_id)
        if project is None:
            raise not_found("项目", "Project")
        community_id, subject = project.community_id, project.title
    community = await _covered_community(session, principal, community_id)
    flt = repository.RatingFilter(event_id=event_id, project_id=project_id)
    sql, args = repository.ratings_query(flt, english=english, shape=_shape(fmt))
    count_sql, count_args = repository.ratings_count_query(flt)
    title = f"{subject} Ratings" if english else f"{subject}居民评分"
    filename, ascii_filename, now_local = _names(title, f"ratings_{community.code}", fmt)
    filters = {
        "event_id": str(event_id) if event_id else None,
        "project_id": str(project_id) if project_id else None,
        "language": "en" if english else "zh",
        "via": via,
    }
    record = await _record(session, principal, "ratings", fmt, community, filters, filename)
    return ExportPlan(
        record_id=record.id,
        format=fmt,
        english=english,
        columns=repository.RATING_COLUMNS,
        sql=sql,
        args=args,
        count_sql=count_sql,
        count_args=count_args,
        filename=filename,
        ascii_filename=ascii_filename,
        title=title,
        created_at=now_local,
        sheet=("居民评分", "Ratings"),
    )


SUMMARY = ("汇总", "Summary")
OPTIONS = ("选项", "Options")
YES_NO = (("否", "No"), ("是", "Yes"))


def _result_rows(results: ResultsOut, english: bool) -> list[Sequence[Any]]:
    """The meeting's totals as the votes domain computes them, one row per figure."""

    def pick(pair: tuple[str, str]) -> str:
        return pair[1] if english else pair[0]

    summary = pick(SUMMARY)
    figures: list[tuple[tuple[str, str], str]] = [
        (("状态", "Status"), results.status),
        (("结果已最终确定", "Final"), pick(YES_NO[results.final])),
        (("有资格投票人数", "Eligible voters"), str(results.eligible_count)),
        (
            ("可投票人数", "Electorate"),
            "" if results.electorate is None else str(results.electorate),
        ),
        (("线上投票人数", "Online voters"), str(results.voters)),
        (("纸质票/举手人数", "Paper voters"), str(results.paper_voters)),
        (("参与人数", "Participants"), str(results.participants)),
        (("投票率", "Turnout"), f"{results.turnout:.4f}"),
        (("法定人数", "Quorum"), "" if results.quorum is None else str(results.quorum)),
        (("达到法定人数", "Quorum met"), pick(YES_NO[results.quorum_met])),
        (("总票数", "Total votes"), str(results.total_votes or 0)),
        # After close: SHA-256 of the published receipts (src/votes/digest.py), to check the
        # receipts below against what the meeting published.
        (("回执摘要 (SHA-256)", "Receipts digest (SHA-256)"), results.digest or ""),
    ]
    rows: list[Sequence[Any]] = [
        [summary, pick(label), value, None, None, None, None] for label, value in figures
    ]
    rows += [
        [pick(OPTIONS), o.title, str(o.id), o.online_votes, o.paper_votes, o.votes, o.share]
        for o in results.options
    ]
    return rows


async def plan_event_results(
    session: AsyncSession,
    principal: Principal | None,
    event_id: uuid.UUID,
    *,
    fmt: ExportFormat,
    english: bool,
    via: str = "api",
) -> ExportPlan:
    """A coordination meeting's results: totals, paper counts, turnout, quorum and, once the
    meeting is closed, every ballot's receipt."""
    if principal is not None:
        require_roles(principal, *EXPORT_ROLES)
    event = await events_repository.get(session, event_id)
    if event is None:
        raise not_found("会议", "Meeting")
    if event.kind != EventKind.coordination:
        raise validation_failed([{"field": "event_id", "message": "not a coordination meeting"}])
    community = await _covered_community(session, principal, event.community_id)
    # The votes domain's own figures (staff always see them).
    results = ResultsOut.model_validate(votes.shown(await tally.results(session, event)))
    closed = event.status == EventStatus.closed
    shape = _shape(fmt)
    if closed:
        sql, args = repository.receipts_query(event.id, english=english, shape=shape)
        count_sql, count_args = repository.receipts_count_query(event.id)
    else:  # receipts are published once the meeting is closed
        sql, args = "SELECT NULL WHERE false", []
        count_sql, count_args = "SELECT 0", []
    title = f"{event.title} Results" if english else f"{event.title}投票结果"
    filename, ascii_filename, now_local = _names(title, f"results_{community.code}", fmt)
    filters = {
        "event_id": str(event.id),
        "final": results.final,
        "language": "en" if english else "zh",
        "via": via,
    }
    record = await _record(session, principal, "event_results", fmt, community, filters, filename)
    return ExportPlan(
        record_id=record.id,
        format=fmt,
        english=english,
        columns=repository.RESULT_COLUMNS,
        sql=sql,
        args=args,
        count_sql=count_sql,
        count_args=count_args,
        filename=filename,
        ascii_filename=ascii_filename,
        title=title,
        created_at=now_local,
        sheet=("投票结果", "Results"),
        head_rows=_result_rows(results, english),
    )


# --- the yearly project list (项目实施清单和项目数据库) ---------------------------------------


async def plan_project_list(
    session: AsyncSession,
    principal: Principal | None,
    *,
    fmt: ExportFormat,
    street_id: uuid.UUID | None,
    district_id: uuid.UUID | None,
    year: int | None,
    english: bool,
    via: str = "api",
) -> ExportPlan:
    """The file a street (or a district, for all its streets) sends to the city office: one
    row per project of the year's list. ``year`` defaults to next year (the list drawn up
    by the end of November)."""
    if principal is not None:
        require_roles(principal, *EXPORT_ROLES)
    if (street_id is None) == (district_id is None):
        raise validation_failed(
            [{"field": "street_id", "message": "give exactly one of street_id and district_id"}]
        )
    field_name, level = (
        ("street_id", AreaLevel.street) if street_id else ("district_id", AreaLevel.district)
    )
    area_id = street_id or district_id
    assert area_id is not None
    area = await load_area(session, area_id)
    if area is None:
        raise not_found("区域", "Area")
    if area.level != level:
        raise _area_kind_error(field_name, level)
    if principal is not None and not covers(principal, area.path, EXPORT_ROLES):
        raise forbidden("area_forbidden", "无权导出该区域的数据", "Not allowed in this area")
    the_year = year or dt.datetime.now(LOCAL_TZ).year + 1
    flt = repository.ProjectListFilter(year=the_year, street_id=street_id, district_id=district_id)
    sql, args = repository.project_list_query(flt, english=english, shape=_shape(fmt))
    count_sql, count_args = repository.project_list_count_query(flt)
    title = (
        f"{area.name} {the_year} Project List"
        if english
        else f"{area.name}{the_year}年度项目实施清单"
    )
    filename, ascii_filename, now_local = _names(title, f"project-list_{area.code}_{the_year}", fmt)
    filters = {
        field_name: str(area.id),
        "year": the_year,
        "language": "en" if english else "zh",
        "via": via,
    }
    record = await _record(session, principal, "project_list", fmt, area, filters, filename)
    return ExportPlan(
        record_id=record.id,
        format=fmt,
        english=english,
        columns=repository.PROJECT_LIST_COLUMNS,
        sql=sql,
        args=args,
        count_sql=count_sql,
        count_args=count_args,
        filename=filename,
        ascii_filename=ascii_filename,
        title=title,
        created_at=now_local,
        sheet=("项目实施清单", "Project list"),
    )


# --- streaming ---------------------------------------------------------------------------


def too_many_rows(total: int) -> AppError:
    return AppError(
        422,
        "too_many_rows_for_xlsx",
        Message(
            f"共 {total} 行，超过 Excel 单表上限（{XLSX_MAX_ROWS - 1} 行），请导出 CSV 或缩小范围",
            f"{total} rows exceed Excel's sheet limit ({XLSX_MAX_ROWS - 1}); "
            "export CSV or narrow the filter",
        ),
    )


def export_unavailable() -> AppError:
    return AppError(
        503,
        "export_unavailable",
        Message("导出服务暂不可用，请稍后再试", "Exports are unavailable, try again later"),
    )


class ExportStream:
    """One export's dedicated connection, snapshot and server-side cursor.

    :meth:`open` runs before the response starts, so a refusal (too many rows for Excel, the
    database unreachable) is still a proper error reply. :meth:`chunks` then yields the file
    and, at the end, records how many rows went out.
    """

    def __init__(
        self, plan: ExportPlan, dsn: str, *, idle_timeout_s: int = 300, count: bool = False
    ) -> None:
        self.plan = plan
        self._dsn = dsn
        self._idle_timeout_s = idle_timeout_s
        self._count = count or plan.format is ExportFormat.xlsx
        self._conn: asyncpg.Connection | None = None
        self._tr: Any = None
        self._cursor: Any = None
        self.rows = 0

    async def open(self) -> None:
        try:
            self._conn = await asyncpg.connect(
                self._dsn,
                server_settings={
                    "application_name": "lifecircle-export",
                    "timezone": "UTC",
                    # A download abandoned without a goodbye must not hold a snapshot forever.
                    "idle_in_transaction_session_timeout": str(self._idle_timeout_s * 1000),
                },
            )
        except (OSError, asyncpg.PostgresError) as exc:
            logger.warning("export connection failed: %s", exc)
            raise export_unavailable() from exc
        try:
            self._tr = self._conn.transaction(isolation="repeatable_read", readonly=True)
            await self._tr.start()
            if self._count:
                total = await self._conn.fetchval(self.plan.count_sql, *self.plan.count_args)
                self.plan.total = int(total)
                if self.plan.format is ExportFormat.xlsx and (
                    total + len(self.plan.head_rows) >= XLSX_MAX_ROWS
                ):
                    raise too_many_rows(int(total))
            self._cursor = await self._conn.cursor(self.plan.sql, *self.plan.args)
        except BaseException:
            await self._conn.close()
            self._conn = None
            raise

    def _writer(self) -> CsvWriter | XlsxWriter:
        plan = self.plan
        if plan.format is ExportFormat.csv:
            return CsvWriter(plan.columns, plan.english, lines=True)
        assert plan.total is not None, "counted in open()"
        return XlsxWriter(
            plan.columns,
            plan.english,
            rows=plan.total + len(plan.head_rows),
            sheet_name=plan.sheet[1] if plan.english else plan.sheet[0],
            title=plan.title,
            created_iso=plan.created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    async def chunks(
        self, on_progress: Callable[[int], None] | None = None
    ) -> AsyncIterator[bytes]:
        assert self._conn is not None and self._cursor is not None, "open() first"
        status = ExportStatus.failed
        # The next batch is fetched while this one is encoded and sent: PostgreSQL and this
        # process work at the same time (two cores) instead of taking turns.
        pending: asyncio.Future[list[Any]] | None = None
        try:
            writer = self._writer()
            yield writer.start()
            if self.plan.head_rows:
                # Plain values (the CSV writer quotes them itself), not PostgreSQL's lines.
                head = (
                    CsvWriter(self.plan.columns, self.plan.english)
                    if isinstance(writer, CsvWriter)
                    else writer
                )
                yield head.rows(self.plan.head_rows)
            pending = asyncio.ensure_future(self._cursor.fetch(BATCH_ROWS))
            while batch := await pending:
                pending = asyncio.ensure_future(self._cursor.fetch(BATCH_ROWS))
                self.rows += len(batch)
                yield writer.rows(batch)
                if on_progress is not None:
                    on_progress(self.rows)
            pending = None
            yield writer.finish()
            status = ExportStatus.completed
        finally:
            # Runs on success, on a database error and when the client went away (then the
            # surrounding task is being cancelled: shield the bookkeeping).
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                if pending is not None and not pending.done():
                    pending.cancel()
                    await asyncio.wait([pending])
                await self._close(status)

    async def _close(self, status: ExportStatus) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await self._tr.rollback()  # read-only: nothing to keep
            await repository.finish_record(conn, self.plan.record_id, status, self.rows)
        except Exception as exc:  # the record stays "started"; the audit row exists
            logger.warning("export %s bookkeeping failed: %s", self.plan.record_id, exc)
        finally:
            try:
                await conn.close(timeout=5)
            except Exception:
                conn.terminate()


# --- listing -----------------------------------------------------------------------------


async def list_exports(
    session: AsyncSession, principal: Principal, *, cursor: str | None, limit: int
) -> tuple[list[ExportOut], str | None]:
    """Past exports the caller may see: street staff their street's, admins their area's."""
    require_roles(principal, *EXPORT_ROLES)
    grants = [g for g in principal.grants if g.role in EXPORT_ROLES]
    area_ids = None if any(g.area_id is None for g in grants) else [g.area_id for g in grants]
    after = None
    raw = decode_cursor(cursor, 2)
    if raw is not None:
        try:
            after = (dt.datetime.fromisoformat(raw[0]), uuid.UUID(raw[1]))
        except (TypeError, ValueError) as exc:
            raise AppError(
                400, "invalid_cursor", Message("分页游标无效", "The cursor is not valid")
            ) from exc
    rows = await repository.list_records(
        session,
        area_ids=[a for a in area_ids if a is not None] if area_ids is not None else None,
        after=after,
        limit=limit,
    )
    page, next_cursor = paginate(
        rows, limit, lambda r: (r.record.created_at.isoformat(), str(r.record.id))
    )
    return [_out(r) for r in page], next_cursor


def _out(row: repository.ListedExport) -> ExportOut:
    rec = row.record
    return ExportOut(
        id=str(rec.id),
        kind=rec.kind,
        format=rec.format,
        status=rec.status.value,
        row_count=rec.row_count,
        filename=rec.filename,
        filters=rec.filters,
        area=ExportAreaOut(id=str(rec.area_id), name=row.area_name, level=row.area_level),
        actor=(
            ExportActorOut(id=str(rec.actor_id), display_name=row.actor_name or "")
            if rec.actor_id
            else None
        ),
        created_at=rec.created_at,
        finished_at=rec.finished_at,
    )
