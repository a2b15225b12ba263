"""proposal search: bigrams in a stored column, so the GIN recheck does not recompute them

Revision ID: 0050
Revises: 0801
Create Date: 2026-11-30 02:30:00+00:00

The GIN ``@>`` operator on arrays always rechecks its candidates. With an expression index the
recheck re-runs ``lc_bigrams(title || ' ' || body)`` on every candidate row: a search for a
common word (电梯) spent most of its time there. A stored generated column holds the bigrams
once; the index and the recheck read it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0050"
down_revision: str | Sequence[str] | None = "0801"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE proposals ADD COLUMN search_bigrams text[] "
        "GENERATED ALWAYS AS (lc_bigrams(title || ' ' || body)) STORED"
    )
    op.execute("DROP INDEX IF EXISTS ix_proposals_search")
    op.execute("CREATE INDEX ix_proposals_search ON proposals USING gin (search_bigrams)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_proposals_search")
    op.execute("ALTER TABLE proposals DROP COLUMN search_bigrams")
    op.execute(
        "CREATE INDEX ix_proposals_search ON proposals "
        "USING gin (lc_bigrams(title || ' ' || body))"
    )
