"""project progress: percent, dated updates with photos, date checks; category checks

Revision ID: 0800
Revises: 0100
Create Date: 2026-11-30 02:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0800"
down_revision: str | Sequence[str] | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The five goals of the life circle; suggestion categories are grouped by them.
GROUPS = ("livable", "work", "leisure", "learning", "care")


def upgrade() -> None:
    op.add_column(
        "projects",
        sa.Column("progress_percent", sa.SmallInteger(), server_default="0", nullable=False),
    )
    # Projects already marked done were finished: they are at 100 %.
    op.execute("UPDATE projects SET progress_percent = 100 WHERE status = 'done'")
    op.create_check_constraint(
        op.f("ck_projects_progress_percent_range"), "projects", "progress_percent BETWEEN 0 AND 100"
    )
    op.create_check_constraint(
        op.f("ck_projects_year_range"), "projects", "year BETWEEN 2000 AND 2100"
    )
    op.create_check_constraint(
        op.f("ck_projects_planned_dates_order"),
        "projects",
        "planned_end IS NULL OR planned_start IS NULL OR planned_end >= planned_start",
    )
    op.create_check_constraint(
        op.f("ck_projects_actual_dates_order"),
        "projects",
        "actual_end IS NULL OR actual_start IS NULL OR actual_end >= actual_start",
    )
    op.create_index(
        "ix_projects_street_open_end",
        "projects",
        ["street_id", "planned_end"],
        unique=False,
        postgresql_where=sa.text("status IN ('planned', 'designing', 'building')"),
    )
    op.create_table(
        "project_progress",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("percent", sa.SmallInteger(), nullable=False),
        sa.Column("author_id", sa.UUID(), nullable=False),
        sa.Column("author_role", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "percent BETWEEN 0 AND 100", name=op.f("ck_project_progress_percent_range")
        ),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_project_progress_seq_positive")),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_project_progress_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_progress_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_progress")),
        sa.UniqueConstraint("project_id", "seq", name="uq_project_progress_project_seq"),
    )
    op.create_table(
        "project_progress_photos",
        sa.Column("progress_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("upload_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["progress_id"],
            ["project_progress.id"],
            name=op.f("fk_project_progress_photos_progress_id_project_progress"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["upload_id"], ["uploads.id"], name=op.f("fk_project_progress_photos_upload_id_uploads")
        ),
        sa.PrimaryKeyConstraint("progress_id", "position", name=op.f("pk_project_progress_photos")),
        sa.UniqueConstraint("upload_id", name=op.f("uq_project_progress_photos_upload_id")),
    )
    # Categories managed through the API: a code clients can put in a URL, a known group.
    op.create_check_constraint(
        op.f("ck_proposal_categories_code_format"),
        "proposal_categories",
        "code ~ '^[a-z][a-z0-9_]{1,31}$'",
    )
    op.create_check_constraint(
        op.f("ck_proposal_categories_group_known"),
        "proposal_categories",
        '"group" IN (' + ", ".join(f"'{g}'" for g in GROUPS) + ")",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_proposal_categories_group_known"), "proposal_categories", type_="check"
    )
    op.drop_constraint(
        op.f("ck_proposal_categories_code_format"), "proposal_categories", type_="check"
    )
    op.drop_table("project_progress_photos")
    op.drop_table("project_progress")
    op.drop_index(
        "ix_projects_street_open_end",
        table_name="projects",
        postgresql_where=sa.text("status IN ('planned', 'designing', 'building')"),
    )
    for name in (
        "ck_projects_actual_dates_order",
        "ck_projects_planned_dates_order",
        "ck_projects_year_range",
        "ck_projects_progress_percent_range",
    ):
        op.drop_constraint(op.f(name), "projects", type_="check")
    op.drop_column("projects", "progress_percent")
