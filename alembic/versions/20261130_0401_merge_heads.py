"""merge the two heads 0050 (proposal search) and 0400 (administration); no schema change

Both branches start from 0800 and touch different tables, so either order is correct.

Revision ID: 0401
Revises: 0050, 0400
Create Date: 2026-11-30 02:58:00+00:00
"""

from collections.abc import Sequence

revision: str = '0401'
down_revision: str | Sequence[str] | None = ('0050', '0400')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
