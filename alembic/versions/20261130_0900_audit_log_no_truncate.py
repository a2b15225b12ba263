"""security: TRUNCATE of the audit log is refused too (the row trigger of 0001 only sees
UPDATE and DELETE; TRUNCATE fires no row triggers)

Revision ID: 0900
Revises: 0601
Create Date: 2026-11-30 04:00:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0900'
down_revision: str | Sequence[str] | None = '0601'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
