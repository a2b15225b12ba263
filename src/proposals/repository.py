"""All SQL of the suggestions domain."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, func, literal, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from src.core.db import driver_connection
from src.models.proposal import (
    Notification,
    NotificationKind,
    Proposal,
    ProposalCategory,
    ProposalPhoto,
    ProposalReaction,
    ProposalReply,
    ProposalStatus,
    ProposalSupport,
    ProposalTransition,
)
from src.models.user import User
from src.proposals.similarity import similar_text


@dataclass(frozen=True)
class ListFilter:
    community_id: uuid.UUID | None = None
    street_id: uuid.UUID | None = None
    author_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    status: ProposalStatus | None = None
    category: str | None = None
    event_id: uuid.UUID | None = None
    terms: tuple[str, ...] = ()
    # ?q= that is a reference (src/proposals/references.py), upper-cased: that suggestion only.
    reference: str | None = None
    # None: hidden ones too (staff, or the author's own list); else hide all but this user's.
    hidden_visible_to: uuid.UUID | None = None
    include_hidden: bool = True


# Seen by the author and the area's staff only (service.PRIVATE).
PRIVATE_STATUSES = (ProposalStatus.hidden, ProposalStatus.pending_review)


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def categories(session: AsyncSession, *, active_only: bool = True) -> list[ProposalCategory]:
    query = select(ProposalCategory).order_by(ProposalCategory.sort_order, ProposalCategory.code)
    if active_only:
        query = query.where(ProposalCategory.retired_at.is_(None))
    return list((await session.scalars(query)).all())


async def active_category(session: AsyncSession, code: str) -> bool:
    found = await session.scalar(
        select(ProposalCategory.code).where(
            ProposalCategory.code == code, ProposalCategory.retired_at.is_(None)
        )
    )
    return found is not None


async def get(
    session: AsyncSession, proposal_id: uuid.UUID, *, lock: bool = False
) -> Proposal | None:
    query = select(Proposal).where(Proposal.id == proposal_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def lock_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Proposal]:
    """Lock rows in id order (two concurrent merges never wait on each other in a cycle)."""
    rows = await session.scalars(
        select(Proposal)
        .where(Proposal.id.in_(list(ids)))
        .order_by(Proposal.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {p.id: p for p in rows.all()}


async def author_names(
    session: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    if not user_ids:
        return {}
    rows = await session.execute(
        select(User.id, User.display_name).where(User.id.in_(set(user_ids)))
    )
    return {row.id: row.display_name for row in rows}


def _conditions(flt: ListFilter, *, search: bool = True) -> list[Any]:
    conditions: list[Any] = []
    if flt.community_id is not None:
        conditions.append(Proposal.community_id == flt.community_id)
    if flt.street_id is not None:
        conditions.append(Proposal.street_id == flt.street_id)
    if flt.author_id is not None:
        conditions.append(Proposal.author_id == flt.author_id)
    if flt.project_id is not None:
        conditions.append(Proposal.project_id == flt.project_id)
    if flt.status is not None:
        conditions.append(Proposal.status == flt.status)
    if flt.category is not None:
        conditions.append(Proposal.category == flt.category)
    if flt.event_id is not None:
        conditions.append(Proposal.event_id == flt.event_id)
    if flt.reference is not None:
        conditions.append(func.upper(Proposal.reference) == flt.reference)
    if not flt.include_hidden:
        visible: Any = Proposal.status.notin_(PRIVATE_STATUSES)
        if flt.hidden_visible_to is not None:
            visible = or_(visible, Proposal.author_id == flt.hidden_visible_to)
        conditions.append(visible)
    if search:
        conditions += _search_conditions(
            flt.terms, Proposal.search_bigrams, Proposal.title + " " + Proposal.body
        )
    return conditions


def _search_conditions(terms: tuple[str, ...], bigrams: Any, searched: Any) -> list[Any]:
    conditions: list[Any] = []
    indexable = [t for t in terms if len(t) >= 2]
    if indexable:
        # Served by ix_proposals_search (GIN over the stored character bigrams); ILIKE then
        # checks the exact substring on the candidates.
        conditions.append(bigrams.op("@>")(func.lc_bigrams(literal(" ".join(indexable)))))
    for term in terms:
        conditions.append(searched.ilike(f"%{escape_like(term)}%", escape="\\"))
    return conditions


async def counts(session: AsyncSession, flt: ListFilter) -> list[Any]:
    """Suggestions and supports per (community, status, category) under ``flt``."""
    query = (
        select(
            Proposal.community_id,
            Proposal.status,
            Proposal.category,
            func.count().label("n"),
            func.coalesce(func.sum(Proposal.support_count), 0).label("supports"),
        )
        .where(and_(*_conditions(flt)))
        .group_by(Proposal.community_id, Proposal.status, Proposal.category)
    )
    return list((await session.execute(query)).all())


# A search reads the list in its own order (the street's or community's btree) and stops at the
# first page of matches, so a common word (电梯) is answered without fetching its thousands of
# matches. It looks at the newest SEARCH_WINDOW rows first. When they hold some matches but less
# than a page, the density of matches sizes one wider window (at most SEARCH_WINDOW_MAX rows:
# about 25 ms of reading when nothing matches). Only when matches are rare there does the GIN
# index answer, reading and sorting every match: for rare terms that is few rows.
#
# Why not leave the choice to the planner: it multiplies the frequencies of a query's bigrams as
# if they were independent, and the bigrams of one phrase are not (加装, 装电 and 电梯 come
# together). For 加装电梯 老人 it expects 1 to 4 matches where the street holds 37,000, so it reads
# them all (a parallel sequential scan of 1.2M rows, 1.5 s) to sort them for a page of 20.
SEARCH_WINDOW = 2000
SEARCH_WINDOW_MAX = 20_000


def _wider_window(window: int, found: int, limit: int) -> int | None:
    """The next window after ``window`` rows held ``found`` (at most ``limit``) matches: twice
    the rows this density needs for a page, or None (ask the GIN index) when that is too many."""
    if found == 0:
        return None
    wider = 2 * (window * (limit + 1) // found)
    return wider if wider <= SEARCH_WINDOW_MAX else None


def _sort_key(sort: str) -> tuple[Any, Any]:
    if sort == "most_supported":
        return Proposal.support_count, Proposal.id
    if sort == "consensus":
        return Proposal.consensus_score, Proposal.id
    if sort == "controversial":
        return Proposal.controversy_score, Proposal.id
    return Proposal.created_at, Proposal.id


def _after_condition(key: tuple[Any, Any], after: tuple[Any, uuid.UUID]) -> Any:
    return tuple_(*key) < tuple_(
        literal(after[0], key[0].type), literal(after[1], Proposal.id.type)
    )


def _page_query(
    flt: ListFilter,
    *,
    sort: str,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
    window: int | None = None,
) -> tuple[Select[Any], Any]:
    """The page query and the entity its rows carry (``Proposal`` or a windowed alias).

    With ``window`` the search terms are checked on the first ``window`` rows of the list in
    its order; without, the whole list is searched (through the GIN index)."""
    key = _sort_key(sort)
    conditions = _conditions(flt, search=window is None)
    if after is not None:
        conditions.append(_after_condition(key, after))
    if window is None:
        query = (
            select(Proposal)
            .where(and_(*conditions))
            .order_by(key[0].desc(), key[1].desc())
            .limit(limit + 1)
        )
        return query, Proposal
    table = Proposal.__table__
    first_rows = (
        select(table)
        .where(and_(*conditions))
        .order_by(key[0].desc(), key[1].desc())
        .limit(window)
        .subquery("recent")
    )
    recent = aliased(Proposal, first_rows, adapt_on_names=True)
    recent_key = _sort_key(sort)
    recent_key = (getattr(recent, recent_key[0].key), recent.id)
    query = (
        select(recent)
        .where(
            and_(
                *_search_conditions(
                    flt.terms,
                    first_rows.c.search_bigrams,
                    first_rows.c.title + " " + first_rows.c.body,
                )
            )
        )
        .order_by(recent_key[0].desc(), recent_key[1].desc())
        .limit(limit + 1)
    )
    return query, recent


async def _search_page(
    session: AsyncSession,
    flt: ListFilter,
    build: Callable[[int | None], Select[Any]],
    limit: int,
) -> list[Any]:
    """The rows of ``build(window)`` for the widening windows of a search (see SEARCH_WINDOW),
    or of ``build(None)`` alone when there are no search terms."""
    window: int | None = SEARCH_WINDOW if flt.terms else None
    while True:
        rows = list((await session.execute(build(window))).all())
        if window is None or len(rows) > limit:
            return rows
        window = _wider_window(window, len(rows), limit)


async def list_page(
    session: AsyncSession,
    flt: ListFilter,
    *,
    sort: str,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> list[Proposal]:
    def build(window: int | None) -> Select[Any]:
        return _page_query(flt, sort=sort, after=after, limit=limit, window=window)[0]

    return [row[0] for row in await _search_page(session, flt, build, limit)]


@dataclass(frozen=True)
class Extras:
    """What an output shows beside the row: the viewer's support, the photos, the author's name
    (for ``service.build_outs``, when they are known already)."""

    supported: bool
    photos: list[uuid.UUID]
    author_name: str
    my_reaction: str | None = None


# --- the list (hot path: hand-written SQL on the request's asyncpg connection) -------------
#
# Building SQLAlchemy statements and loading ORM objects cost ten times the SQL of a page, so
# the list of a street or community has its own statements: one string per filter shape and
# sort, built once (``_list_sql``), with the values of a request as $n parameters
# (``_list_statement``). The rows, the search windows and the cursors are those of
# ``_page_query`` (which the other lists still use).

_LIST_COLUMNS = (
    "id, community_id, street_id, author_id, anonymous, title, body, category, lat, lng, "
    "event_id, project_id, merged_into, support_count, created_at, updated_at, status"
    ", agree_count, disagree_count, pass_count, consensus_score, controversy_score, reference"
)
_FILTER_COLUMNS = (
    "community_id",
    "street_id",
    "author_id",
    "project_id",
    "status",
    "category",
    "event_id",
)
_SORT_COLUMNS = {
    "newest": ("created_at", "timestamptz"),
    "most_supported": ("support_count", "int4"),
    "consensus": ("consensus_score", "float8"),
    "controversial": ("controversy_score", "float8"),
}


class ListRow(NamedTuple):
    """A suggestion as a list shows it, with its extras: the columns of ``_LIST_COLUMNS``, then
    those of the extras (a tuple: a page of rows is made in microseconds)."""

    id: uuid.UUID
    community_id: uuid.UUID
    street_id: uuid.UUID
    author_id: uuid.UUID
    anonymous: bool
    title: str
    body: str
    category: str
    lat: float | None
    lng: float | None
    event_id: uuid.UUID | None
    project_id: uuid.UUID | None
    merged_into: uuid.UUID | None
    support_count: int
    created_at: dt.datetime
    updated_at: dt.datetime
    status: ProposalStatus
    agree_count: int
    disagree_count: int
    pass_count: int
    consensus_score: float
    controversy_score: float
    reference: str
    supported: bool
    photos: list[uuid.UUID]
    author_name: str
    my_reaction: str | None


@dataclass(frozen=True)
class _ListShape:
    """What a list statement's text depends on (never the values)."""

    filters: tuple[str, ...]  # the _FILTER_COLUMNS compared with a value
    reference: bool  # ?q= is a reference (ix_proposals_reference_upper)
    hidden: str  # "all", "public" (no hidden rows) or "public_or_author"
    indexed: bool  # a term of two characters or more: the bigram (GIN) condition
    terms: int
    sort: str
    after: bool
    windowed: bool


