"""monthly street reports and their reminders

Revision ID: 1310
Revises: 1300
Create Date: 2026-12-02 00:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "1310"
down_revision: str | Sequence[str] | None = "1300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = postgresql.UUID(as_uuid=True)
NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "monthly_reports",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("street_id", UUID, sa.ForeignKey("areas.id"), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("progress", sa.Text(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("filed_by", UUID, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_by", UUID, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.UniqueConstraint("street_id", "period", name="uq_monthly_reports_street_period"),
        sa.CheckConstraint("extract(day FROM period) = 1", name="period_first_day"),
    )
    op.create_table(
        "report_reminders",
        sa.Column("street_id", UUID, sa.ForeignKey("areas.id"), primary_key=True),
        sa.Column("period", sa.Date(), primary_key=True),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_reminders")
    op.drop_table("monthly_reports")
