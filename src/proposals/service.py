"""The rules of suggestions: who may submit, see, support, answer and move them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from src.categories import service as categories
from src.core import audit, outbox
from src.core.auth import Principal
from src.core.errors import AppError, Message, conflict, not_found, validation_failed
from src.core.geo import CoordSys, Location, haversine_m
from src.core.pagination import (
    decode_cursor_as,
    finite_float,
    int32,
    paginate,
    timestamp,
    uuid_value,
)
from src.core.policy import (
    MODERATE_ROLES,
    REPLY_ROLES,
    VIEW_ROLES,
    acting_role,
    area_required,
    covers,
    load_area,
    view_scope,
)
from src.identity import subscriptions
from src.models.area import AreaLevel
from src.models.moderation import ItemSource
from src.models.project import Project
from src.models.proposal import (
    NotificationKind,
    Proposal,
    ProposalPhoto,
    ProposalReply,
    ProposalStatus,
    ProposalTransition,
    ReactionValue,
)
from src.models.subscription import SubscribeKind
from src.models.user import Role
from src.moderation import repository as moderation_repository
from src.moderation import screening as moderation
from src.moderation.words import Screen
from src.proposals import repository
from src.proposals.references import as_reference
from src.proposals.repository import ListFilter
from src.proposals.schemas import (
    ANONYMOUS_EN,
    ANONYMOUS_ZH,
    QUERY_MAX,
    TITLE_MAX,
    AuthorOut,
    NotificationOut,
    NotificationsReadIn,
    PhotoOut,
    ProposalDetailOut,
    ProposalIn,
    ProposalOut,
    ProposalSort,
    ReactionIn,
    ReactionOut,
    ReadOut,
    ReplyIn,
    ReplyOut,
    SimilarOut,
    StatsOut,
    SupportOut,
    TransitionIn,
    TransitionOut,
)
from src.proposals.similarity import similar_text
from src.uploads import service as uploads
from src.uploads.schemas import upload_url

S = ProposalStatus
# The state machine of API.md; ``hidden`` is moderation, restorable to review.
TRANSITIONS: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    S.submitted: frozenset({S.under_review, S.hidden}),
    S.under_review: frozenset({S.accepted, S.rejected, S.merged, S.hidden}),
    S.accepted: frozenset({S.adopted, S.hidden}),
    S.adopted: frozenset({S.done}),
    S.done: frozenset(),
    S.rejected: frozenset({S.hidden}),
    S.merged: frozenset({S.hidden}),
    S.hidden: frozenset({S.under_review}),
    # Held for its words: only a moderation decision moves it (src/moderation).
    S.pending_review: frozenset(),
}
# Seen by the author and the area's staff only.
PRIVATE = frozenset({S.hidden, S.pending_review})
# Supports only count while a suggestion is still being decided or carried out.
SUPPORTABLE = frozenset({S.submitted, S.under_review, S.accepted, S.adopted})
NEEDS_REASON = frozenset({S.rejected, S.hidden})
MERGE_TARGETS = frozenset({S.submitted, S.under_review, S.accepted, S.adopted})


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    english: bool
    coord_sys: CoordSys


# --- reading ------------------------------------------------------------------------------


def can_see(principal: Principal, proposal: Proposal, path: list[uuid.UUID]) -> bool:
    if proposal.author_id == principal.user_id:
        return True
    staff = covers(principal, path, VIEW_ROLES)
    if proposal.status in PRIVATE and not staff:
        return False
    return staff or principal.community_id == proposal.community_id


async def visible_proposal(
    session: AsyncSession, principal: Principal, proposal_id: uuid.UUID, *, lock: bool = False
) -> tuple[Proposal, list[uuid.UUID]]:
    proposal = await repository.get(session, proposal_id, lock=lock)
    if proposal is None:
        raise not_found("建议", "Suggestion")
    area = await load_area(session, proposal.community_id)
    assert area is not None
    if not can_see(principal, proposal, area.path):
        raise not_found("建议", "Suggestion")
    return proposal, list(area.path)


async def build_outs(
    session: AsyncSession,
    viewer: Viewer,
    proposals: list[Proposal],
    extras: dict[uuid.UUID, repository.Extras] | None = None,
) -> list[ProposalOut]:
    """Outputs for ``proposals``; ``extras`` (known already, as after a submission) saves 3
    queries."""
    ids = [p.id for p in proposals]
    me = viewer.principal.user_id
    if extras is not None:
        supported = {i for i in ids if extras[i].supported}
        photos = {i: extras[i].photos for i in ids}
        names = {p.author_id: extras[p.id].author_name for p in proposals}
        reactions = {i: r for i in ids if (r := extras[i].my_reaction) is not None}
    else:
        supported = await repository.supported_ids(session, me, ids)
        reactions = await repository.reactions_of(session, me, ids)
        photos = await repository.photos_of(session, ids)
        names = await repository.author_names(
            session, [p.author_id for p in proposals if not p.anonymous or p.author_id == me]
        )
    anonymous = _anonymous(viewer)
    return [
        _out(
            viewer,
            p,
            anonymous,
            p.id in supported,
            photos.get(p.id, []),
            names.get(p.author_id, ""),
            reactions.get(p.id),
        )
        for p in proposals
    ]


def list_outs(viewer: Viewer, rows: list[repository.ListRow]) -> list[ProposalOut]:
    """Outputs for the rows of a list (they carry their extras)."""
    anonymous = _anonymous(viewer)
    return [
        _out(viewer, r, anonymous, r.supported, r.photos, r.author_name, r.my_reaction)
        for r in rows
    ]


_REACTIONS = {r.value: r for r in ReactionValue}


def _anonymous(viewer: Viewer) -> AuthorOut:
    return AuthorOut(id=None, display_name=ANONYMOUS_EN if viewer.english else ANONYMOUS_ZH)


def _out(
    viewer: Viewer,
    p: Proposal | repository.ListRow,
    anonymous: AuthorOut,
    supported: bool,
    photos: list[uuid.UUID],
    author_name: str,
    my_reaction: str | None,
) -> ProposalOut:
    mine = p.author_id == viewer.principal.user_id
    author = (
        anonymous
        if p.anonymous and not mine
        else AuthorOut(id=p.author_id, display_name=author_name)
    )
    location = (
        Location.from_wgs84(p.lat, p.lng, viewer.coord_sys)
        if p.lat is not None and p.lng is not None
        else None
    )
    return ProposalOut(
        id=p.id,
        community_id=p.community_id,
        street_id=p.street_id,
        reference=p.reference,
        title=p.title,
        body=p.body,
        category=p.category,
        status=p.status,
        support_count=p.support_count,
        supported_by_me=supported,
        agree_count=p.agree_count,
        disagree_count=p.disagree_count,
        pass_count=p.pass_count,
        my_reaction=_REACTIONS[my_reaction] if my_reaction is not None else None,
        anonymous=p.anonymous,
        is_mine=mine,
        author=author,
        location=location,
        event_id=p.event_id,
        project_id=p.project_id,
        merged_into=p.merged_into,
        photos=[PhotoOut(id=u, url=upload_url(u)) for u in photos],
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


async def detail(session: AsyncSession, viewer: Viewer, proposal: Proposal) -> ProposalDetailOut:
    [base] = await build_outs(session, viewer, [proposal])
    replies = [
        ReplyOut(
            id=r.id,
            body=r.body,
            author_name=name,
            author_role=r.author_role,
            created_at=r.created_at,
        )
        for r, name in await repository.replies_of(session, proposal.id)
    ]
    history = [
        TransitionOut(
            from_status=t.from_status,
            to_status=t.to_status,
            reason=t.reason,
            actor_role=t.actor_role,
            at=t.at,
        )
        for t in await repository.history_of(session, proposal.id)
    ]
    return ProposalDetailOut(**base.model_dump(), replies=replies, history=history)


async def get_detail(
    session: AsyncSession, viewer: Viewer, proposal_id: uuid.UUID
) -> ProposalDetailOut:
    proposal, _ = await visible_proposal(session, viewer.principal, proposal_id)
    return await detail(session, viewer, proposal)


def search_terms(q: str | None) -> tuple[str, ...]:
    if q is None:
        return ()
    q = q.strip()
    if len(q) > QUERY_MAX:
        raise validation_failed([{"field": "q", "message": f"at most {QUERY_MAX} characters"}])
    return tuple(q.split())


def parse_query(q: str | None) -> tuple[str | None, tuple[str, ...]]:
    """``?q=``: a reference (that suggestion, exactly, in any case) or search words."""
    terms = search_terms(q)
    reference = as_reference(terms[0]) if len(terms) == 1 else None
    return reference, () if reference is not None else terms


def _after(cursor: str | None, sort: ProposalSort) -> tuple[object, uuid.UUID] | None:
    first: Callable[[Any], object] = timestamp
    if sort == ProposalSort.most_supported:
        first = int32
    elif sort in (ProposalSort.consensus, ProposalSort.controversial):
        first = finite_float
    values = decode_cursor_as(cursor, first, uuid_value)
    return (values[0], values[1]) if values is not None else None


async def area_filter(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: uuid.UUID | None,
    street_id: uuid.UUID | None,
    status: ProposalStatus | None = None,
    category: str | None = None,
    event_id: uuid.UUID | None = None,
    terms: tuple[str, ...] = (),
    reference: str | None = None,
) -> ListFilter:
    """The list filter for a community or street the caller may read (else 404/422)."""
    staff = False
    if street_id is not None:
        scope = await view_scope(session, principal, street_id, AreaLevel.street, field="street_id")
        staff = scope.staff
    if community_id is None and street_id is None:
        community_id = principal.community_id
        if community_id is None:
            raise area_required()
    if community_id is not None:
        scope = await view_scope(
            session, principal, community_id, AreaLevel.community, field="community_id"
        )
        staff = staff or scope.staff
    return ListFilter(
        community_id=community_id,
        street_id=street_id,
        status=status,
        category=category,
        event_id=event_id,
        terms=terms,
        reference=reference,
        include_hidden=staff,
        hidden_visible_to=principal.user_id,
    )


async def stats(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: uuid.UUID | None,
    street_id: uuid.UUID | None,
    status: ProposalStatus | None,
    category: str | None,
    event_id: uuid.UUID | None,
) -> StatsOut:
    flt = await area_filter(
        session,
        principal,
        community_id=community_id,
        street_id=street_id,
        status=status,
        category=category,
        event_id=event_id,
    )
    out = StatsOut(total=0, supports=0, by_status={}, by_category={}, by_community={})
    for row in await repository.counts(session, flt):
        out.total += row.n
        out.supports += row.supports
        out.by_status[row.status.value] = out.by_status.get(row.status.value, 0) + row.n
        out.by_category[row.category] = out.by_category.get(row.category, 0) + row.n
        key = str(row.community_id)
        out.by_community[key] = out.by_community.get(key, 0) + row.n
    return out


async def list_proposals(
    session: AsyncSession,
    viewer: Viewer,
    *,
    community_id: uuid.UUID | None,
    street_id: uuid.UUID | None,
    status: ProposalStatus | None,
    category: str | None,
    event_id: uuid.UUID | None,
    q: str | None,
    sort: ProposalSort,
    cursor: str | None,
    limit: int,
) -> tuple[list[ProposalOut], str | None]:
    reference, terms = parse_query(q)
    flt = await area_filter(
        session,
        viewer.principal,
        community_id=community_id,
        street_id=street_id,
        status=status,
        category=category,
        event_id=event_id,
        terms=terms,
        reference=reference,
    )
    rows = await repository.list_page_with_extras(
        session,
        flt,
        sort=sort.value,
        after=_after(cursor, sort),
        limit=limit,
        viewer_id=viewer.principal.user_id,
    )
    items, next_cursor = paginate(rows, limit, _cursor_key(sort))
    return list_outs(viewer, items), next_cursor


def _cursor_key(sort: ProposalSort):  # type: ignore[no-untyped-def]
    if sort == ProposalSort.most_supported:
        return lambda p: (p.support_count, str(p.id))
    if sort == ProposalSort.consensus:
        return lambda p: (p.consensus_score, str(p.id))
    if sort == ProposalSort.controversial:
        return lambda p: (p.controversy_score, str(p.id))
    return lambda p: (p.created_at.isoformat(), str(p.id))


async def list_mine(
    session: AsyncSession, viewer: Viewer, *, cursor: str | None, limit: int
) -> tuple[list[ProposalOut], str | None]:
    flt = ListFilter(author_id=viewer.principal.user_id)
    rows = await repository.list_page_with_extras(
        session,
        flt,
        sort=ProposalSort.newest.value,
        after=_after(cursor, ProposalSort.newest),
        limit=limit,
        viewer_id=viewer.principal.user_id,
    )
    items, next_cursor = paginate(rows, limit, _cursor_key(ProposalSort.newest))
    return list_outs(viewer, items), next_cursor


# --- submitting ---------------------------------------------------------------------------


async def submit(
    session: AsyncSession, viewer: Viewer, data: ProposalIn, screen: Screen
) -> ProposalDetailOut:
    principal = viewer.principal
    community_id = data.community_id or principal.community_id
    if community_id is None:
        raise AppError(
            422,
            "community_required",
            Message("请选择建议所属的社区", "Choose the community of the suggestion"),
        )
    scope = await view_scope(
        session, principal, community_id, AreaLevel.community, field="community_id"
    )
    if not scope.resident and not covers(principal, scope.area.path, MODERATE_ROLES):
        # A planner reads the street's suggestions but does not file them for residents.
        raise not_found("区域", "Area")
    # Unknown → validation_failed; retired → category_retired (categories domain).
    await categories.require_usable(session, data.category)
    errors = []
    if len(set(data.photo_ids)) != len(data.photo_ids) or not await uploads.claimable(
        session, principal.user_id, data.photo_ids
    ):
        errors.append(
            {"field": "photo_ids", "message": "unknown, foreign or already attached upload"}
        )
    if errors:
        raise validation_failed(errors)
    # Sensitive words refuse the suggestion (422 sensitive_content) or hold it for review.
    held_for = moderation.held(screen, {"title": data.title, "body": data.body})
    lat, lng = data.location.to_wgs84() if data.location else (None, None)
    proposal = Proposal(
        community_id=scope.area.id,
        street_id=scope.street_id,
        author_id=principal.user_id,
        anonymous=data.anonymous,
        title=data.title,
        body=data.body,
        category=data.category,
        lat=lat,
        lng=lng,
        event_id=data.event_id,
        status=S.submitted if held_for is None else S.pending_review,
        support_count=0,
    )
    session.add(proposal)
    await session.flush()
    for position, upload_id in enumerate(data.photo_ids):
        session.add(ProposalPhoto(proposal_id=proposal.id, upload_id=upload_id, position=position))
    await session.flush()
    await session.refresh(proposal)
    if held_for is None:
        await _announce_created(session, proposal)
    else:
        # The portal hears of a held suggestion only once it is kept (``moderate``).
        await moderation_repository.open_item(
            session, proposal, source=ItemSource.sensitive_words, words=held_for
        )
    # A new suggestion has no supports, replies or history yet: no need to ask the database.
    fresh = repository.Extras(False, list(data.photo_ids), principal.display_name)
    [base] = await build_outs(session, viewer, [proposal], {proposal.id: fresh})
    return ProposalDetailOut(**base.model_dump(), replies=[], history=[])


async def _announce_created(session: AsyncSession, proposal: Proposal) -> None:
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
            "event_id": str(proposal.event_id) if proposal.event_id else None,
            "created_at": proposal.created_at.isoformat(),
        },
    )


# --- supporting ---------------------------------------------------------------------------


async def set_support(
    session: AsyncSession, principal: Principal, proposal_id: uuid.UUID, *, support: bool
) -> SupportOut:
    # The row lock orders every support change and merge of this suggestion: the count
    # stays exact under concurrent taps, and lock order (suggestion, then supports) is fixed.
    proposal, _ = await visible_proposal(session, principal, proposal_id, lock=True)
    if proposal.status not in SUPPORTABLE:
        raise conflict(
            "proposal_closed",
            "该建议已结束，不能再附议",
            "This suggestion is closed for support",
        )
    if support:
        count = await repository.add_support(session, proposal.id, principal.user_id)
    else:
        count = await repository.remove_support(session, proposal.id, principal.user_id)
    return SupportOut(support_count=count, supported_by_me=support)


# --- similar suggestions ------------------------------------------------------------------

# Text score at or above which two titles say the same thing: chosen on the labelled pairs of
# tests/proposals/data/similar_pairs.csv (precision and recall in docs/proposals-deliberation.md).
SIMILAR_THRESHOLD = 0.35
# The nearest titles by text (KNN on the GiST index), then re-ranked by place and status.
SIMILAR_CANDIDATES = 20
SIMILAR_LIMIT = 5
SIMILAR_NEAR_M = 300.0  # the boost for place halves every SIMILAR_NEAR_M metres
OPEN_BOOST = 0.25
NEAR_BOOST = 0.5


def similar_rank(similarity: float, status: ProposalStatus, distance_m: float | None) -> float:
    """Text first; an open suggestion (one a resident can still support) and a near one rank
    higher: similarity × (1 + 0.25 if open) × (1 + 0.5 · 2^(−distance / 300 m))."""
    score = similarity * (1 + (OPEN_BOOST if status in SUPPORTABLE else 0.0))
    if distance_m is not None:
        score *= 1 + NEAR_BOOST * 2 ** (-distance_m / SIMILAR_NEAR_M)
    return score


async def similar(
    session: AsyncSession,
    principal: Principal,
    *,
    title: str | None,
    community_id: uuid.UUID | None,
    location: Location | None,
) -> list[SimilarOut]:
    title = (title or "").strip()
    if not 1 <= len(title) <= TITLE_MAX:
        raise validation_failed([{"field": "title", "message": f"1 to {TITLE_MAX} characters"}])
    community_id = community_id or principal.community_id
    if community_id is None:
        raise area_required()
    scope = await view_scope(
        session, principal, community_id, AreaLevel.community, field="community_id"
    )
    text_form = similar_text(title)
    if not text_form:
        return []
    rows = await repository.similar(
        session,
        scope.area.id,
        text_form,
        candidates=SIMILAR_CANDIDATES,
        threshold=SIMILAR_THRESHOLD,
    )
    point = location.to_wgs84() if location is not None else None
    outs = []
    for row in rows:
        distance = (
            haversine_m(point[0], point[1], row.lat, row.lng)
            if point is not None and row.lat is not None and row.lng is not None
            else None
        )
        status = ProposalStatus(row.status)
        outs.append(
            (
                similar_rank(row.similarity, status, distance),
                SimilarOut(
                    id=row.id,
                    title=row.title,
                    status=status,
                    support_count=row.support_count,
                    similarity=round(row.similarity, 3),
                    distance_m=round(distance, 1) if distance is not None else None,
                    created_at=row.created_at,
                ),
            )
        )
    outs.sort(key=lambda pair: (-pair[0], -pair[1].support_count, str(pair[1].id)))
    return [out for _, out in outs[:SIMILAR_LIMIT]]


# --- reacting (agree / disagree / pass) ----------------------------------------------------


async def set_reaction(
    session: AsyncSession,
    principal: Principal,
    proposal_id: uuid.UUID,
    data: ReactionIn | None,
) -> ReactionOut:
    """Record, change (``data``) or withdraw (None) the caller's reaction. As with supports,
    the suggestion's row lock orders every change of it: a burst of taps leaves one row and
    exact counts."""
    proposal, _ = await visible_proposal(session, principal, proposal_id, lock=True)
    if proposal.status not in SUPPORTABLE:
        raise conflict(
            "proposal_closed",
            "该建议已结束，不能再表态",
            "This suggestion is closed for reactions",
        )
    value = data.value if data is not None else None
    counts = await repository.set_reaction(
        session, proposal.id, principal.user_id, value.value if value is not None else None
    )
    return ReactionOut(
        agree_count=counts.agree,
        disagree_count=counts.disagree,
        pass_count=counts.pass_,
        my_reaction=value,
    )


# --- answering and moving -----------------------------------------------------------------


async def reply(
    session: AsyncSession,
    principal: Principal,
    proposal_id: uuid.UUID,
    data: ReplyIn,
    screen: Screen,
) -> ReplyOut:
    proposal, path = await visible_proposal(session, principal, proposal_id)
    role = acting_role(principal, path, REPLY_ROLES)
    moderation.require_clean(screen, {"body": data.body})
    item = ProposalReply(
        proposal_id=proposal.id, author_id=principal.user_id, author_role=role.value, body=data.body
    )
    session.add(item)
    await session.flush()
    await session.refresh(item)
    await _notify(
        session,
        proposal.id,
        NotificationKind.reply,
        actor_id=principal.user_id,
        author_only=proposal.status in PRIVATE,
    )
    await outbox.enqueue(
        session,
        "proposal.replied",
        f"proposal:{proposal.id}",
        {
            "id": str(proposal.id),
            "reference": proposal.reference,
            "reply_id": str(item.id),
            "body": item.body,
            "author_role": role.value,
            "created_at": item.created_at.isoformat(),
        },
    )
    await audit.record(
        session,
        principal,
        "proposal.reply",
        "proposal",
        proposal.id,
        area_id=proposal.community_id,
        details={"reply_id": str(item.id)},
    )
    return ReplyOut(
        id=item.id,
        body=item.body,
        author_name=principal.display_name,
        author_role=item.author_role,
        created_at=item.created_at,
    )


def _illegal(current: ProposalStatus, to: ProposalStatus) -> AppError:
    return conflict(
        "illegal_transition",
        f"建议状态不能从 {current.value} 变为 {to.value}",
        f"A suggestion cannot move from {current.value} to {to.value}",
    )


async def transition(
    session: AsyncSession, viewer: Viewer, proposal_id: uuid.UUID, data: TransitionIn
) -> ProposalDetailOut:
    principal = viewer.principal
    proposal, path = await visible_proposal(session, principal, proposal_id)
    role = acting_role(principal, path, MODERATE_ROLES)
    if data.to in NEEDS_REASON and not data.reason:
        raise AppError(
            422,
            "reason_required",
            Message("请填写原因", "A reason is required for this change"),
            errors=[{"field": "reason", "message": "required"}],
        )
    if data.to == S.merged and data.merged_into is None:
        raise validation_failed([{"field": "merged_into", "message": "required to merge"}])
    if data.to == S.adopted and data.project_id is None:
        raise validation_failed([{"field": "project_id", "message": "required to adopt"}])

    lock_ids = [proposal.id]
    if data.to == S.merged and data.merged_into is not None:
        if data.merged_into == proposal.id:
            raise validation_failed(
                [{"field": "merged_into", "message": "cannot merge into itself"}]
            )
        lock_ids.append(data.merged_into)
    locked = await repository.lock_many(session, lock_ids)
    proposal = locked[proposal.id]
    current = proposal.status
    if data.to not in TRANSITIONS[current]:
        raise _illegal(current, data.to)

    target: Proposal | None = None
    if data.to == S.merged:
        target = locked.get(data.merged_into) if data.merged_into else None
        if (
            target is None
            or target.community_id != proposal.community_id
            or target.status not in MERGE_TARGETS
        ):
            raise AppError(
                422,
                "invalid_merge_target",
                Message(
                    "只能合并到同一社区中仍在处理的建议",
                    "Merge into an open suggestion of the same community",
                ),
                errors=[{"field": "merged_into", "message": "not an open suggestion here"}],
            )
        await repository.carry_supports(session, proposal.id, target.id)
        proposal.merged_into = target.id
    if data.to == S.adopted:
        project = await session.get(Project, data.project_id)
        if project is None or project.community_id != proposal.community_id:
            raise AppError(
                422,
                "invalid_project",
                Message("项目不存在或不属于该社区", "No such project in this community"),
                errors=[{"field": "project_id", "message": "not a project of this community"}],
            )
        proposal.project_id = project.id
    proposal.status = data.to
    proposal.updated_at = dt.datetime.now(dt.UTC)
    session.add(
        ProposalTransition(
            proposal_id=proposal.id,
            actor_id=principal.user_id,
            actor_role=role.value,
            from_status=current,
            to_status=data.to,
            reason=data.reason,
        )
    )
    await session.flush()
    await _notify(
        session,
        proposal.id,
        NotificationKind.status_changed,
        actor_id=principal.user_id,
        status=data.to.value,
        author_only=data.to == S.hidden,
    )
    await outbox.enqueue(
        session,
        "proposal.status_changed",
        f"proposal:{proposal.id}",
        {
            "id": str(proposal.id),
            "reference": proposal.reference,
            "from": current.value,
            "to": data.to.value,
            "reason": data.reason,
            "merged_into": str(proposal.merged_into) if proposal.merged_into else None,
            "project_id": str(proposal.project_id) if proposal.project_id else None,
        },
    )
    await audit.record(
        session,
        principal,
        "proposal.hide" if data.to == S.hidden else "proposal.transition",
        "proposal",
        proposal.id,
        area_id=proposal.community_id,
        details={"from": current.value, "to": data.to.value, "reason": data.reason},
    )
    await session.refresh(proposal)
    return await detail(session, viewer, proposal)


async def moderate(
    session: AsyncSession,
    principal: Principal,
    role: Role,
    proposal_id: uuid.UUID,
    *,
    hide: bool,
    reason: str,
) -> None:
    """A moderation decision on a suggestion (the caller holds its row lock and has checked
    the role). Hide: ``hidden`` from any status (content that breaks the rules goes whatever
    stage it is in). Keep: a held suggestion is released as ``submitted`` (and announced to
    the portal); a reported one stays as it is. The author is told of every status change."""
    proposal = await repository.get(session, proposal_id)
    assert proposal is not None
    current = proposal.status
    if hide:
        to = S.hidden
    elif current == S.pending_review:
        to = S.submitted
    else:
        return
    if to == current:
        return
    proposal.status = to
    proposal.updated_at = dt.datetime.now(dt.UTC)
    session.add(
        ProposalTransition(
            proposal_id=proposal.id,
            actor_id=principal.user_id,
            actor_role=role.value,
            from_status=current,
            to_status=to,
            reason=reason,
        )
    )
    await session.flush()
    await _notify(
        session,
        proposal.id,
        NotificationKind.status_changed,
        actor_id=principal.user_id,
        status=to.value,
        author_only=True,
    )
    if current == S.pending_review:
        if to == S.submitted:
            await _announce_created(session, proposal)
        return
    await outbox.enqueue(
        session,
        "proposal.status_changed",
        f"proposal:{proposal.id}",
        {
            "id": str(proposal.id),
            "reference": proposal.reference,
            "from": current.value,
            "to": to.value,
            "reason": reason,
            "merged_into": str(proposal.merged_into) if proposal.merged_into else None,
            "project_id": str(proposal.project_id) if proposal.project_id else None,
        },
    )


async def _notify(
    session: AsyncSession,
    proposal_id: uuid.UUID,
    kind: NotificationKind,
    *,
    actor_id: uuid.UUID,
    status: str | None = None,
    author_only: bool = False,
) -> None:
    """The feed's notifications, each also a WeChat subscribe message for whoever granted
    one of its kind (src/identity/subscriptions.py)."""
    users = await repository.notify(
        session, proposal_id, kind, actor_id=actor_id, status=status, author_only=author_only
    )
    if not users:
        return
    proposal = await repository.get(session, proposal_id)
    assert proposal is not None
    when = dt.datetime.now(CHINA).strftime("%Y-%m-%d %H:%M")
    # character_string4: the reference, so the resident can quote it on the phone.
    if kind == NotificationKind.reply:
        data = subscriptions.fields(
            thing1=proposal.title,
            thing2="社区有了新的答复",
            time3=when,
            character_string4=proposal.reference,
        )
    else:
        label = STATUS_LABELS.get(status or "", status or "")
        data = subscriptions.fields(
            thing1=proposal.title,
            phrase2=label,
            time3=when,
            character_string4=proposal.reference,
        )
    await subscriptions.push(
        session,
        SubscribeKind(kind.value),
        users,
        page=subscriptions.PROPOSAL_PAGE.format(id=proposal.id),
        data=data,
    )


CHINA = dt.timezone(dt.timedelta(hours=8))
# Short labels for subscribe messages ("phrase" fields hold at most 5 characters).
STATUS_LABELS = {
    "submitted": "已受理",
    "under_review": "审核中",
    "accepted": "已采纳",
    "rejected": "未采纳",
    "merged": "已合并",
    "adopted": "已立项",
    "done": "已完成",
    "hidden": "已隐藏",
    "pending_review": "待审核",
}


# --- notifications ------------------------------------------------------------------------


async def list_notifications(
    session: AsyncSession,
    principal: Principal,
    *,
    unread_only: bool,
    cursor: str | None,
    limit: int,
) -> tuple[list[NotificationOut], str | None]:
    values = decode_cursor_as(cursor, timestamp, uuid_value)
    after = (values[0], values[1]) if values is not None else None
    rows = await repository.notifications_page(
        session, principal.user_id, unread_only=unread_only, after=after, limit=limit
    )
    items, next_cursor = paginate(
        rows, limit, lambda r: (r[0].created_at.isoformat(), str(r[0].id))
    )
    return [
        NotificationOut(
            id=n.id,
            kind=n.kind,
            proposal_id=n.proposal_id,
            proposal_title=title,
            proposal_reference=reference,
            status=n.status,
            created_at=n.created_at,
            read=n.read_at is not None,
            read_at=n.read_at,
        )
        for n, title, reference in items
    ], next_cursor


async def mark_read(
    session: AsyncSession, principal: Principal, data: NotificationsReadIn
) -> ReadOut:
    marked = await repository.mark_read(
        session, principal.user_id, None if data.all else (data.ids or [])
    )
    return ReadOut(marked=marked)
