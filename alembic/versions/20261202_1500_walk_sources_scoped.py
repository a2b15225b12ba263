"""network imports scoped by source: nodes keyed by (source, OSM id), facilities retired

Revision ID: 1500
Revises: 1200
Create Date: 2026-12-02 00:20:00+00:00

Walk nodes were keyed by their OSM id alone and inserted with ``ON CONFLICT DO NOTHING``, so a
second source overlapping the first stored none of the shared nodes (its edges then pointed at
rows of another source, and a re-import of that source left them dangling). Each source now
keeps its own nodes; the graph build merges equal OSM ids of several sources into one node.

A facility that vanished from its source is retired (``retired_at``), not deleted: its id, and
whatever refers to it, stays; a later import that finds it again brings it back. ``osm_ref``
is the OpenStreetMap object (``n123``/``w123``) a network import took the facility from, so
the same POI in two overlapping extracts is served once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1500"
down_revision: str | Sequence[str] | None = "1200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("pk_walk_nodes", "walk_nodes", type_="primary")
    op.create_primary_key("pk_walk_nodes", "walk_nodes", ["source", "id"])
    op.add_column("facilities", sa.Column("retired_at", sa.DateTime(timezone=True)))
    op.add_column("facilities", sa.Column("osm_ref", sa.String(length=32)))


def downgrade() -> None:
    op.drop_column("facilities", "osm_ref")
    op.drop_column("facilities", "retired_at")
    # Back to one row per OSM id: the copies of other sources go (as the old import did).
    op.execute(
        "DELETE FROM walk_nodes a USING walk_nodes b "
        "WHERE a.id = b.id AND a.source > b.source"
    )
    op.drop_constraint("pk_walk_nodes", "walk_nodes", type_="primary")
    op.create_primary_key("pk_walk_nodes", "walk_nodes", ["id"])
