"""The rules of moderation: screening text against the sensitive-word list, residents'
reports, and the queue committees and streets work (hide / keep, with a reason, audited; the
author is told through the notification feed)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from src.core import audit
from src.core.auth import Principal
from src.core.errors import conflict, not_found
from src.core.pagination import decode_cursor_as, paginate, timestamp, uuid_value
from src.core.policy import MODERATE_ROLES, acting_role, load_area, moderation_area
from src.models.area import AreaLevel
from src.models.moderation import ItemSource, ItemStatus, ReportReason
from src.models.proposal import ProposalStatus
from src.moderation import repository
from src.moderation.schemas import (
    DecisionAction,
    DecisionIn,
    QueueItemOut,
    QueueProposalOut,
    ReportIn,
    ReportOut,
)
from src.proposals import service as proposals


async def report(
    session: AsyncSession, principal: Principal, proposal_id: uuid.UUID, data: ReportIn
) -> ReportOut:
    # The suggestion's row lock orders its reports and decisions.
    proposal, _ = await proposals.visible_proposal(session, principal, proposal_id, lock=True)
    row = await repository.add_report(
        session, proposal.id, principal.user_id, data.reason.value, data.note
    )
    if row is None:
        raise conflict(
            "already_reported", "你已举报过该建议", "You reported this suggestion already"
        )
    await repository.open_item(session, proposal, source=ItemSource.report, reports=1)
    return ReportOut(
        id=row.id,
        proposal_id=row.proposal_id,
        reason=ReportReason(row.reason),
        note=row.note,
        created_at=row.created_at,
    )


def _item_out(row: Any) -> QueueItemOut:
    return QueueItemOut(
        id=row["id"],
        community_id=row["community_id"],
        source=ItemSource(row["source"]),
        words=list(row["words"]),
        reports=row["reports"],
        report_reasons=json.loads(row["reasons"]),
        status=ItemStatus(row["status"]),
        created_at=row["created_at"],
        decided_at=row["decided_at"],
        decision_reason=row["decision_reason"],
        proposal=QueueProposalOut(
            id=row["proposal_id"],
            title=row["title"],
            body=row["body"],
            status=ProposalStatus(row["proposal_status"]),
            author_id=row["author_id"],
        ),
    )


async def queue(
    session: AsyncSession,
    principal: Principal,
    *,
    area_id: uuid.UUID,
    status: ItemStatus,
    cursor: str | None,
    limit: int,
) -> tuple[list[QueueItemOut], str | None]:
    area = await moderation_area(session, principal, area_id)
    values = decode_cursor_as(cursor, timestamp, uuid_value)
    after: tuple[dt.datetime, uuid.UUID] | None = (
        (values[0], values[1]) if values is not None else None
    )
    rows = await repository.queue_page(
        session,
        area_id=area.id,
        street=area.level == AreaLevel.street,
        status=status.value,
        after=after,
        limit=limit,
    )
    items, next_cursor = paginate(
        rows, limit, lambda r: (r["created_at"].isoformat(), str(r["id"]))
    )
    return [_item_out(r) for r in items], next_cursor


async def decide(
    session: AsyncSession, principal: Principal, item_id: uuid.UUID, data: DecisionIn
) -> QueueItemOut:
    item = await repository.get_item(session, item_id)
    if item is None:
        raise not_found("审核事项", "Moderation item")
    area = await load_area(session, item.community_id)
    assert area is not None
    role = acting_role(principal, area.path, MODERATE_ROLES)
    # Lock order as everywhere: the suggestion, then its queue item.
    await proposals.visible_proposal(session, principal, item.proposal_id, lock=True)
    item = await repository.get_item(session, item_id, lock=True)
    assert item is not None
    if item.status != ItemStatus.open:
        raise conflict("already_decided", "该事项已处理", "This item was decided already")
    hide = data.action == DecisionAction.hide
    await proposals.moderate(
        session, principal, role, item.proposal_id, hide=hide, reason=data.reason
    )
    item.status = ItemStatus.hidden if hide else ItemStatus.kept
    item.decided_at = dt.datetime.now(dt.UTC)
    item.decided_by = principal.user_id
    item.decision_reason = data.reason
    await session.flush()
    await audit.record(
        session,
        principal,
        f"moderation.{data.action.value}",
        "proposal",
        item.proposal_id,
        area_id=item.community_id,
        details={"item_id": str(item.id), "reason": data.reason, "source": item.source},
    )
    return _item_out(await repository.item_row(session, item.id))
