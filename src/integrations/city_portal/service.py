"""The portal adapter's rules: sign-on, inbound webhook events, the outbox admin view."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from src.config import Settings
from src.core import audit, inputs
from src.core.auth import Principal
from src.core.errors import AppError, Message, conflict, forbidden, not_found, unauthorized
from src.core.errors import validation_failed as validation_error
from src.core.pagination import Page, decode_cursor, paginate
from src.identity import service as identity
from src.identity.schemas import TokensOut
from src.integrations.city_portal import repository, signing
from src.integrations.city_portal.client import (
    InvalidTicket,
    PortalClient,
    PortalIdentity,
    PortalUnavailable,
)
from src.integrations.city_portal.schemas import (
    IdentityData,
    InboundCounts,
    OutboxItemOut,
    OutboxStatus,
    PortalMetricsOut,
    ProposalStatusData,
    WebhookEventIn,
    WebhookOut,
)
from src.models.proposal import NotificationKind, ProposalStatus, ProposalTransition
from src.proposals import repository as proposals
from src.proposals.service import MERGE_TARGETS, TRANSITIONS

# The portal's names for where a suggestion stands, and ours.
PORTAL_STATUSES: dict[str, ProposalStatus] = {
    "RECEIVED": ProposalStatus.under_review,
    "ACCEPTED": ProposalStatus.accepted,
    "REJECTED": ProposalStatus.rejected,
    "MERGED": ProposalStatus.merged,
    "IN_PROGRESS": ProposalStatus.adopted,
    "COMPLETED": ProposalStatus.done,
}
PORTAL_ROLE = "portal"


# --- sign-on ------------------------------------------------------------------------------


def masked_name(name: str) -> str:
    """Only the family name is kept: 王建国 → 王**."""
    return name[0] + "*" * min(len(name) - 1, 3) if len(name) > 1 else name


async def exchange_ticket(client: PortalClient, ticket: str) -> PortalIdentity:
    """Called before any database work: no network call inside a transaction."""
    try:
        return await client.exchange_ticket(ticket)
    except InvalidTicket:
        raise unauthorized(
            "invalid_portal_ticket",
            "随申办登录凭证无效、已过期或已使用",
            "The portal ticket is invalid, expired or used",
        ) from None
    except PortalUnavailable:
        raise AppError(
            503,
            "portal_unavailable",
            Message("随申办暂时无法连接，请稍后再试", "The city portal is unavailable, try later"),
            headers={"Retry-After": "5"},
        ) from None


async def portal_login(
    session: AsyncSession, settings: Settings, who: PortalIdentity
) -> TokensOut:
    community = (
        await repository.community_by_code(session, who.community_code)
        if who.community_code
        else None
    )
    user = await repository.upsert_portal_user(
        session,
        portal_user_id=who.portal_user_id,
        display_name=masked_name(who.name),
        verified=who.verified,
        community_id=community.id if community else None,
    )
    if user.disabled:
        raise forbidden("account_disabled", "账号已停用", "The account is disabled")
    return await identity.issue_tokens(session, settings, user, method="portal")


# --- inbound webhook ----------------------------------------------------------------------

_SIGNATURE_ERRORS = {
    "missing": ("invalid_signature", "缺少签名", "The request is not signed"),
    "malformed": ("invalid_signature", "签名格式有误", "The signature headers are malformed"),
    "mismatch": ("invalid_signature", "签名无效", "The signature does not match"),
    "stale": ("stale_request", "请求已过期", "The request timestamp is too far from now"),
}


async def receive_webhook(
    session: AsyncSession,
    settings: Settings,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
) -> WebhookOut:
    try:
        nonce = signing.verify(
            settings.portal_webhook_secret,
            method,
            path,
            headers,
            body,
            max_skew_s=settings.portal_webhook_max_skew_s,
        )
    except signing.SignatureError as exc:
        raise unauthorized(*_SIGNATURE_ERRORS[exc.reason]) from None
    if not await repository.remember_nonce(session, nonce):
        raise unauthorized("replayed_request", "重复的请求", "This request was already received")
    event = _parse(WebhookEventIn, body)
    raw: dict[str, Any] = inputs.loads(body)  # valid and bounded: _parse accepted it
    if not await repository.claim_event(session, event.event_id, event.type, raw):
        stored = await repository.inbound_event(session, event.event_id)
        return WebhookOut(
            event_id=event.event_id,
            outcome=stored.outcome if stored else "received",
            duplicate=True,
            detail=stored.detail if stored else None,
        )
    if event.type == "proposal.status_changed":
        outcome, detail, proposal_id = await _apply_status(
            session, _parse(ProposalStatusData, event.data), event.event_id
        )
    else:
        outcome, detail = await _apply_identity(session, _parse(IdentityData, event.data))
        proposal_id = None
    stored = await repository.inbound_event(session, event.event_id)
    assert stored is not None
    stored.outcome, stored.detail, stored.proposal_id = outcome, detail, proposal_id
    await session.flush()
    return WebhookOut(event_id=event.event_id, outcome=outcome, duplicate=False, detail=detail)


def _parse(model: Any, raw: bytes | dict[str, Any]) -> Any:
    try:
        if isinstance(raw, bytes):
            return model.model_validate_json(raw)
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(
            [
                {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
                for e in exc.errors()[:20]
            ]
        ) from None


async def _apply_status(
    session: AsyncSession, data: ProposalStatusData, event_id: str
) -> tuple[str, str | None, Any]:
    target = PORTAL_STATUSES.get(data.status)
    if target is None:
        return "unknown_status", f"portal status {data.status!r}", data.proposal_id
    ids = [data.proposal_id]
    if target == ProposalStatus.merged:
        if data.merged_into is None or data.merged_into == data.proposal_id:
            return "illegal_transition", "MERGED needs merged_into (another suggestion)", None
        ids.append(data.merged_into)
    locked = await proposals.lock_many(session, ids)
    proposal = locked.get(data.proposal_id)
    if proposal is None:
        return "unknown_proposal", None, None
    current = proposal.status
    if current == target:
        return "unchanged", f"already {target.value}", proposal.id
    if target not in TRANSITIONS[current]:
        return "illegal_transition", f"{current.value} → {target.value}", proposal.id
    if target == ProposalStatus.merged:
        into = locked.get(data.merged_into) if data.merged_into else None
        if (
            into is None
            or into.community_id != proposal.community_id
            or into.status not in MERGE_TARGETS
        ):
            return "illegal_transition", "merge target is not an open suggestion here", proposal.id
        await proposals.carry_supports(session, proposal.id, into.id)
        proposal.merged_into = into.id
    actor_id = await repository.portal_actor(session)
    reason = data.reason or ("随申办处理结果" if target == ProposalStatus.rejected else None)
    proposal.status = target
    proposal.updated_at = dt.datetime.now(dt.UTC)
    session.add(
        ProposalTransition(
            proposal_id=proposal.id,
            actor_id=actor_id,
            actor_role=PORTAL_ROLE,
            from_status=current,
            to_status=target,
            reason=reason,
        )
    )
    await session.flush()
    await proposals.notify(
        session,
        proposal.id,
        NotificationKind.status_changed,
        actor_id=actor_id,
        status=target.value,
        author_only=False,
    )
    await audit.record(
        session,
        None,
        "portal.proposal.transition",
        "proposal",
        proposal.id,
        area_id=proposal.community_id,
        details={"from": current.value, "to": target.value, "event_id": event_id},
    )
    return "applied", f"{current.value} → {target.value}", proposal.id


async def _apply_identity(session: AsyncSession, data: IdentityData) -> tuple[str, str | None]:
    user = await repository.user_by_portal_id(session, data.portal_user_id)
    if user is None or data.portal_user_id == repository.PORTAL_ACTOR_ID:
        return "unknown_user", None
    changed: list[str] = []
    if data.verified is not None and data.verified != user.verified:
        user.verified = data.verified
        changed.append("verified")
    if data.community_code:
        community = await repository.community_by_code(session, data.community_code)
        if community is None:
            return "unknown_community", data.community_code
        if community.id != user.home_community_id:
            user.home_community_id = community.id
            changed.append("community")
    if data.disabled is not None and data.disabled != user.disabled:
        user.disabled = data.disabled
        changed.append("disabled")
    await session.flush()
    return ("applied" if changed else "unchanged"), ", ".join(changed) or None


# --- admin --------------------------------------------------------------------------------


async def list_outbox(
    session: AsyncSession,
    *,
    status: OutboxStatus | None,
    topic: str | None,
    ordering_key: str | None,
    cursor: str | None,
    limit: int,
) -> Page[OutboxItemOut]:
    after = decode_cursor(cursor, 1)
    before_id = int(after[0]) if after else None
    rows = await repository.list_outbox(
        session,
        status=status.value if status else None,
        topic=topic,
        ordering_key=ordering_key,
        before_id=before_id,
        limit=limit + 1,
    )
    items, next_cursor = paginate(rows, limit, lambda r: [r.id])
    return Page(items=[OutboxItemOut.model_validate(r) for r in items], next_cursor=next_cursor)


async def retry_failed(session: AsyncSession, principal: Principal, item_id: int) -> OutboxItemOut:
    item = await repository.outbox_item_for_update(session, item_id)
    if item is None:
        raise not_found("投递记录", "Outbox item")
    if item.status != OutboxStatus.failed:
        raise conflict(
            "outbox_not_failed",
            "只能重试投递失败的记录",
            "Only failed (dead-lettered) items can be retried",
        )
    await audit.record(
        session,
        principal,
        "portal.outbox.retry",
        "outbox",
        str(item.id),
        details={
            "topic": item.topic,
            "ordering_key": item.ordering_key,
            "attempts": item.attempts,
            "last_error": item.last_error,
        },
    )
    item.status = OutboxStatus.pending.value
    item.attempts = 0
    item.next_attempt_at = dt.datetime.now(dt.UTC)
    item.claimed_until = None
    item.claim_token = None
    await session.flush()
    return OutboxItemOut.model_validate(item)


async def metrics(session: AsyncSession) -> PortalMetricsOut:
    row = await repository.outbox_metrics(session)
    inbound = await repository.inbound_counts(session)
    return PortalMetricsOut(
        pending=row.pending,
        due=row.due,
        retrying=row.retrying,
        failed=row.failed,
        delivered=await repository.delivered_count(session),
        blocked_keys=row.blocked_keys,
        oldest_age_s=float(row.oldest_age_s) if row.oldest_age_s is not None else None,
        inbound=InboundCounts(
            **{k: v for k, v in inbound.items() if k in InboundCounts.model_fields}
        ),
    )
