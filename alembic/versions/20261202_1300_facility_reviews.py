"""facility reviews (好差评): one per resident, facility and month

Revision ID: 1300
Revises: 1500
Create Date: 2026-12-02 00:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "1300"
down_revision: str | Sequence[str] | None = "1500"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "facility_reviews",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "facility_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("facilities.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id",
            postgresql.UUID(as_uuid=True),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("verdict", sa.String(4), nullable=False),
        sa.Column("reasons", postgresql.ARRAY(sa.String(32)), server_default="{}", nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("community_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("street_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("facility_id", "user_id", "month", name="uq_facility_reviews_monthly"),
        sa.CheckConstraint("verdict IN ('good', 'bad')", name="verdict_known"),
        sa.CheckConstraint(
            "reasons <@ ARRAY['opening_hours', 'staff_attitude', 'cleanliness', "
            "'accessibility', 'waiting_time', 'other']::varchar[]",
            name="reasons_known",
        ),
        sa.CheckConstraint("extract(day FROM month) = 1", name="month_first_day"),
    )
    op.create_index(
        "ix_facility_reviews_facility", "facility_reviews", ["facility_id", "updated_at", "id"]
    )
    op.create_index("ix_facility_reviews_street", "facility_reviews", ["street_id", "facility_id"])
    op.create_index(
        "ix_facility_reviews_community", "facility_reviews", ["community_id", "facility_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_facility_reviews_community", table_name="facility_reviews")
    op.drop_index("ix_facility_reviews_street", table_name="facility_reviews")
    op.drop_index("ix_facility_reviews_facility", table_name="facility_reviews")
    op.drop_table("facility_reviews")
