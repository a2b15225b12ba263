"""votes: sealed ballots wait for a crowd (ballot secrecy from database readers)

Revision ID: 1100
Revises: 1603
Create Date: 2026-12-02 00:30:00+00:00

Ballots are written in batches (src/votes/batcher.py), voters and ballots by separate
statements, ballots in shuffled order. A batch with fewer than ``secrecy.CROWD`` ballots of a
meeting keeps them here, sealed with a key only the server secret gives, until the crowd is
reached (or the meeting closes): a row of this table shares its transaction id with its voter
but tells nothing of the choice. No timestamps, random ids.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "1100"
down_revision: str | Sequence[str] | None = "1603"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sealed_ballots",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "event_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("events.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_sealed_ballots_event", "sealed_ballots", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_sealed_ballots_event", table_name="sealed_ballots")
    op.drop_table("sealed_ballots")
