"""``lifecircle proposals-reindex-similar``: rewrite ``proposals.similar_text`` after the word
list of similar suggestions (src/proposals/data/similar_words.txt) changed, and drop the
forms (``proposal_similar_forms``) no suggestion has any more."""

from __future__ import annotations

import argparse
import asyncio

from src.cli import command
from src.config import Settings
from src.core.db import create_engine
from src.proposals.similarity import similar_text

BATCH = 5000


async def reindex(database_url: str) -> int:
    """Rewrite every row whose stored form differs from what the list says now; the count."""
    engine = create_engine(database_url, pool_size=1)
    changed = 0
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            after = None
            while True:
                rows = await driver.fetch(
                    "SELECT id, title, similar_text FROM proposals "
                    "WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
                    after,
                    BATCH,
                )
                if not rows:
                    break
                updates = [
                    (r["id"], new)
                    for r in rows
                    if (new := similar_text(r["title"])) != r["similar_text"]
                ]
                if updates:
                    await driver.executemany(
                        "UPDATE proposals SET similar_text = $2 WHERE id = $1", updates
                    )
                changed += len(updates)
                after = rows[-1]["id"]
            # The rewritten rows added their new forms (trigger of migration 1700); the forms
            # no suggestion has any more go.
            await driver.execute(
                "DELETE FROM proposal_similar_forms f WHERE NOT EXISTS ("
                "SELECT 1 FROM proposals p "
                "WHERE p.community_id = f.community_id AND p.similar_text = f.similar_text)"
            )
            return changed
    finally:
        await engine.dispose()


@command("proposals-reindex-similar", "rewrite the similar-suggestion text of every suggestion")
def reindex_similar(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.database_url:
        print("LIFECIRCLE_DATABASE_URL is required")
        return 2
    changed = asyncio.run(reindex(settings.database_url))
    print(f"✓ {changed} suggestions rewritten")
    return 0
