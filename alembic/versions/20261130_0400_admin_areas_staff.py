"""administration: when an area was retired; indexes for staff and resident lists

Revision ID: 0400
Revises: 0050
Create Date: 2026-11-30 02:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0400'
down_revision: str | Sequence[str] | None = '0050'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('areas', sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True))
    # Staff of an area by role (the staff list, the last-admin check).
    op.create_index('ix_role_grants_area_id_role', 'role_grants', ['area_id', 'role'])
    # Residents of a community in id order (keyset pages of the residents list).
    op.create_index('ix_users_home_community_id_id', 'users', ['home_community_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_users_home_community_id_id', table_name='users')
    op.drop_index('ix_role_grants_area_id_role', table_name='role_grants')
    op.drop_column('areas', 'retired_at')
