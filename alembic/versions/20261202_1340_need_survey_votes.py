"""need_survey_option_votes counts the answers that chose a survey option

Revision ID: 1340
Revises: 1330
Create Date: 2026-12-02

The needs list (migration 1250) cites survey options as evidence; its vote count was a stub
returning 0 until the surveys (1200) landed. It now sums the survey's running tallies
(online and paper) for that question and option, and ``need_evidence.survey_id`` refers to
``surveys``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "1340"
down_revision: str | Sequence[str] | None = "1330"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTED = """
CREATE OR REPLACE FUNCTION need_survey_option_votes(survey uuid, question text, option text)
RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(sum(n), 0)::bigint FROM survey_tallies
    WHERE survey_id = survey AND question_key = question AND item = option
$$
"""

STUB = """
CREATE OR REPLACE FUNCTION need_survey_option_votes(survey uuid, question text, option text)
RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT 0::bigint $$
"""


def upgrade() -> None:
    op.execute(COUNTED)
    op.create_foreign_key(
        "fk_need_evidence_survey",
        "need_evidence",
        "surveys",
        ["survey_id"],
        ["id"],
        ondelete="CASCADE",
    )


def downgrade() -> None:
    op.drop_constraint("fk_need_evidence_survey", "need_evidence", type_="foreignkey")
    op.execute(STUB)
