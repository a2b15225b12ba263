"""WeChat subscribe messages: residents' one-shot grants, and an outbox channel for them

Revision ID: 1603
Revises: 1602
Create Date: 2026-12-02 01:20:00+00:00

A WeChat subscribe-message grant (一次性订阅) allows one message. ``wechat_subscriptions``
holds a resident's grants: at most one unused grant per kind (partial unique index); sending
a notification uses the grant (``used_at``) and writes one outbox row for it in the same
transaction (``outbox_id``, unique), so a grant gives one message and a message is never lost.

``outbox.channel`` says who delivers a row: ``portal`` (the city-portal worker, every row until
now) or ``wechat`` (src/identity/subscribe_worker.py). The portal worker claims its channel only.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1603"
down_revision: str | Sequence[str] | None = "1602"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE outbox ADD COLUMN channel varchar(16) NOT NULL DEFAULT 'portal'")
    op.execute(
        "CREATE INDEX ix_outbox_wechat_due ON outbox (next_attempt_at, id) "
        "WHERE channel = 'wechat' AND status = 'pending'"
    )
    op.execute(
        """
        CREATE TABLE wechat_subscriptions (
            id uuid CONSTRAINT pk_wechat_subscriptions PRIMARY KEY,
            user_id uuid NOT NULL CONSTRAINT fk_wechat_subscriptions_user_id_users
                REFERENCES users (id) ON DELETE CASCADE,
            kind varchar(32) NOT NULL,
            template_id varchar(128) NOT NULL,
            granted_at timestamptz NOT NULL DEFAULT now(),
            used_at timestamptz,
            outbox_id bigint CONSTRAINT uq_wechat_subscriptions_outbox_id UNIQUE
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_wechat_subscriptions_unused ON wechat_subscriptions "
        "(user_id, kind) WHERE used_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP TABLE wechat_subscriptions")
    op.execute("DROP INDEX ix_outbox_wechat_due")
    op.execute("ALTER TABLE outbox DROP COLUMN channel")
