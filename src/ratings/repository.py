"""All SQL of the ratings domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from src.models.area import Area
from src.models.event import Event
from src.models.rating import (
    Rating,
    RatingCriterion,
    RatingPaperEntry,
    RatingPhoto,
    RatingProposal,
    RatingRevision,
    RatingTally,
)
from src.models.user import User
from src.ratings.summary import PAPER, TallyRow
from src.uploads import service as uploads

# --- meetings -------------------------------------------------------------------------------


async def get_event(
    session: AsyncSession, event_id: uuid.UUID, *, share: bool = False
) -> Event | None:
    """The meeting; ``share`` takes FOR KEY SHARE, as ballots do: a status change takes
    FOR UPDATE and waits for ratings in flight, so none lands after the close."""
    query = select(Event).where(Event.id == event_id)
    if share:
        query = query.with_for_update(key_share=True, read=True)
    return (await session.scalars(query)).first()


async def get_event_and_path(
    session: AsyncSession, event_id: uuid.UUID, *, share: bool = False
) -> tuple[Event, list[uuid.UUID]] | None:
    """The meeting and its community's area path in one round trip (``share``: FOR KEY SHARE
    on the meeting only)."""
    query = (
        select(Event, Area.path)
        .join(Area, Area.id == Event.community_id)
        .where(Event.id == event_id)
    )
    if share:
        query = query.with_for_update(key_share=True, read=True, of=Event)
    row = (await session.execute(query)).first()
    return (row[0], list(row[1])) if row else None


async def criteria_of(session: AsyncSession, event_id: uuid.UUID) -> list[RatingCriterion]:
    rows = await session.scalars(
        select(RatingCriterion)
        .where(RatingCriterion.event_id == event_id)
        .order_by(RatingCriterion.position)
    )
    return list(rows.all())


async def replace_criteria(
    session: AsyncSession, event_id: uuid.UUID, criteria: Sequence[tuple[str, str, str]]
) -> None:
    await session.execute(delete(RatingCriterion).where(RatingCriterion.event_id == event_id))
    for position, (code, name_zh, name_en) in enumerate(criteria):
        session.add(
            RatingCriterion(
                event_id=event_id, code=code, position=position, name_zh=name_zh, name_en=name_en
            )
        )
    await session.flush()


# --- ratings --------------------------------------------------------------------------------


async def insert_rating(session: AsyncSession, values: dict[str, Any]) -> Rating | None:
    """Insert the rating; None when the resident already rated this meeting (the unique
    constraint decides, also between two concurrent requests)."""
    stmt = (
        insert(Rating)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_ratings_event_user")
        .returning(Rating)
    )
    return (await session.scalars(stmt)).first()


async def get_rating(
    session: AsyncSession, rating_id: uuid.UUID, *, lock: bool = False
) -> Rating | None:
    query = select(Rating).where(Rating.id == rating_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def rating_of(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> Rating | None:
    query = select(Rating).where(Rating.event_id == event_id, Rating.user_id == user_id)
    if lock:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def revisions_of(session: AsyncSession, rating_id: uuid.UUID) -> list[RatingRevision]:
    rows = await session.scalars(
        select(RatingRevision)
        .where(RatingRevision.rating_id == rating_id)
        .order_by(RatingRevision.revision)
    )
    return list(rows.all())


async def photos_of(
    session: AsyncSession, rating_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    if not rating_ids:
        return {}
    rows = await session.execute(
        select(RatingPhoto.rating_id, RatingPhoto.upload_id)
        .where(RatingPhoto.rating_id.in_(list(rating_ids)))
        .order_by(RatingPhoto.rating_id, RatingPhoto.position)
    )
    out: dict[uuid.UUID, list[uuid.UUID]] = {}
    for rating_id, upload_id in rows:
        out.setdefault(rating_id, []).append(upload_id)
    return out


async def set_photos(
    session: AsyncSession, rating_id: uuid.UUID, upload_ids: Sequence[uuid.UUID]
) -> None:
    await session.execute(delete(RatingPhoto).where(RatingPhoto.rating_id == rating_id))
    for position, upload_id in enumerate(upload_ids):
        session.add(RatingPhoto(rating_id=rating_id, upload_id=upload_id, position=position))
    await session.flush()


async def claimable_uploads(
    session: AsyncSession,
    owner_id: uuid.UUID,
    upload_ids: Sequence[uuid.UUID],
    rating_id: uuid.UUID | None = None,
) -> bool:
    """Every id is an upload of ``owner_id`` attached to nothing else (no suggestion, no
    progress update, no other rating); the rule lives in the uploads domain."""
    return await uploads.claimable(session, owner_id, upload_ids, rating_id=rating_id)


async def proposal_links(
    session: AsyncSession, rating_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    if not rating_ids:
        return {}
    rows = await session.execute(
        select(RatingProposal.rating_id, RatingProposal.proposal_id).where(
            RatingProposal.rating_id.in_(list(rating_ids))
        )
    )
    return {r: p for r, p in rows}


async def link_proposal(
    session: AsyncSession, rating_id: uuid.UUID, proposal_id: uuid.UUID, by: uuid.UUID
) -> bool:
    stmt = (
        insert(RatingProposal)
        .values(rating_id=rating_id, proposal_id=proposal_id, created_by=by)
        .on_conflict_do_nothing(index_elements=[RatingProposal.rating_id])
        .returning(RatingProposal.rating_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def comments_page(
    session: AsyncSession,
    event_id: uuid.UUID,
    *,
    include_hidden: bool,
    viewer_id: uuid.UUID,
    after: uuid.UUID | None,
    limit: int,
) -> list[tuple[Rating, str]]:
    """Ratings with a comment, newest first (ids are time-ordered), with the author's name."""
    query = (
        select(Rating, User.display_name)
        .join(User, User.id == Rating.user_id)
        .where(Rating.event_id == event_id, Rating.comment.is_not(None))
        .order_by(Rating.id.desc())
        .limit(limit + 1)
    )
    if not include_hidden:
        query = query.where(Rating.comment_hidden_at.is_(None) | (Rating.user_id == viewer_id))
    if after is not None:
        query = query.where(Rating.id < after)
    return [(r, name) for r, name in (await session.execute(query)).all()]


