"""WeChat subscribe messages (订阅消息): residents' grants, and turning a notification into
one outbox row per grant.

In WeChat a one-shot grant (一次性订阅) allows one message: the mini-program asks with
``wx.requestSubscribeMessage`` and tells us what the resident accepted
(``PUT /api/v1/me/subscriptions``). A resident holds at most one unused grant per kind (a
retried PUT adds nothing). When a notification is written, ``push`` uses the recipients'
grants of its kind and writes one outbox row (channel ``wechat``) per used grant, in the same
transaction: never lost (the outbox), never twice per grant (the grant is used once, under
its row lock; ``outbox_id`` is unique). The delivery is src/identity/subscribe_worker.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from src.config import Settings
from src.core.auth import Principal
from src.core.errors import conflict, validation_failed
from src.core.schemas import RequestModel, ResponseModel
from src.models.subscription import SubscribeKind

TOPIC = "wechat.subscribe_message"


def templates(settings: Settings) -> dict[str, str]:
    """Our notification kind → the mini-program's template id (``wechat_subscribe_templates``)."""
    pairs = (item.split("=", 1) for item in settings.wechat_subscribe_templates.split(","))
    return {kind.strip(): tmpl.strip() for kind, tmpl in (p for p in pairs if len(p) == 2)}


class SubscriptionsIn(RequestModel):
    templates: list[SubscribeKind] = Field(max_length=len(SubscribeKind))


class TemplateOut(ResponseModel):
    kind: SubscribeKind
    template_id: str
    granted: bool  # an unused grant: the next notification of this kind is also sent


class SubscriptionsOut(ResponseModel):
    wechat_linked: bool
    templates: list[TemplateOut]


async def _state(session: AsyncSession, settings: Settings, user_id: uuid.UUID) -> SubscriptionsOut:
    rows = await session.execute(
        text("SELECT kind FROM wechat_subscriptions WHERE user_id = :u AND used_at IS NULL"),
        {"u": user_id},
    )
    granted = {row.kind for row in rows}
    linked = await session.scalar(
        text("SELECT wechat_openid IS NOT NULL FROM users WHERE id = :u"), {"u": user_id}
    )
    return SubscriptionsOut(
        wechat_linked=bool(linked),
        templates=[
            TemplateOut(
                kind=kind,
                template_id=templates(settings).get(kind.value, ""),
                granted=kind.value in granted,
            )
            for kind in SubscribeKind
            if kind.value in templates(settings)
        ],
    )


async def grants(
    session: AsyncSession, settings: Settings, principal: Principal
) -> SubscriptionsOut:
    return await _state(session, settings, principal.user_id)


async def set_grants(
    session: AsyncSession, settings: Settings, principal: Principal, data: SubscriptionsIn
) -> SubscriptionsOut:
    """The kinds the resident has just granted hold one unused grant each; the others none."""
    unknown = [k.value for k in data.templates if k.value not in templates(settings)]
    if unknown:
        raise validation_failed(
            [{"field": "templates", "message": f"no template for {', '.join(unknown)}"}]
        )
    linked = await session.scalar(
        text("SELECT wechat_openid IS NOT NULL FROM users WHERE id = :u"),
        {"u": principal.user_id},
    )
    if not linked and data.templates:
        raise conflict(
            "wechat_not_linked",
            "请先用微信登录小程序",
            "Sign in with WeChat first: messages go to your WeChat account",
        )
    kinds = sorted({k.value for k in data.templates})
    await session.execute(
        text(
            "DELETE FROM wechat_subscriptions WHERE user_id = :u AND used_at IS NULL "
            "AND NOT (kind = ANY(:kinds))"
        ),
        {"u": principal.user_id, "kinds": kinds},
    )
    for kind in kinds:
        await session.execute(
            text(
                "INSERT INTO wechat_subscriptions (id, user_id, kind, template_id) "
                "VALUES (:id, :u, :kind, :tmpl) "
                "ON CONFLICT (user_id, kind) WHERE used_at IS NULL DO NOTHING"
            ),
            {
                "id": uuid.uuid4(),
                "u": principal.user_id,
                "kind": kind,
                "tmpl": templates(settings)[kind],
            },
        )
    return await _state(session, settings, principal.user_id)


# One statement: use the grants (each under its row lock: a concurrent notification waits and
# then finds it used) and write one outbox row for each, the row's id drawn for the grant.
_PUSH = text(
    """
    WITH used AS (
        UPDATE wechat_subscriptions s
        SET used_at = now(), outbox_id = nextval(pg_get_serial_sequence('outbox', 'id'))
        FROM users u
        WHERE s.user_id = ANY(:users) AND s.kind = :kind AND s.used_at IS NULL
          AND u.id = s.user_id AND u.wechat_openid IS NOT NULL
        RETURNING s.id, s.template_id, s.outbox_id, u.wechat_openid
    )
    INSERT INTO outbox (id, topic, ordering_key, payload, channel)
    OVERRIDING SYSTEM VALUE
    SELECT used.outbox_id, :topic, 'wechat:' || used.id::text,
           jsonb_build_object(
               'grant_id', used.id, 'kind', CAST(:kind AS text),
               'message', jsonb_build_object(
                   'touser', used.wechat_openid, 'template_id', used.template_id,
                   'page', CAST(:page AS text), 'data', CAST(:data AS jsonb))),
           'wechat'
    FROM used
    RETURNING id
    """
)


def fields(**values: str) -> dict[str, dict[str, str]]:
    """Template data as WeChat wants it (``{"thing1": {"value": "…"}}``); ``thing`` values are
    at most 20 characters, ``phrase`` values 5, ``character_string`` values 32."""
    out = {}
    for key, value in values.items():
        limit = 5 if key.startswith("phrase") else 32 if key.startswith("character_string") else 20
        out[key] = {"value": value if len(value) <= limit else value[: limit - 1] + "…"}
    return out


# The mini-program page a message opens, per object.
PROPOSAL_PAGE = "pages/proposals/detail?id={id}"


async def push(
    session: AsyncSession,
    kind: SubscribeKind,
    user_ids: Sequence[uuid.UUID],
    *,
    page: str,
    data: dict[str, Any],
) -> int:
    """Also send a notification of ``kind`` to those of ``user_ids`` who granted it: one
    outbox row per grant used. Returns how many were queued."""
    if not user_ids:
        return 0
    rows = await session.execute(
        _PUSH,
        {
            "users": list(user_ids),
            "kind": kind.value,
            "topic": TOPIC,
            "page": page,
            "data": json.dumps(data, ensure_ascii=False),
        },
    )
    return len(rows.all())