def _list_statement(
    flt: ListFilter,
    *,
    sort: str,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
    window: int | None,
    viewer_id: uuid.UUID,
) -> tuple[str, list[Any]]:
    """The SQL of a list page and its arguments, in the order ``_list_sql`` numbers them."""
    args: list[Any] = [viewer_id]
    filters = []
    for column in _FILTER_COLUMNS:
        value = getattr(flt, column)
        if value is not None:
            filters.append(column)
            args.append(value)
    if flt.reference is not None:
        args.append(flt.reference)
    hidden = "all"
    if not flt.include_hidden:
        hidden = "public"
        if flt.hidden_visible_to is not None:
            hidden = "public_or_author"
            args.append(flt.hidden_visible_to)
    indexable = [t for t in flt.terms if len(t) >= 2]
    if indexable:
        args.append(" ".join(indexable))
    args += [f"%{escape_like(term)}%" for term in flt.terms]
    if after is not None:
        args += after
    if window is not None:
        args.append(window)
    args.append(limit + 1)
    shape = _ListShape(
        tuple(filters),
        flt.reference is not None,
        hidden,
        bool(indexable),
        len(flt.terms),
        sort,
        after is not None,
        window is not None,
    )
    return _list_sql(shape), args


@functools.lru_cache(maxsize=256)
def _list_sql(shape: _ListShape) -> str:
    numbers = itertools.count(2)  # $1: the viewer
    where = [f"{{t}}.{column} = ${next(numbers)}" for column in shape.filters]
    if shape.reference:
        where.append(f"upper({{t}}.reference) = ${next(numbers)}")
    if shape.hidden == "public":
        where.append("{t}.status NOT IN ('hidden', 'pending_review')")
    elif shape.hidden == "public_or_author":
        where.append(
            "({t}.status NOT IN ('hidden', 'pending_review') "
            f"OR {{t}}.author_id = ${next(numbers)})"
        )
    search = []
    if shape.indexed:
        # Served by ix_proposals_search (GIN over the stored character bigrams); ILIKE then
        # checks the exact substring on the candidates.
        search.append(f"{{t}}.search_bigrams @> lc_bigrams(${next(numbers)})")
    for _ in range(shape.terms):
        search.append(f"({{t}}.title || ' ' || {{t}}.body) ILIKE ${next(numbers)} ESCAPE '\\'")
    key, key_type = _SORT_COLUMNS.get(shape.sort, _SORT_COLUMNS["newest"])
    if shape.after:
        first, second = next(numbers), next(numbers)
        where.append(f"({{t}}.{key}, {{t}}.id) < (${first}::{key_type}, ${second}::uuid)")
    order = f"ORDER BY {{t}}.{key} DESC, {{t}}.id DESC"
    extras = (
        "EXISTS (SELECT 1 FROM proposal_supports s "
        "WHERE s.proposal_id = p.id AND s.user_id = $1) AS supported, "
        "ARRAY(SELECT ph.upload_id FROM proposal_photos ph "
        "WHERE ph.proposal_id = p.id ORDER BY ph.position) AS photos, "
        "coalesce((SELECT u.display_name FROM users u WHERE u.id = p.author_id), '') "
        "AS author_name, "
        "(SELECT r.value::text FROM proposal_reactions r "
        "WHERE r.proposal_id = p.id AND r.user_id = $1) AS my_reaction"
    )
    if shape.windowed:
        # The first rows of the list in its order, then the terms checked on them alone.
        inner = (
            f"SELECT {_LIST_COLUMNS}, search_bigrams FROM proposals AS w "
            f"WHERE {_joined(where)} {order} LIMIT ${next(numbers)}"
        ).replace("{t}", "w")
        outer, source = search, f"({inner}) AS p"
    else:
        outer, source = where + search, "proposals AS p"
    sql = (
        f"SELECT {_prefixed('p', _LIST_COLUMNS)}, {extras} FROM {source} "
        f"WHERE {_joined(outer)} {order} LIMIT ${next(numbers)}"
    )
    return sql.replace("{t}", "p")