# --- tallies --------------------------------------------------------------------------------

_BUMP = text(
    """
    INSERT INTO rating_tallies
        (event_id, source, criterion, score, project_id, community_id, street_id, n)
    SELECT :event_id, 'app', d.criterion, d.score, :project_id, :community_id, :street_id, d.n
    FROM unnest(CAST(:criteria AS text[]), CAST(:scores AS int[]), CAST(:deltas AS int[]))
         AS d(criterion, score, n)
    ORDER BY d.criterion, d.score
    ON CONFLICT (event_id, source, criterion, score)
    DO UPDATE SET n = rating_tallies.n + excluded.n
    """
)


async def bump_tallies(
    session: AsyncSession, event: Event, deltas: dict[tuple[str, int], int]
) -> None:
    """Add ``deltas`` ((criterion, score) → ±n) to the meeting's app tallies, in one
    statement and in a fixed row order, so concurrent raters never deadlock. (No CHECK on
    ``n``: PostgreSQL checks the proposed row before ON CONFLICT, and a decrement always
    meets the row its rating was counted in, under that rating's row lock.)"""
    changes = sorted((k, v) for k, v in deltas.items() if v != 0)
    if not changes:
        return
    await session.execute(
        _BUMP,
        {
            "event_id": event.id,
            "project_id": event.project_id,
            "community_id": event.community_id,
            "street_id": event.street_id,
            "criteria": [c for (c, _), _ in changes],
            "scores": [s for (_, s), _ in changes],
            "deltas": [n for _, n in changes],
        },
    )


async def replace_paper_tallies(
    session: AsyncSession, event: Event, counts: dict[tuple[str, int], int]
) -> None:
    await session.execute(
        delete(RatingTally).where(RatingTally.event_id == event.id, RatingTally.source == PAPER)
    )
    for (criterion, score), n in sorted(counts.items()):
        session.add(
            RatingTally(
                event_id=event.id,
                source=PAPER,
                criterion=criterion,
                score=score,
                project_id=event.project_id,
                community_id=event.community_id,
                street_id=event.street_id,
                n=n,
            )
        )
    await session.flush()


async def add_paper_entry(
    session: AsyncSession,
    event_id: uuid.UUID,
    counts: dict[str, Any],
    note: str | None,
    by: uuid.UUID,
) -> RatingPaperEntry:
    entry = RatingPaperEntry(event_id=event_id, counts=counts, note=note, entered_by=by)
    session.add(entry)
    await session.flush()
    return entry


