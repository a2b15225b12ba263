"""exports: a record of every feedback export

Revision ID: 0700
Revises: 0400
Create Date: 2026-11-30 02:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0700'
# Written to join main's two heads (0050, 0400); since re-chained linearly: 0050 → 0400 → 0700.
down_revision: str | Sequence[str] | None = '0400'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('exports',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('actor_id', sa.UUID(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('area_id', sa.UUID(), nullable=False),
    sa.Column('filters', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('started', 'completed', 'failed', name='export_status'), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('row_count IS NULL OR row_count >= 0', name=op.f('ck_exports_row_count_non_negative')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_exports_actor_id_users')),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_exports_area_id_areas')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exports'))
    )
    op.create_index('ix_exports_actor_id', 'exports', ['actor_id'], unique=False)
    op.create_index('ix_exports_area_newest', 'exports', ['area_id', sa.text('created_at DESC'), sa.text('id DESC')], unique=False)
    op.create_index('ix_exports_newest', 'exports', [sa.text('created_at DESC'), sa.text('id DESC')], unique=False)


def downgrade() -> None:
    op.drop_index('ix_exports_newest', table_name='exports')
    op.drop_index('ix_exports_area_newest', table_name='exports')
    op.drop_index('ix_exports_actor_id', table_name='exports')
    op.drop_table('exports')
    sa.Enum(name='export_status').drop(op.get_bind(), checkfirst=True)
