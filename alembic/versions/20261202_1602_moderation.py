"""moderation: reports, the moderation queue, and the pending_review status

Revision ID: 1602
Revises: 1601
Create Date: 2026-12-02 01:00:00+00:00

A suggestion whose text holds a word of the sensitive-word list set to "hold" is accepted
as ``pending_review`` (seen by its author and the area's staff only) with an open
``moderation_items`` row; residents' reports (``proposal_reports``, one per resident per
suggestion) open or join the same row. Committees and streets decide hide / keep.

Downgrade: PostgreSQL cannot drop an enum value, so the type is rebuilt without it (held
suggestions become ``hidden``).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1602"
down_revision: str | Sequence[str] | None = "1601"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES_BEFORE = (
    "'submitted', 'under_review', 'accepted', 'rejected', 'merged', 'adopted', 'done', 'hidden'"
)


def upgrade() -> None:
    op.execute("ALTER TYPE proposal_status ADD VALUE IF NOT EXISTS 'pending_review'")
    op.execute(
        """
        CREATE TABLE proposal_reports (
            id uuid PRIMARY KEY,
            proposal_id uuid NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
            reporter_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            reason varchar(16) NOT NULL,
            note varchar(500),
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        "ALTER TABLE proposal_reports RENAME CONSTRAINT proposal_reports_pkey "
        "TO pk_proposal_reports"
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_proposal_reports_reporter "
        "ON proposal_reports (proposal_id, reporter_id)"
    )
    op.execute(
        """
        CREATE TABLE moderation_items (
            id uuid PRIMARY KEY,
            proposal_id uuid NOT NULL REFERENCES proposals (id) ON DELETE CASCADE,
            community_id uuid NOT NULL REFERENCES areas (id),
            street_id uuid NOT NULL REFERENCES areas (id),
            source varchar(16) NOT NULL,
            words text[] NOT NULL DEFAULT '{}',
            reports integer NOT NULL DEFAULT 0,
            status varchar(8) NOT NULL DEFAULT 'open',
            created_at timestamptz NOT NULL DEFAULT now(),
            decided_at timestamptz,
            decided_by uuid REFERENCES users (id),
            decision_reason varchar(500),
            CONSTRAINT ck_moderation_items_status_known
                CHECK (status IN ('open', 'hidden', 'kept')),
            CONSTRAINT ck_moderation_items_source_known
                CHECK (source IN ('sensitive_words', 'report'))
        )
        """
    )
    op.execute(
        "ALTER TABLE moderation_items RENAME CONSTRAINT moderation_items_pkey "
        "TO pk_moderation_items"
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_moderation_items_open ON moderation_items (proposal_id) "
        "WHERE status = 'open'"
    )
    op.execute(
        "CREATE INDEX ix_moderation_items_community "
        "ON moderation_items (community_id, status, created_at, id)"
    )
    op.execute(
        "CREATE INDEX ix_moderation_items_street "
        "ON moderation_items (street_id, status, created_at, id)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE moderation_items")
    op.execute("DROP TABLE proposal_reports")
    op.execute("UPDATE proposals SET status = 'hidden' WHERE status = 'pending_review'")
    op.execute(
        "UPDATE proposal_transitions SET from_status = 'hidden' "
        "WHERE from_status = 'pending_review'"
    )
    op.execute(
        "UPDATE proposal_transitions SET to_status = 'hidden' WHERE to_status = 'pending_review'"
    )
    # The one constraint that compares the type (0100's merged_has_target) is rebuilt with it.
    op.execute("ALTER TABLE proposals DROP CONSTRAINT ck_proposals_merged_has_target")
    op.execute("ALTER TYPE proposal_status RENAME TO proposal_status_old")
    op.execute(f"CREATE TYPE proposal_status AS ENUM ({STATUSES_BEFORE})")
    for table, column in (
        ("proposals", "status"),
        ("proposal_transitions", "from_status"),
        ("proposal_transitions", "to_status"),
    ):
        op.execute(
            f"ALTER TABLE {table} ALTER COLUMN {column} TYPE proposal_status "
            f"USING {column}::text::proposal_status"
        )
    op.execute("DROP TYPE proposal_status_old")
    op.execute(
        "ALTER TABLE proposals ADD CONSTRAINT ck_proposals_merged_has_target "
        "CHECK (status <> 'merged' OR merged_into IS NOT NULL)"
    )
