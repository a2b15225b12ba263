"""project list indexes: both keys descending; open projects of a street in list order

Revision ID: 0801
Revises: 0800
Create Date: 2026-11-30 02:35:00+00:00

0800 has landed, so its index changes come here. The list indexes of 0100 had ``id``
ascending while lists read ``year DESC, id DESC``: every page sorted a whole year of a
street. Overdue-first street lists read the open projects of a street in that order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0801"
down_revision: str | Sequence[str] | None = "0800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status IN ('planned', 'designing', 'building')")
LISTS = (("ix_projects_community_year", "community_id"), ("ix_projects_street_year", "street_id"))


def upgrade() -> None:
    for name, column in LISTS:
        op.drop_index(name, table_name="projects")
        op.create_index(
            name, "projects", [column, sa.literal_column("year DESC"), sa.literal_column("id DESC")]
        )
    op.drop_index("ix_projects_street_open_end", table_name="projects", postgresql_where=OPEN)
    op.create_index(
        "ix_projects_street_open_year",
        "projects",
        ["street_id", sa.literal_column("year DESC"), sa.literal_column("id DESC")],
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_projects_street_open_year", table_name="projects", postgresql_where=OPEN)
    op.create_index(
        "ix_projects_street_open_end", "projects", ["street_id", "planned_end"], postgresql_where=OPEN
    )
    for name, column in LISTS:
        op.drop_index(name, table_name="projects")
        op.create_index(name, "projects", [column, sa.literal_column("year DESC"), "id"])