def _joined(conditions: list[str]) -> str:
    return " AND ".join(conditions) or "TRUE"


def _prefixed(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{column}" for column in columns.split(", "))


_STATUSES = {status.value: status for status in ProposalStatus}


def _list_row(record: Any) -> ListRow:
    values = tuple(record)
    return ListRow._make((*values[:16], _STATUSES[values[16]], *values[17:]))


async def list_page_with_extras(
    session: AsyncSession,
    flt: ListFilter,
    *,
    sort: str,
    after: tuple[Any, uuid.UUID] | None,
    limit: int,
    viewer_id: uuid.UUID,
) -> list[ListRow]:
    """Up to ``limit + 1`` rows of a list with their extras: one round trip, up to three for a
    search (the widening windows of SEARCH_WINDOW, then the GIN index)."""
    conn = await driver_connection(session)
    window: int | None = SEARCH_WINDOW if flt.terms else None
    while True:
        sql, args = _list_statement(
            flt, sort=sort, after=after, limit=limit, window=window, viewer_id=viewer_id
        )
        records = await conn.fetch(sql, *args)
        if window is None or len(records) > limit:
            return [_list_row(record) for record in records]
        window = _wider_window(window, len(records), limit)


async def reactions_of(
    session: AsyncSession, user_id: uuid.UUID, proposal_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The viewer's reaction to each of ``proposal_ids`` that they reacted to."""
    if not proposal_ids:
        return {}
    rows = await session.execute(
        select(ProposalReaction.proposal_id, ProposalReaction.value).where(
            ProposalReaction.user_id == user_id,
            ProposalReaction.proposal_id.in_(list(proposal_ids)),
        )
    )
    return {row.proposal_id: row.value.value for row in rows}


class SimilarRow(NamedTuple):
    id: uuid.UUID
    title: str
    status: str
    support_count: int
    lat: float | None
    lng: float | None
    created_at: dt.datetime
    similarity: float


# The suggestions of one community whose titles are nearest by pg_trgm distance, those similar
# enough. Residents write the same thing many times, so the GiST KNN walks the community's
# distinct forms (proposal_similar_forms, ix_proposal_similar_forms_near), nearest first, and
# each form's visible suggestions are read by ix_proposals_similar_form (most supported
# first); the LATERAL join keeps the forms' order, so LIMIT stops at the first $3 suggestions.
# `%` (similarity ≥ pg_trgm.similarity_threshold, 0.3 by default) lets the GiST scan skip
# subtrees that cannot reach it, and stop when no form is left above it: it must stay at or
# below the threshold $4 (tests/proposals/test_similar.py checks), which decides. The form
# scan is also bounded ($5 forms): a form whose suggestions are all hidden yields none. The
# same candidates as a KNN over every suggestion (the 20 nearest visible ones, those ≥ $4),
# at a fraction of the index pages.
_SIMILAR_SQL = """
SELECT p.id, p.title, p.status::text, p.support_count, p.lat, p.lng, p.created_at, f.sim
FROM (
    SELECT similar_text, similarity(similar_text, $2) AS sim
    FROM proposal_similar_forms
    WHERE community_id = $1 AND similar_text % $2
    ORDER BY similar_text <-> $2
    LIMIT $5
) AS f
CROSS JOIN LATERAL (
    SELECT id, title, status, support_count, lat, lng, created_at
    FROM proposals
    WHERE community_id = $1 AND similar_text = f.similar_text
      AND status NOT IN ('hidden', 'pending_review', 'merged')
    ORDER BY support_count DESC, id DESC
    LIMIT $3
) AS p
WHERE f.sim >= $4
LIMIT $3
"""


async def similar(
    session: AsyncSession,
    community_id: uuid.UUID,
    text_form: str,
    *,
    candidates: int,
    threshold: float,
) -> list[SimilarRow]:
    conn = await driver_connection(session)
    records = await conn.fetch(
        _SIMILAR_SQL, community_id, text_form, candidates, threshold, 2 * candidates
    )
    return [SimilarRow(*record) for record in records]


async def text_similarity(session: AsyncSession, a: str, b: str) -> float:
    """The text score of two titles, as ``similar`` computes it."""
    conn = await driver_connection(session)
    value = await conn.fetchval("SELECT similarity($1, $2)", similar_text(a), similar_text(b))
    return float(value)


async def supported_ids(
    session: AsyncSession, user_id: uuid.UUID, proposal_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    if not proposal_ids:
        return set()
    rows = await session.scalars(
        select(ProposalSupport.proposal_id).where(
            ProposalSupport.user_id == user_id,
            ProposalSupport.proposal_id.in_(list(proposal_ids)),
        )
    )
    return set(rows.all())


async def photos_of(
    session: AsyncSession, proposal_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    if not proposal_ids:
        return {}
    rows = await session.execute(
        select(ProposalPhoto.proposal_id, ProposalPhoto.upload_id)
        .where(ProposalPhoto.proposal_id.in_(list(proposal_ids)))
        .order_by(ProposalPhoto.proposal_id, ProposalPhoto.position)
    )
    out: dict[uuid.UUID, list[uuid.UUID]] = {}
    for row in rows:
        out.setdefault(row.proposal_id, []).append(row.upload_id)
    return out


async def replies_of(session: AsyncSession, proposal_id: uuid.UUID) -> list[Any]:
    rows = await session.execute(
        select(ProposalReply, User.display_name)
        .join(User, User.id == ProposalReply.author_id)
        .where(ProposalReply.proposal_id == proposal_id)
        .order_by(ProposalReply.created_at, ProposalReply.id)
    )
    return list(rows.all())


async def history_of(session: AsyncSession, proposal_id: uuid.UUID) -> list[ProposalTransition]:
    rows = await session.scalars(
        select(ProposalTransition)
        .where(ProposalTransition.proposal_id == proposal_id)
        .order_by(ProposalTransition.id)
    )
    return list(rows.all())


async def add_support(session: AsyncSession, proposal_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """Support once; the primary key decides. The caller holds the proposal's row lock."""
    inserted = await session.scalar(
        insert(ProposalSupport)
        .values(proposal_id=proposal_id, user_id=user_id)
        .on_conflict_do_nothing()
        .returning(ProposalSupport.user_id)
    )
    delta = 1 if inserted is not None else 0
    return await _bump(session, proposal_id, delta)


async def remove_support(session: AsyncSession, proposal_id: uuid.UUID, user_id: uuid.UUID) -> int:
    deleted = await session.scalar(
        ProposalSupport.__table__.delete()  # type: ignore[attr-defined]
        .where(
            ProposalSupport.proposal_id == proposal_id,
            ProposalSupport.user_id == user_id,
        )
        .returning(ProposalSupport.user_id)
    )
    delta = -1 if deleted is not None else 0
    return await _bump(session, proposal_id, delta)


async def _bump(session: AsyncSession, proposal_id: uuid.UUID, delta: int) -> int:
    count = await session.scalar(
        update(Proposal)
        .where(Proposal.id == proposal_id)
        .values(support_count=Proposal.support_count + delta)
        .returning(Proposal.support_count)
        .execution_options(synchronize_session=False)
    )
    return int(count or 0)


class ReactionCounts(NamedTuple):
    agree: int
    disagree: int
    pass_: int


# One statement: the old value (the CTE sees the row as before the statement), the upsert or
# delete, and the counters moved by the difference. The caller holds the suggestion's row lock,
# so the changes of one suggestion are serialised and the counters stay exact.
_REACT_SQL = """
WITH old AS (
    SELECT value FROM proposal_reactions WHERE proposal_id = $1 AND user_id = $2
), new AS (
    {change}
), delta AS (
    SELECT v, (SELECT count(*) FROM new WHERE new.value = v)
              - (SELECT count(*) FROM old WHERE old.value = v) AS d
    FROM unnest(enum_range(NULL::proposal_reaction)) AS v
)
UPDATE proposals SET
    agree_count = agree_count + (SELECT d FROM delta WHERE v = 'agree'),
    disagree_count = disagree_count + (SELECT d FROM delta WHERE v = 'disagree'),
    pass_count = pass_count + (SELECT d FROM delta WHERE v = 'pass')
WHERE id = $1
RETURNING agree_count, disagree_count, pass_count
"""
_UPSERT = (
    "INSERT INTO proposal_reactions (proposal_id, user_id, value) "
    "VALUES ($1, $2, $3::proposal_reaction) "
    "ON CONFLICT (proposal_id, user_id) DO UPDATE SET value = EXCLUDED.value, "
    "updated_at = CASE WHEN proposal_reactions.value = EXCLUDED.value "
    "THEN proposal_reactions.updated_at ELSE now() END "
    "RETURNING value"
)
# After a withdrawal there is no new value: the deleted row returns NULL, which counts nowhere.
_DELETE = (
    "DELETE FROM proposal_reactions WHERE proposal_id = $1 AND user_id = $2 "
    "RETURNING NULL::proposal_reaction AS value"
)


async def set_reaction(
    session: AsyncSession, proposal_id: uuid.UUID, user_id: uuid.UUID, value: str | None
) -> ReactionCounts:
    """Record (or, with ``value`` None, withdraw) a reaction; the counts after it. The caller
    holds the suggestion's row lock."""
    conn = await driver_connection(session)
    if value is None:
        row = await conn.fetchrow(_REACT_SQL.format(change=_DELETE), proposal_id, user_id)
    else:
        row = await conn.fetchrow(_REACT_SQL.format(change=_UPSERT), proposal_id, user_id, value)
    assert row is not None
    return ReactionCounts(row[0], row[1], row[2])


async def carry_supports(session: AsyncSession, source: uuid.UUID, target: uuid.UUID) -> int:
    """Copy the source's supporters to the target (each counted once) and recount it."""
    await session.execute(
        text(
            "INSERT INTO proposal_supports (proposal_id, user_id, created_at) "
            "SELECT :target, user_id, created_at FROM proposal_supports "
            "WHERE proposal_id = :source ON CONFLICT DO NOTHING"
        ),
        {"source": source, "target": target},
    )
    count = await session.scalar(
        text(
            "UPDATE proposals SET support_count = "
            "(SELECT count(*) FROM proposal_supports WHERE proposal_id = :target), "
            "updated_at = now() WHERE id = :target RETURNING support_count"
        ),
        {"target": target},
    )
    return int(count or 0)


async def notify(
    session: AsyncSession,
    proposal_id: uuid.UUID,
    kind: NotificationKind,
    *,
    actor_id: uuid.UUID,
    status: str | None = None,
    author_only: bool = False,
) -> list[uuid.UUID]:
    """One notification for the author and (unless ``author_only``) every supporter; the
    users notified."""
    supporters = (
        ""
        if author_only
        else "UNION SELECT user_id FROM proposal_supports WHERE proposal_id = :pid"
    )
    rows = await session.execute(
        text(
            "INSERT INTO notifications (id, user_id, kind, proposal_id, status) "
            "SELECT gen_random_uuid(), u, CAST(:kind AS notification_kind), :pid, :status "
            f"FROM (SELECT author_id AS u FROM proposals WHERE id = :pid {supporters}) AS s "
            "WHERE u <> :actor RETURNING user_id"
        ),
        {"pid": proposal_id, "kind": kind.value, "status": status, "actor": actor_id},
    )
    return [row.user_id for row in rows]


async def notifications_page(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    unread_only: bool,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Any]:
    query = (
        select(Notification, Proposal.title, Proposal.reference)
        .join(Proposal, Proposal.id == Notification.proposal_id)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit + 1)
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if after is not None:
        query = query.where(
            tuple_(Notification.created_at, Notification.id)
            < tuple_(
                literal(after[0], Notification.created_at.type),
                literal(after[1], Notification.id.type),
            )
        )
    return list((await session.execute(query)).all())


async def mark_read(
    session: AsyncSession, user_id: uuid.UUID, ids: Sequence[uuid.UUID] | None
) -> int:
    query = (
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=func.now())
        .execution_options(synchronize_session=False)
    )
    if ids is not None:
        query = query.where(Notification.id.in_(list(ids)))
    result = await session.execute(query)
    return int(result.rowcount)  # type: ignore[attr-defined]
