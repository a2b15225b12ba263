"""City portal: outbox leases, inbound webhook events and nonces.

Revision ID: 0500
Revises: 0700
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = '0500'
down_revision = '0700'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A worker leases the rows it claims: another worker may take them over once the lease
    # ends (the first one died), and only the lease holder may record the outcome.
    op.add_column('outbox', sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
    op.add_column('outbox', sa.Column('claim_token', postgresql.UUID(as_uuid=True), nullable=True))
    # What the claim query scans: due rows, and the undelivered rows of one ordering key.
    op.create_index(
        'ix_outbox_due', 'outbox', ['next_attempt_at', 'id'],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        'ix_outbox_key_open', 'outbox', ['ordering_key', 'id'],
        postgresql_where=sa.text("status IN ('pending', 'failed')"),
    )
    op.create_index('ix_outbox_status_id', 'outbox', ['status', 'id'])
    op.create_check_constraint(
        'ck_outbox_status', 'outbox', "status IN ('pending', 'delivered', 'failed')"
    )

    op.create_table(
        'portal_inbound_events',
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('type', sa.String(length=64), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('outcome', sa.String(length=24), nullable=False),
        sa.Column('detail', sa.String(length=300), nullable=True),
        sa.Column('proposal_id', postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint('event_id', name=op.f('pk_portal_inbound_events')),
    )
    op.create_index(
        op.f('ix_portal_inbound_events_received_at'), 'portal_inbound_events', ['received_at']
    )
    op.create_table(
        'portal_webhook_nonces',
        sa.Column('nonce', sa.String(length=64), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('nonce', name=op.f('pk_portal_webhook_nonces')),
    )
    op.create_index(
        op.f('ix_portal_webhook_nonces_seen_at'), 'portal_webhook_nonces', ['seen_at']
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_portal_webhook_nonces_seen_at'), table_name='portal_webhook_nonces')
    op.drop_table('portal_webhook_nonces')
    op.drop_index(op.f('ix_portal_inbound_events_received_at'), table_name='portal_inbound_events')
    op.drop_table('portal_inbound_events')
    op.drop_constraint('ck_outbox_status', 'outbox', type_='check')
    op.drop_index('ix_outbox_status_id', table_name='outbox')
    op.drop_index('ix_outbox_key_open', table_name='outbox')
    op.drop_index('ix_outbox_due', table_name='outbox')
    op.drop_column('outbox', 'claim_token')
    op.drop_column('outbox', 'claimed_until')