async def lock_paper(session: AsyncSession, event_id: uuid.UUID) -> None:
    """Serialises paper entries of one meeting (the latest wins, whole)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('rating_paper'), hashtext(:id))"),
        {"id": str(event_id)},
    )


def _rows(result: Any) -> list[TallyRow]:
    return [
        TallyRow(r.source, r.criterion, int(r.score), int(r.n), bool(r.satisfied)) for r in result
    ]


async def event_tallies(session: AsyncSession, event_id: uuid.UUID) -> list[TallyRow]:
    result = await session.execute(
        select(
            RatingTally.source,
            RatingTally.criterion,
            RatingTally.score,
            RatingTally.n,
            func.rating_satisfied(RatingTally.score).label("satisfied"),
        ).where(RatingTally.event_id == event_id)
    )
    return _rows(result)


# Closed meetings are summed in the rollups (kept by the trigger of migration 0600); staff
# views add the meetings still open, read live from their tallies (few rows: only the open
# meetings of one project or area). Cancelled meetings never count.

_ROLLUP = text(
    "SELECT source, criterion, score, n, rating_satisfied(score) AS satisfied "
    "FROM rating_rollups WHERE scope_id = :scope"
)


def _live_sql(where: str) -> Any:
    return text(
        f"""
        SELECT t.source, t.criterion, t.score, sum(t.n) AS n,
               rating_satisfied(t.score) AS satisfied
        FROM events e JOIN rating_tallies t ON t.event_id = e.id
        WHERE {where} AND e.status = 'open' AND e.kind = 'review'
        GROUP BY t.source, t.criterion, t.score
        """
    )


def _area_column(level: str) -> str:
    return "street_id" if level == "street" else "community_id"


async def scope_tallies(
    session: AsyncSession, column: str, scope_id: uuid.UUID, *, with_open: bool
) -> list[TallyRow]:
    """Tallies of a project, community or street (``column`` of ``events``): its closed
    meetings, and its open ones too when ``with_open``."""
    rows = _rows(await session.execute(_ROLLUP, {"scope": scope_id}))
    if with_open:
        rows += _rows(await session.execute(_live_sql(f"e.{column} = :scope"), {"scope": scope_id}))
    return rows


async def project_meetings(session: AsyncSession, project_id: uuid.UUID, *, with_open: bool) -> int:
    statuses = "('open', 'closed')" if with_open else "('closed')"
    return int(
        await session.scalar(
            text(
                "SELECT count(*) FROM events WHERE project_id = :pid AND kind = 'review' "
                f"AND status IN {statuses}"
            ),
            {"pid": project_id},
        )
        or 0
    )


async def area_ranking(
    session: AsyncSession,
    level: str,
    area_id: uuid.UUID,
    *,
    with_open: bool,
    min_ratings: int,
    limit: int,
) -> list[Any]:
    """Projects of the area by satisfaction rate, then mean ``overall``, then count, with
    at least ``min_ratings`` ratings (app and paper)."""
    column = _area_column(level)
    result = await session.execute(
        text(
            f"""
            WITH live AS (
                SELECT e.project_id, sum(t.n) AS count, sum(t.n * t.score) AS weighted,
                       coalesce(sum(t.n) FILTER (WHERE rating_satisfied(t.score)), 0) AS satisfied
                FROM events e JOIN rating_tallies t ON t.event_id = e.id
                WHERE :with_open AND e.{column} = :area AND e.status = 'open'
                  AND e.kind = 'review' AND e.project_id IS NOT NULL
                  AND t.criterion = 'overall'
                GROUP BY e.project_id
            ), per_project AS (
                SELECT project_id, sum(count) AS count, sum(weighted) AS weighted,
                       sum(satisfied) AS satisfied
                FROM (
                    SELECT project_id, count, weighted, satisfied
                    FROM rating_project_scores WHERE {column} = :area
                    UNION ALL
                    SELECT project_id, count, weighted, satisfied FROM live
                ) AS both_parts
                GROUP BY project_id
                HAVING sum(count) >= :min_ratings
            )
            SELECT p.id AS project_id, p.title, p.community_id, pp.count,
                   pp.weighted::float8 / pp.count AS mean_overall,
                   pp.satisfied::float8 / pp.count AS satisfaction_rate
            FROM per_project pp JOIN projects p ON p.id = pp.project_id
            ORDER BY satisfaction_rate DESC, mean_overall DESC, pp.count DESC, p.id
            LIMIT :limit
            """
        ),
        {
            "area": area_id,
            "with_open": with_open,
            "min_ratings": min_ratings,
            "limit": limit,
        },
    )
    return list(result.all())


async def count_ratings(session: AsyncSession, event_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Rating).where(Rating.event_id == event_id)
        )
        or 0
    )
