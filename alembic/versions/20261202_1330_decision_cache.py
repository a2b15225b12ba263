"""decision cache: area figures and hot spots, refreshed by the precompute job

Revision ID: 1330
Revises: 1320
Create Date: 2026-12-02 01:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "1330"
down_revision: str | Sequence[str] | None = "1320"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decision_cache",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("body", postgresql.JSONB(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("decision_cache")
