"""All SQL of moderation."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.db import driver_connection
from src.models.moderation import ItemSource, ModerationItem
from src.models.proposal import Proposal


async def open_item(
    session: AsyncSession,
    proposal: Proposal,
    *,
    source: ItemSource,
    words: tuple[str, ...] = (),
    reports: int = 0,
) -> uuid.UUID:
    """Open the suggestion's queue item, or add to the open one (one open item per
    suggestion: the partial unique index decides, also under concurrent reports)."""
    item_id = await session.scalar(
        text(
            "INSERT INTO moderation_items "
            "(id, proposal_id, community_id, street_id, source, words, reports) "
            "VALUES (gen_random_uuid(), :pid, :community, :street, :source, :words, :reports) "
            "ON CONFLICT (proposal_id) WHERE status = 'open' DO UPDATE SET "
            "reports = moderation_items.reports + EXCLUDED.reports, "
            "words = ARRAY(SELECT DISTINCT unnest(moderation_items.words || EXCLUDED.words)) "
            "RETURNING id"
        ),
        {
            "pid": proposal.id,
            "community": proposal.community_id,
            "street": proposal.street_id,
            "source": source.value,
            "words": list(words),
            "reports": reports,
        },
    )
    assert item_id is not None
    return uuid.UUID(str(item_id))


async def add_report(
    session: AsyncSession,
    proposal_id: uuid.UUID,
    reporter_id: uuid.UUID,
    reason: str,
    note: str | None,
) -> Any | None:
    """The new report, or None when this resident reported the suggestion before."""
    row = (
        await session.execute(
            text(
                "INSERT INTO proposal_reports (id, proposal_id, reporter_id, reason, note) "
                "VALUES (gen_random_uuid(), :pid, :uid, :reason, :note) "
                "ON CONFLICT (proposal_id, reporter_id) DO NOTHING "
                "RETURNING id, proposal_id, reason, note, created_at"
            ),
            {"pid": proposal_id, "uid": reporter_id, "reason": reason, "note": note},
        )
    ).first()
    return row


async def get_item(
    session: AsyncSession, item_id: uuid.UUID, *, lock: bool = False
) -> ModerationItem | None:
    query = select(ModerationItem).where(ModerationItem.id == item_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(query)).first()


_QUEUE_SQL = """
SELECT i.id, i.proposal_id, i.community_id, i.source, i.words, i.reports, i.status,
       i.created_at, i.decided_at, i.decision_reason,
       p.title, p.body, p.status::text AS proposal_status, p.author_id,
       coalesce((SELECT jsonb_object_agg(reason, n) FROM (
           SELECT r.reason, count(*) AS n FROM proposal_reports r
           WHERE r.proposal_id = i.proposal_id AND r.created_at > coalesce((
               -- since the proposal's previous item was decided, not since this one was
               -- created: reports committed together with its creation started earlier
               SELECT max(j.decided_at) FROM moderation_items j
               WHERE j.proposal_id = i.proposal_id AND j.created_at < i.created_at),
               '-infinity'::timestamptz)
           GROUP BY r.reason) AS c), '{{}}'::jsonb)::text AS reasons
FROM moderation_items i JOIN proposals p ON p.id = i.proposal_id
WHERE {where}
"""


async def queue_page(
    session: AsyncSession,
    *,
    area_id: uuid.UUID,
    street: bool,
    status: str,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Any]:
    """Oldest first (a queue is worked in order); ``limit + 1`` rows."""
    conn = await driver_connection(session)
    args: list[Any] = [area_id, status, limit + 1]
    after_sql = ""
    if after is not None:
        after_sql = "AND (i.created_at, i.id) > ($4::timestamptz, $5::uuid)"
        args += after
    scope = "street" if street else "community"
    where = f"i.{scope}_id = $1 AND i.status = $2 {after_sql} ORDER BY i.created_at, i.id LIMIT $3"
    return list(await conn.fetch(_QUEUE_SQL.format(where=where), *args))


async def item_row(session: AsyncSession, item_id: uuid.UUID) -> Any:
    """One item as the queue shows it."""
    conn = await driver_connection(session)
    return await conn.fetchrow(_QUEUE_SQL.format(where="i.id = $1"), item_id)
