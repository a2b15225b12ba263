"""Similar suggestions while typing: GET /api/v1/proposals/similar over 200,000 suggestions.

Seeds the 200,000 suggestions of bench/proposals.py (four communities of 曹杨新村街道, so
50,000 per community), fills ``similar_text`` with src.proposals.similarity (what submission
writes) and the communities' distinct forms (``proposal_similar_forms``, migration 1700), then
measures a resident's similar-suggestion calls at 16 connections, next to the same run's
GET /health at 16 connections. Titles: a common need (thousands of near-identical
titles), a paraphrase, a place plus a need with a location, and text that matches nothing.

Goal (issue 21): p99 < 50 ms at 16 clients.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from bench import proposals
from bench.harness import Context
from src.proposals.similarity import similar_text

SERVER_ENV = proposals.SERVER_ENV
CONCURRENCY = 16
GOAL_MS = 50.0
TITLES = [
    ("common need", "加装电梯", None),
    ("paraphrase", "楼里装个电梯吧", None),
    ("place + need, located", "小区东门晚上太暗", (31.245, 121.415)),
    ("nothing alike", "宠物粪便到处都是", None),
]


async def fill_similar_text(ctx: Context) -> dict[str, Any]:
    started = time.monotonic()
    conn = await ctx.pg()
    try:
        titles = [r["title"] for r in await conn.fetch("SELECT DISTINCT title FROM proposals")]
        await conn.execute("CREATE TEMP TABLE st (title text PRIMARY KEY, s text)")
        await conn.copy_records_to_table(
            "st", records=[(t, similar_text(t)) for t in titles], columns=["title", "s"]
        )
        # What migration 1700 builds, built once after the fill: the similar-form index of
        # proposals, and the distinct forms with their GiST index (the UPDATE skips the
        # per-row trigger that keeps the forms).
        await conn.execute("DROP INDEX IF EXISTS ix_proposals_similar_form")
        await conn.execute("DROP INDEX IF EXISTS ix_proposal_similar_forms_near")
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(
            "UPDATE proposals p SET similar_text = st.s FROM st WHERE st.title = p.title"
        )
        await conn.execute("SET session_replication_role = origin")
        await conn.execute("DELETE FROM proposal_similar_forms")
        await conn.execute(
            "INSERT INTO proposal_similar_forms (community_id, similar_text) "
            "SELECT DISTINCT community_id, similar_text FROM proposals WHERE similar_text <> ''"
        )
        await conn.execute(
            "CREATE INDEX ix_proposals_similar_form ON proposals "
            "(community_id, similar_text, support_count DESC, id DESC) "
            "WHERE status NOT IN ('hidden', 'pending_review', 'merged')"
        )
        await conn.execute(
            "CREATE INDEX ix_proposal_similar_forms_near ON proposal_similar_forms "
            "USING gist (community_id, similar_text gist_trgm_ops(siglen=256))"
        )
        forms = await conn.fetchval("SELECT count(*) FROM proposal_similar_forms")
        await conn.execute("VACUUM ANALYZE proposal_similar_forms")
        await conn.execute("VACUUM ANALYZE proposals")
    finally:
        await conn.close()
    return {
        "distinct_titles": len(titles),
        "forms": forms,
        "fill_s": round(time.monotonic() - started, 1),
    }


async def run(ctx: Context) -> None:
    seeded = await proposals.seed(ctx)
    ctx.note("seed (COPY)", **{k: v for k, v in seeded.items() if k != "street_id"})
    ctx.note("similar_text", **await fill_similar_text(ctx))
    await ctx.restart_server()
    base = await ctx.load("GET /health c16", "GET", "/health", concurrency=CONCURRENCY)
    ctx.record("GET /health c16 (baseline)", base)
    resident = ctx.auth_headers(await ctx.token(proposals.RESIDENT))
    async with ctx.http(headers=resident) as client:
        for label, title, point in TITLES:
            path = f"/api/v1/proposals/similar?title={quote(title)}"
            if point is not None:
                path += f"&lat={point[0]}&lng={point[1]}"
            sample = await client.get(path)
            sample.raise_for_status()
            found = len(sample.json()["items"])
            result = await ctx.load(label, "GET", path, headers=resident, concurrency=CONCURRENCY)
            met = "met" if result.p99_ms < GOAL_MS else "MISSED"
            ctx.record(
                f"similar: {label} ({found} found) c16",
                result,
                base,
                goal=f"p99<{GOAL_MS:.0f}ms {met}",
            )
