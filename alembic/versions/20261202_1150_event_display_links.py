"""votes: display links for the venue's projector, stored hashed

Revision ID: 1150
Revises: 1010
Create Date: 2026-12-02 00:20:00+00:00

A display link is a bearer secret that reads one meeting's public view (the big screen). Only
its SHA-256 is stored; the link itself is shown once, to the committee member who made it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1150"
down_revision: str | Sequence[str] | None = "1010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_display_links",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            "octet_length(token_hash) = 32", name=op.f("ck_event_display_links_token_hash_sha256")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_display_links_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_event_display_links_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["users.id"], name=op.f("fk_event_display_links_revoked_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_display_links")),
    )
    op.create_index(
        "ux_event_display_links_token_hash", "event_display_links", ["token_hash"], unique=True
    )
    op.create_index("ix_event_display_links_event", "event_display_links", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_event_display_links_event", table_name="event_display_links")
    op.drop_index("ux_event_display_links_token_hash", table_name="event_display_links")
    op.drop_table("event_display_links")
