"""areas.reference_prefix: a street's short letters for its reference numbers (CY-2026-000123)

Revision ID: 1410
Revises: 1400
Create Date: 2026-12-02

A street may carry a ``reference_prefix`` (2–6 of A–Z and 0–9, unique; districts and
communities carry none). ``lc_proposal_assign_reference`` now heads a new reference with the
street's prefix when it has one and its code otherwise: ``coalesce(reference_prefix, code)`` is
the one rule (src/proposals/references.py explains it). Only new suggestions see it: the
references already filed keep their numbers, and the counters go on as they were.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1410"
down_revision: str | Sequence[str] | None = "1400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The year of a suggestion: Shanghai's calendar, as residents and clerks count it (as in 1400).
YEAR = "extract(year FROM coalesce(NEW.created_at, now()) AT TIME ZONE 'Asia/Shanghai')::integer"

ASSIGN_FUNCTION = """
CREATE OR REPLACE FUNCTION lc_proposal_assign_reference() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    the_year integer := {year};
    seq integer;
BEGIN
    INSERT INTO proposal_reference_counters AS c (street_id, year, n)
    VALUES (NEW.street_id, the_year, 1)
    ON CONFLICT (street_id, year) DO UPDATE SET n = c.n + 1
    RETURNING c.n INTO seq;
    NEW.reference := lc_proposal_reference(
        (SELECT {head} FROM areas a WHERE a.id = NEW.street_id), the_year, seq
    );
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.add_column("areas", sa.Column("reference_prefix", sa.String(length=6), nullable=True))
    op.create_check_constraint(
        op.f("ck_areas_reference_prefix_of_a_street"),
        "areas",
        "reference_prefix IS NULL OR (level = 'street' AND reference_prefix ~ '^[A-Z0-9]{2,6}$')",
    )
    op.create_unique_constraint(op.f("uq_areas_reference_prefix"), "areas", ["reference_prefix"])
    op.execute(ASSIGN_FUNCTION.format(year=YEAR, head="coalesce(a.reference_prefix, a.code)"))


def downgrade() -> None:
    op.execute(ASSIGN_FUNCTION.format(year=YEAR, head="a.code"))
    op.drop_constraint(op.f("uq_areas_reference_prefix"), "areas", type_="unique")
    op.drop_constraint(op.f("ck_areas_reference_prefix_of_a_street"), "areas", type_="check")
    op.drop_column("areas", "reference_prefix")
