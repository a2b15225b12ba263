"""proposals.reference: the number residents read out on the phone (310107012-2026-000123)

Revision ID: 1400
Revises: 1340
Create Date: 2026-12-02

A suggestion's reference is its street's code, the year it was submitted (Shanghai time) and
its place in that street's year, counted without gaps: ``lc_proposal_reference`` is the one
formatting rule (src/proposals/references.py explains it). A BEFORE INSERT trigger takes the
next number from ``proposal_reference_counters`` in the inserting transaction
(``INSERT … ON CONFLICT DO UPDATE SET n = n + 1``): the counter row's lock serialises the
submissions of one street and year only, and a rolled-back submission returns its number.
Every insert gets one, whichever code path or COPY writes it. Existing suggestions are
numbered in creation order (created_at, id) and the counters start after them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "1400"
down_revision: str | Sequence[str] | None = "1340"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFERENCE_FUNCTION = """
CREATE FUNCTION lc_proposal_reference(street_code text, year integer, n integer)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT street_code || '-' || year::text || '-'
           || lpad(n::text, greatest(6, length(n::text)), '0')
$$
"""

# The year of a suggestion: Shanghai's calendar, as residents and clerks count it.
YEAR = "extract(year FROM {at} AT TIME ZONE 'Asia/Shanghai')::integer"

ASSIGN_FUNCTION = f"""
CREATE FUNCTION lc_proposal_assign_reference() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    the_year integer := {YEAR.format(at="coalesce(NEW.created_at, now())")};
    seq integer;
BEGIN
    INSERT INTO proposal_reference_counters AS c (street_id, year, n)
    VALUES (NEW.street_id, the_year, 1)
    ON CONFLICT (street_id, year) DO UPDATE SET n = c.n + 1
    RETURNING c.n INTO seq;
    NEW.reference := lc_proposal_reference(
        (SELECT a.code FROM areas a WHERE a.id = NEW.street_id), the_year, seq
    );
    RETURN NEW;
END
$$
"""

BACKFILL = f"""
WITH numbered AS (
    SELECT id, street_id, year,
           row_number() OVER (PARTITION BY street_id, year ORDER BY created_at, id)::integer AS n
    FROM (SELECT id, street_id, created_at, {YEAR.format(at="created_at")} AS year
          FROM proposals) AS p
), counted AS (
    INSERT INTO proposal_reference_counters (street_id, year, n)
    SELECT street_id, year, max(n) FROM numbered GROUP BY street_id, year
)
UPDATE proposals SET reference = lc_proposal_reference(a.code, numbered.year, numbered.n)
FROM numbered JOIN areas a ON a.id = numbered.street_id
WHERE proposals.id = numbered.id
"""


def upgrade() -> None:
    op.create_table(
        "proposal_reference_counters",
        sa.Column("street_id", UUID(as_uuid=True), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["street_id"],
            ["areas.id"],
            name=op.f("fk_proposal_reference_counters_street_id_areas"),
        ),
        sa.PrimaryKeyConstraint("street_id", "year", name=op.f("pk_proposal_reference_counters")),
        sa.CheckConstraint("n >= 1", name=op.f("ck_proposal_reference_counters_n_positive")),
    )
    op.add_column("proposals", sa.Column("reference", sa.String(length=64), nullable=True))
    op.execute(REFERENCE_FUNCTION)
    op.execute(BACKFILL)
    op.alter_column("proposals", "reference", nullable=False)
    op.create_unique_constraint(op.f("uq_proposals_reference"), "proposals", ["reference"])
    # ?q= finds a suggestion by its reference, whatever the case it is typed in.
    op.create_index("ix_proposals_reference_upper", "proposals", [sa.text("upper(reference)")])
    op.execute(ASSIGN_FUNCTION)
    op.execute(
        "CREATE TRIGGER proposals_assign_reference BEFORE INSERT ON proposals "
        "FOR EACH ROW EXECUTE FUNCTION lc_proposal_assign_reference()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER proposals_assign_reference ON proposals")
    op.execute("DROP FUNCTION lc_proposal_assign_reference()")
    op.drop_index("ix_proposals_reference_upper", table_name="proposals")
    op.drop_constraint(op.f("uq_proposals_reference"), "proposals", type_="unique")
    op.drop_column("proposals", "reference")
    op.execute("DROP FUNCTION lc_proposal_reference(text, integer, integer)")
    op.drop_table("proposal_reference_counters")
