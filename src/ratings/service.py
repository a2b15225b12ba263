"""The rules of ratings at review meetings: who may rate, when, what counts, who sees what."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from src.core import audit, outbox
from src.core.auth import Principal
from src.core.errors import AppError, Message, conflict, forbidden, not_found, validation_failed
from src.core.pagination import decode_cursor, paginate
from src.core.policy import MODERATE_ROLES, VIEW_ROLES, AreaRef, acting_role, covers, load_area
from src.events.eligibility import ensure_eligible, rules_of
from src.events.visibility import may_see_results
from src.models.area import AreaLevel
from src.models.event import Event, EventKind, EventStatus
from src.models.project import Project
from src.models.proposal import Proposal, ProposalStatus
from src.models.rating import Rating, RatingRevision
from src.moderation import screening
from src.moderation.words import Screen
from src.proposals import repository as proposals_repository
from src.proposals import service as proposals
from src.proposals.schemas import PhotoOut, ProposalDetailOut
from src.ratings import repository
from src.ratings.schemas import (
    SCORES,
    AreaSatisfactionOut,
    CommentOut,
    CriteriaIn,
    CriteriaOut,
    CriterionOut,
    EventSummaryOut,
    HideIn,
    MyRatingOut,
    PaperCountsIn,
    ProjectSatisfactionOut,
    RankedProjectOut,
    RatingIn,
    RatingOut,
    RevisionOut,
    ToProposalIn,
)
from src.ratings.summary import OVERALL, summarise
from src.uploads.schemas import upload_url

# The four criteria of the programme's review meetings; a meeting may name its own.
DEFAULT_CRITERIA: tuple[tuple[str, str, str], ...] = (
    (OVERALL, "总体满意度", "Overall satisfaction"),
    ("design", "设计方案", "Design"),
    ("construction", "施工质量", "Construction quality"),
    ("usefulness", "实用性", "Usefulness"),
)
DEFAULT_CODES = tuple(c for c, _, _ in DEFAULT_CRITERIA)


@dataclass(frozen=True)
class Meeting:
    event: Event
    path: list[uuid.UUID]  # the community's path, for staff checks

    @property
    def id(self) -> uuid.UUID:
        return self.event.id


# --- errors ---------------------------------------------------------------------------------


def _not_review() -> AppError:
    return conflict("not_review_event", "只有评议会可以评分", "Only review meetings take ratings")


def _not_open() -> AppError:
    return conflict("event_not_open", "评议会未在进行中", "The meeting is not open for ratings")


def _already_rated() -> AppError:
    return conflict(
        "already_rated", "您已对本次评议会评过分", "You have already rated this meeting"
    )


def _rating_not_found() -> AppError:
    return not_found("评分", "Rating")


def _results_hidden() -> AppError:
    return forbidden(
        "results_not_visible",
        "评议结果将在会议结束后公布",
        "The results are shown once the meeting allows it",
    )


# --- meetings -------------------------------------------------------------------------------


async def load_meeting(
    session: AsyncSession,
    principal: Principal,
    event_id: uuid.UUID,
    *,
    share: bool = False,
    hide: bool = True,
) -> Meeting:
    """The meeting. Readers who are neither its community's residents nor staff covering
    it get 404, as in the meetings domain; ``hide=False`` (rating) lets the eligibility
    rule answer them instead (403 ``not_eligible``)."""
    found = await repository.get_event_and_path(session, event_id, share=share)
    if found is None:
        raise not_found("会议", "Meeting")
    event, path = found
    if (
        hide
        and not covers(principal, path, VIEW_ROLES)
        and principal.community_id != event.community_id
    ):
        raise not_found("会议", "Meeting")
    return Meeting(event, path)


def is_staff(principal: Principal, meeting: Meeting) -> bool:
    return covers(principal, meeting.path, VIEW_ROLES)


def _require_review(meeting: Meeting) -> None:
    if meeting.event.kind != EventKind.review:
        raise _not_review()


async def criteria_of(session: AsyncSession, event_id: uuid.UUID) -> list[tuple[str, str, str]]:
    stored = await repository.criteria_of(session, event_id)
    if not stored:
        return list(DEFAULT_CRITERIA)
    return [(c.code, c.name_zh, c.name_en) for c in stored]


def _criteria_out(
    event_id: uuid.UUID, criteria: Sequence[tuple[str, str, str]], english: bool
) -> CriteriaOut:
    return CriteriaOut(
        event_id=event_id,
        criteria=[
            CriterionOut(code=c, name=en if english else zh, name_zh=zh, name_en=en)
            for c, zh, en in criteria
        ],
    )


async def get_criteria(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID, english: bool
) -> CriteriaOut:
    meeting = await load_meeting(session, principal, event_id)
    _require_review(meeting)
    return _criteria_out(event_id, await criteria_of(session, event_id), english)


async def set_criteria(
    session: AsyncSession,
    principal: Principal,
    event_id: uuid.UUID,
    data: CriteriaIn,
    english: bool,
) -> CriteriaOut:
    meeting = await load_meeting(session, principal, event_id, share=True)
    acting_role(principal, meeting.path, MODERATE_ROLES)
    _require_review(meeting)
    if meeting.event.status != EventStatus.draft:
        raise conflict(
            "event_not_draft",
            "评分项只能在会议开始前设置",
            "Criteria can only be set before the meeting opens",
        )
    codes = [c.code for c in data.criteria]
    errors = []
    if len(set(codes)) != len(codes):
        errors.append({"field": "criteria", "message": "duplicate criterion code"})
    if OVERALL not in codes:
        errors.append({"field": "criteria", "message": "'overall' is required (satisfaction rate)"})
    if errors:
        raise validation_failed(errors)
    criteria = [(c.code, c.name_zh, c.name_en) for c in data.criteria]
    await repository.replace_criteria(session, event_id, criteria)
    await audit.record(
        session,
        principal,
        "rating.criteria",
        "event",
        event_id,
        area_id=meeting.event.community_id,
        details={"criteria": codes},
    )
    return _criteria_out(event_id, criteria, english)


# --- rating ---------------------------------------------------------------------------------


def check_scores(scores: dict[str, int], criteria: Sequence[str]) -> None:
    """Every criterion of the meeting, nothing else, each 1–5; each fault its own code."""
    unknown = sorted(set(scores) - set(criteria))
    if unknown:
        raise AppError(
            422,
            "unknown_criterion",
            Message(f"本次评议没有评分项：{', '.join(unknown)}", f"Unknown criteria: {unknown}"),
            errors=[{"field": f"scores.{c}", "message": "unknown criterion"} for c in unknown],
        )
    missing = [c for c in criteria if c not in scores]
    if missing:
        raise AppError(
            422,
            "missing_criterion",
            Message("请为每个评分项打分", f"Give a score for every criterion: {missing}"),
            errors=[{"field": f"scores.{c}", "message": "required"} for c in missing],
        )
    bad = [c for c, s in scores.items() if s not in SCORES]
    if bad:
        raise AppError(
            422,
            "score_out_of_range",
            Message("评分须为 1 到 5 分", "Scores must be from 1 to 5"),
            errors=[{"field": f"scores.{c}", "message": "must be 1..5"} for c in bad],
        )


async def _check_photos(
    session: AsyncSession,
    principal: Principal,
    photo_ids: Sequence[uuid.UUID],
    rating_id: uuid.UUID | None = None,
) -> None:
    if len(set(photo_ids)) != len(photo_ids) or not await repository.claimable_uploads(
        session, principal.user_id, photo_ids, rating_id
    ):
        raise validation_failed(
            [{"field": "photo_ids", "message": "unknown, foreign or already attached upload"}]
        )


async def _open_meeting_for_rating(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID
) -> tuple[Meeting, list[str]]:
    meeting = await load_meeting(session, principal, event_id, share=True, hide=False)
    _require_review(meeting)
    await ensure_eligible(session, meeting.event, principal)
    if meeting.event.status != EventStatus.open:
        raise _not_open()
    criteria = [c for c, _, _ in await criteria_of(session, event_id)]
    return meeting, criteria


def _deltas(scores: dict[str, int], sign: int) -> dict[tuple[str, int], int]:
    return {(c, s): sign for c, s in scores.items()}


async def submit(
    session: AsyncSession,
    principal: Principal,
    event_id: uuid.UUID,
    data: RatingIn,
    screen: Screen,
) -> RatingOut:
    meeting, criteria = await _open_meeting_for_rating(session, principal, event_id)
    check_scores(data.scores, criteria)
    screening.require_clean(screen, {"comment": data.comment or ""})
    await _check_photos(session, principal, data.photo_ids)
    event = meeting.event
    rating = await repository.insert_rating(
        session,
        {
            "event_id": event.id,
            "project_id": event.project_id,
            "community_id": event.community_id,
            "street_id": event.street_id,
            "user_id": principal.user_id,
            "scores": data.scores,
            "comment": data.comment or None,
        },
    )
    if rating is None:  # already rated, or a concurrent request of theirs won the race
        raise _already_rated()
    if data.photo_ids:
        await repository.set_photos(session, rating.id, data.photo_ids)
    # Last, so the meeting's hot tally rows stay locked for as short a time as possible.
    await repository.bump_tallies(session, event, _deltas(data.scores, +1))
    return _new_rating_out(rating, data.photo_ids)


def _new_rating_out(rating: Rating, photo_ids: Sequence[uuid.UUID]) -> RatingOut:
    return RatingOut(
        id=rating.id,
        event_id=rating.event_id,
        project_id=rating.project_id,
        scores=rating.scores,
        comment=rating.comment,
        comment_hidden=False,
        hidden_reason=None,
        photos=[PhotoOut(id=u, url=upload_url(u)) for u in photo_ids],
        revision=rating.revision,
        proposal_id=None,
        created_at=rating.created_at,
        updated_at=rating.updated_at,
    )


async def change_mine(
    session: AsyncSession,
    principal: Principal,
    event_id: uuid.UUID,
    data: RatingIn,
    screen: Screen,
) -> MyRatingOut:
    meeting, criteria = await _open_meeting_for_rating(session, principal, event_id)
    check_scores(data.scores, criteria)
    screening.require_clean(screen, {"comment": data.comment or ""})
    rating = await repository.rating_of(session, event_id, principal.user_id, lock=True)
    if rating is None:
        raise _rating_not_found()
    await _check_photos(session, principal, data.photo_ids, rating.id)
    old_photos = (await repository.photos_of(session, [rating.id])).get(rating.id, [])
    session.add(
        RatingRevision(
            rating_id=rating.id,
            revision=rating.revision,
            scores=rating.scores,
            comment=rating.comment,
            photo_ids=[str(p) for p in old_photos],
            valid_from=rating.updated_at,
        )
    )
    deltas = _deltas(rating.scores, -1)
    for key, n in _deltas(data.scores, +1).items():
        deltas[key] = deltas.get(key, 0) + n
    comment = data.comment or None
    values: dict[str, object] = {
        "scores": data.scores,
        "comment": comment,
        "revision": Rating.revision + 1,
        "updated_at": func.now(),
    }
    if comment != rating.comment:
        # A new comment is moderated anew.
        values.update(comment_hidden_at=None, comment_hidden_reason=None, comment_hidden_by=None)
    await session.execute(update(Rating).where(Rating.id == rating.id).values(**values))
    await repository.set_photos(session, rating.id, data.photo_ids)
    await session.refresh(rating)
    out = await _my_out(session, rating, principal)
    # Last, so the meeting's hot tally rows stay locked for as short a time as possible.
    await repository.bump_tallies(session, meeting.event, deltas)
    return out


async def get_mine(session: AsyncSession, principal: Principal, event_id: uuid.UUID) -> MyRatingOut:
    meeting = await load_meeting(session, principal, event_id)
    _require_review(meeting)
    rating = await repository.rating_of(session, event_id, principal.user_id)
    if rating is None:
        raise _rating_not_found()
    return await _my_out(session, rating, principal)


async def _my_out(session: AsyncSession, rating: Rating, principal: Principal) -> MyRatingOut:
    base = await _rating_out(session, rating, principal, staff=False)
    history = [
        RevisionOut(
            revision=r.revision,
            scores=r.scores,
            comment=r.comment,
            valid_from=r.valid_from,
            replaced_at=r.replaced_at,
        )
        for r in await repository.revisions_of(session, rating.id)
    ]
    return MyRatingOut(**base.model_dump(), history=history)


async def _rating_out(
    session: AsyncSession, rating: Rating, principal: Principal, *, staff: bool
) -> RatingOut:
    photos = (await repository.photos_of(session, [rating.id])).get(rating.id, [])
    links = await repository.proposal_links(session, [rating.id])
    hidden = rating.comment_hidden_at is not None
    may_see_reason = staff or rating.user_id == principal.user_id
    return RatingOut(
        id=rating.id,
        event_id=rating.event_id,
        project_id=rating.project_id,
        scores=rating.scores,
        comment=rating.comment,
        comment_hidden=hidden,
        hidden_reason=rating.comment_hidden_reason if hidden and may_see_reason else None,
        photos=[PhotoOut(id=u, url=upload_url(u)) for u in photos],
        revision=rating.revision,
        proposal_id=links.get(rating.id),
        created_at=rating.created_at,
        updated_at=rating.updated_at,
    )


# --- results --------------------------------------------------------------------------------


async def _may_see_results(session: AsyncSession, principal: Principal, meeting: Meeting) -> bool:
    """Ratings first hide a meeting's results from other communities and while it is not open
    (nor closed); then the one rule of ``src.events.visibility`` decides."""
    event = meeting.event
    staff = is_staff(principal, meeting)
    if not staff and (
        principal.community_id != event.community_id
        or event.status not in (EventStatus.open, EventStatus.closed)
    ):
        return False

    async def rated() -> bool:
        return await repository.rating_of(session, event.id, principal.user_id) is not None

    return await may_see_results(
        rules_of(event).results_visibility,
        staff=staff,
        final=event.status == EventStatus.closed,
        took_part=rated,
    )


async def event_summary(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID
) -> EventSummaryOut:
    meeting = await load_meeting(session, principal, event_id)
    _require_review(meeting)
    if not await _may_see_results(session, principal, meeting):
        raise _results_hidden()
    codes = [c for c, _, _ in await criteria_of(session, event_id)]
    total, app, paper, listed = summarise(await repository.event_tallies(session, event_id), codes)
    return EventSummaryOut(
        **total.model_dump(),
        app=app,
        paper=paper,
        criteria=listed,
        event_id=event_id,
        status=meeting.event.status.value,
        final=meeting.event.status == EventStatus.closed,
    )


async def _viewer_scope(session: AsyncSession, principal: Principal, area: AreaRef) -> bool | None:
    """None: may not see the area; True: staff (open and closed meetings); False: a
    resident living in it (closed meetings only)."""
    if covers(principal, area.path, VIEW_ROLES):
        return True
    home = principal.community_id
    if home is None:
        return None
    if home == area.id:
        return False
    if area.level == AreaLevel.street:
        community = await load_area(session, home)
        if community is not None and community.parent_id == area.id:
            return False
    return None


async def project_satisfaction(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID
) -> ProjectSatisfactionOut:
    project = await session.get(Project, project_id)
    if project is None:
        raise not_found("项目", "Project")
    area = await load_area(session, project.community_id)
    assert area is not None
    staff = await _viewer_scope(session, principal, area)
    if staff is None:
        raise not_found("项目", "Project")
    return await project_summary(session, project_id, staff=staff)


async def project_summary(
    session: AsyncSession, project_id: uuid.UUID, *, staff: bool
) -> ProjectSatisfactionOut:
    """A project's satisfaction for a caller already allowed to see it: staff over its
    community (open meetings counted too) or a resident of it (closed meetings only)."""
    meetings = await repository.project_meetings(session, project_id, with_open=staff)
    # Ratings are given at review meetings only: without one there is nothing to tally.
    rows = (
        await repository.scope_tallies(session, "project_id", project_id, with_open=staff)
        if meetings
        else []
    )
    total, app, paper, listed = summarise(rows, DEFAULT_CODES)
    return ProjectSatisfactionOut(
        **total.model_dump(),
        app=app,
        paper=paper,
        criteria=listed,
        project_id=project_id,
        meetings=meetings,
    )


async def area_satisfaction(
    session: AsyncSession,
    principal: Principal,
    area_id: uuid.UUID,
    *,
    min_ratings: int,
    limit: int,
) -> AreaSatisfactionOut:
    area = await load_area(session, area_id)
    if area is None:
        raise not_found("区域", "Area")
    if area.level not in (AreaLevel.community, AreaLevel.street):
        raise validation_failed([{"field": "area_id", "message": "a community or a street"}])
    staff = await _viewer_scope(session, principal, area)
    if staff is None:
        raise not_found("区域", "Area")
    level = area.level.value
    column = "street_id" if area.level == AreaLevel.street else "community_id"
    rows = await repository.scope_tallies(session, column, area.id, with_open=staff)
    total, app, paper, listed = summarise(rows, DEFAULT_CODES)
    ranked = await repository.area_ranking(
        session, level, area.id, with_open=staff, min_ratings=min_ratings, limit=limit
    )
    return AreaSatisfactionOut(
        **total.model_dump(),
        app=app,
        paper=paper,
        criteria=listed,
        area_id=area.id,
        level=level,
        min_ratings=min_ratings,
        ranking=[
            RankedProjectOut(
                rank=i + 1,
                project_id=r.project_id,
                title=r.title,
                community_id=r.community_id,
                count=int(r.count),
                mean_overall=float(r.mean_overall),
                satisfaction_rate=float(r.satisfaction_rate),
            )
            for i, r in enumerate(ranked)
        ],
    )


# --- comments and moderation ----------------------------------------------------------------


async def list_comments(
    session: AsyncSession,
    principal: Principal,
    event_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[CommentOut], str | None]:
    meeting = await load_meeting(session, principal, event_id)
    _require_review(meeting)
    staff = is_staff(principal, meeting)
    if not staff and not await _may_see_results(session, principal, meeting):
        raise _results_hidden()
    values = decode_cursor(cursor, 1)
    after = None
    if values is not None:
        try:
            after = uuid.UUID(str(values[0]))
        except ValueError as exc:
            raise AppError(
                400, "invalid_cursor", Message("分页游标无效", "The cursor is not valid")
            ) from exc
    rows = await repository.comments_page(
        session,
        event_id,
        include_hidden=staff,
        viewer_id=principal.user_id,
        after=after,
        limit=limit,
    )
    page, next_cursor = paginate(rows, limit, lambda row: (str(row[0].id),))
    links = await repository.proposal_links(session, [r.id for r, _ in page])
    items = []
    for rating, name in page:
        hidden = rating.comment_hidden_at is not None
        mine = rating.user_id == principal.user_id
        items.append(
            CommentOut(
                rating_id=rating.id,
                comment=rating.comment or "",
                scores=rating.scores,
                hidden=hidden,
                hidden_reason=rating.comment_hidden_reason if hidden else None,
                is_mine=mine,
                author_name=name if staff else None,
                proposal_id=links.get(rating.id),
                created_at=rating.created_at,
            )
        )
    return items, next_cursor


async def _staff_rating(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID, rating_id: uuid.UUID
) -> tuple[Meeting, Rating]:
    meeting = await load_meeting(session, principal, event_id)
    _require_review(meeting)
    acting_role(principal, meeting.path, MODERATE_ROLES)
    rating = await repository.get_rating(session, rating_id, lock=True)
    if rating is None or rating.event_id != event_id:
        raise _rating_not_found()
    return meeting, rating


async def hide_comment(
    session: AsyncSession,
    principal: Principal,
    event_id: uuid.UUID,
    rating_id: uuid.UUID,
    data: HideIn,
) -> RatingOut:
    meeting, rating = await _staff_rating(session, principal, event_id, rating_id)
    if rating.comment is None:
        raise conflict("no_comment", "该评分没有留言", "This rating has no comment")
    await session.execute(
        update(Rating)
        .where(Rating.id == rating.id)
        .values(
            comment_hidden_at=func.now(),
            comment_hidden_reason=data.reason,
            comment_hidden_by=principal.user_id,
        )
    )
    await audit.record(
        session,
        principal,
        "rating.comment_hide",
        "rating",
        rating.id,
        area_id=meeting.event.community_id,
        details={"event_id": str(event_id), "reason": data.reason},
    )
    await session.refresh(rating)
    return await _rating_out(session, rating, principal, staff=True)


async def restore_comment(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID, rating_id: uuid.UUID
) -> RatingOut:
    meeting, rating = await _staff_rating(session, principal, event_id, rating_id)
    await session.execute(
        update(Rating)
        .where(Rating.id == rating.id)
        .values(comment_hidden_at=None, comment_hidden_reason=None, comment_hidden_by=None)
    )
    await audit.record(
        session,
        principal,
        "rating.comment_restore",
        "rating",
        rating.id,
        area_id=meeting.event.community_id,
        details={"event_id": str(event_id)},
    )
    await session.refresh(rating)
    return await _rating_out(session, rating, principal, staff=True)


async def to_proposal(
    session: AsyncSession,
    viewer: proposals.Viewer,
    event_id: uuid.UUID,
    rating_id: uuid.UUID,
    data: ToProposalIn,
) -> ProposalDetailOut:
    """Staff turn a rating's comment into a new suggestion of the meeting's community. The
    resident stays its (anonymous) author, so they follow its replies; the link is kept."""
    principal = viewer.principal
    meeting, rating = await _staff_rating(session, principal, event_id, rating_id)
    if rating.comment is None:
        raise conflict("no_comment", "该评分没有留言", "This rating has no comment")
    if await repository.proposal_links(session, [rating.id]):
        raise conflict(
            "already_converted",
            "该留言已转为建议",
            "This comment has already been turned into a suggestion",
        )
    if not await proposals_repository.active_category(session, data.category):
        raise validation_failed([{"field": "category", "message": "unknown category"}])
    event = meeting.event
    proposal = Proposal(
        community_id=event.community_id,
        street_id=event.street_id,
        author_id=rating.user_id,
        anonymous=True,
        title=data.title,
        body=data.body or rating.comment,
        category=data.category,
        event_id=event.id,
        status=ProposalStatus.submitted,
        support_count=0,
    )
    session.add(proposal)
    await session.flush()
    if not await repository.link_proposal(session, rating.id, proposal.id, principal.user_id):
        raise conflict(
            "already_converted",
            "该留言已转为建议",
            "This comment has already been turned into a suggestion",
        )
    await session.refresh(proposal)
    await audit.record(
        session,
        principal,
        "rating.to_proposal",
        "rating",
        rating.id,
        area_id=event.community_id,
        details={"event_id": str(event_id), "proposal_id": str(proposal.id)},
    )
    await outbox.enqueue(
        session,
        "proposal.created",
        f"proposal:{proposal.id}",
        {
            "id": str(proposal.id),
            "community_id": str(proposal.community_id),
            "street_id": str(proposal.street_id),
            "reference": proposal.reference,
            "title": proposal.title,
            "category": proposal.category,
            "status": proposal.status.value,
            "event_id": str(event.id),
            "rating_id": str(rating.id),
            "created_at": proposal.created_at.isoformat(),
        },
    )
    return await proposals.detail(session, viewer, proposal)


# --- paper ratings --------------------------------------------------------------------------


async def enter_paper_counts(
    session: AsyncSession, principal: Principal, event_id: uuid.UUID, data: PaperCountsIn
) -> EventSummaryOut:
    meeting = await load_meeting(session, principal, event_id, share=True)
    acting_role(principal, meeting.path, MODERATE_ROLES)
    _require_review(meeting)
    # While open only: the results at close are final.
    if meeting.event.status != EventStatus.open:
        raise _not_open()
    criteria = [c for c, _, _ in await criteria_of(session, event_id)]
    unknown = sorted(set(data.counts) - set(criteria))
    if unknown:
        raise AppError(
            422,
            "unknown_criterion",
            Message(f"本次评议没有评分项：{', '.join(unknown)}", f"Unknown criteria: {unknown}"),
            errors=[{"field": f"counts.{c}", "message": "unknown criterion"} for c in unknown],
        )
    counts: dict[tuple[str, int], int] = {}
    errors = []
    for criterion, by_score in data.counts.items():
        for key, n in by_score.items():
            if key not in {str(s) for s in SCORES}:
                errors.append({"field": f"counts.{criterion}.{key}", "message": "scores are 1..5"})
            elif not 0 <= n <= 1_000_000:
                errors.append({"field": f"counts.{criterion}.{key}", "message": "0..1000000"})
            elif n:
                counts[(criterion, int(key))] = n
    if errors:
        raise AppError(
            422,
            "score_out_of_range",
            Message("纸质评分须按 1 到 5 分计数", "Paper counts are per score 1 to 5"),
            errors=errors,
        )
    await repository.lock_paper(session, event_id)
    stored = {c: {k: n for k, n in by.items()} for c, by in data.counts.items()}
    await repository.add_paper_entry(session, event_id, stored, data.note, principal.user_id)
    await repository.replace_paper_tallies(session, meeting.event, counts)
    await audit.record(
        session,
        principal,
        "rating.paper_counts",
        "event",
        event_id,
        area_id=meeting.event.community_id,
        details={"counts": stored, "note": data.note},
    )
    return await event_summary(session, principal, event_id)
