"""proposals: the text "similar suggestions" compares, with a GiST trigram index per community

Revision ID: 1601
Revises: 1600
Create Date: 2026-12-02 00:45:00+00:00

``GET /api/v1/proposals/similar`` compares a title being typed with the titles of a
community's suggestions. ``similar_text`` holds each title's comparable form, written by
``src.proposals.similarity.similar_text`` (normalised, synonyms read as one word, the rest as
character bigrams, space-separated) on submission; this migration fills it for the rows there
are. pg_trgm's ``similarity`` over it is the text score, and its GiST index (led by the
community, through btree_gist) finds the nearest titles (``<->``) without reading every
candidate. The index keeps 256-byte signatures (the default 12 bytes prune too little: a
title with no near match read most of a community's index, 40–70 ms on 50,000 rows). pg_trgm keeps CJK characters as word characters in a UTF-8 ctype; the tests check
it on every run (tests/proposals/test_similar.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from src.proposals.similarity import similar_text

revision: str = "1601"
down_revision: str | Sequence[str] | None = "1600"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE proposals ADD COLUMN similar_text text NOT NULL DEFAULT ''")
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, title FROM proposals")).all()
    if rows:
        bind.execute(
            sa.text("UPDATE proposals SET similar_text = :s WHERE id = :id"),
            [{"id": row.id, "s": similar_text(row.title)} for row in rows],
        )
    op.execute(
        "CREATE INDEX ix_proposals_similar ON proposals "
        "USING gist (community_id, similar_text gist_trgm_ops(siglen=256))"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_proposals_similar")
    op.execute("ALTER TABLE proposals DROP COLUMN similar_text")
