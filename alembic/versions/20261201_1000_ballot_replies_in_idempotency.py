"""votes: the ballot's sealed Idempotency-Key reply lives in idempotency_keys (one mechanism,
src/core/idempotency.py); the voter row keeps only who voted

Revision ID: 1000
Revises: 0900
Create Date: 2026-12-01 22:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "1000"
down_revision: str | Sequence[str] | None = "0900"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_column("ballot_voters", "replay_sealed")
    op.drop_column("ballot_voters", "replay_tag")


def downgrade() -> None:
    op.add_column("ballot_voters", sa.Column("replay_tag", sa.LargeBinary(), nullable=True))
    op.add_column("ballot_voters", sa.Column("replay_sealed", sa.LargeBinary(), nullable=True))
