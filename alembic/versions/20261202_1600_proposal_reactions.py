"""proposals: agree / disagree / pass reactions, their counts and two ranking scores

Revision ID: 1600
Revises: 1250
Create Date: 2026-12-02 00:30:00+00:00

One row per resident per suggestion (``proposal_reactions``; the primary key makes "one
reaction" a database rule), kept as rows, not only counters, so a later group-aware
(Polis-style) consensus can read who said what. The counters on ``proposals`` are kept exact
by the service under the suggestion's row lock (as supports are).

The two ranking scores are stored generated columns over the counters, so the list sorts on
an index (``sort=consensus`` and ``sort=controversial``, per community and per street). Both
use the Wilson score lower bound (95 %, z = 1.96) so that a small sample never outranks a
large one (docs/proposals-deliberation.md):

- consensus   = wilson_lower(agree, agree + disagree + pass)
- controversy = wilson_lower(min(agree, disagree), agree + disagree) * ln(1 + agree + disagree)
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1600"
down_revision: str | Sequence[str] | None = "1250"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WILSON = """
CREATE FUNCTION lc_wilson_lower(k integer, n integer) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN n <= 0 THEN 0::double precision ELSE
    ((k::float8 / n) + 1.9208 / n
      - 1.96 * sqrt((k::float8 / n) * (1 - k::float8 / n) / n + 0.9604 / (n::float8 * n)))
    / (1 + 3.8416 / n)
  END
$$
"""

SCORES = {
    "consensus_score": "lc_wilson_lower(agree_count, agree_count + disagree_count + pass_count)",
    "controversy_score": (
        "lc_wilson_lower(least(agree_count, disagree_count), agree_count + disagree_count)"
        " * ln(1 + agree_count + disagree_count)"
    ),
}


def upgrade() -> None:
    op.execute("CREATE TYPE proposal_reaction AS ENUM ('agree', 'disagree', 'pass')")
    op.execute(WILSON)
    op.execute(
        """
        CREATE TABLE proposal_reactions (
            proposal_id uuid NOT NULL,
            user_id uuid NOT NULL,
            value proposal_reaction NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_proposal_reactions PRIMARY KEY (proposal_id, user_id),
            CONSTRAINT fk_proposal_reactions_proposal_id_proposals FOREIGN KEY (proposal_id)
                REFERENCES proposals (id) ON DELETE CASCADE,
            CONSTRAINT fk_proposal_reactions_user_id_users FOREIGN KEY (user_id)
                REFERENCES users (id) ON DELETE CASCADE
        )
        """
    )
    op.execute("CREATE INDEX ix_proposal_reactions_user ON proposal_reactions (user_id)")
    scores = ", ".join(
        f"ADD COLUMN {name} double precision GENERATED ALWAYS AS ({expr}) STORED"
        for name, expr in SCORES.items()
    )
    # One ALTER: the table is rewritten once.
    op.execute(
        "ALTER TABLE proposals "
        "ADD COLUMN agree_count integer NOT NULL DEFAULT 0, "
        "ADD COLUMN disagree_count integer NOT NULL DEFAULT 0, "
        "ADD COLUMN pass_count integer NOT NULL DEFAULT 0, "
        f"{scores}, "
        "ADD CONSTRAINT ck_proposals_reaction_counts_non_negative "
        "CHECK (agree_count >= 0 AND disagree_count >= 0 AND pass_count >= 0)"
    )
    for scope in ("community", "street"):
        for name, short in (("consensus_score", "consensus"), ("controversy_score", "controversy")):
            op.execute(
                f"CREATE INDEX ix_proposals_{scope}_{short} ON proposals "
                f"({scope}_id, {name} DESC, id DESC)"
            )


def downgrade() -> None:
    for scope in ("community", "street"):
        for short in ("consensus", "controversy"):
            op.execute(f"DROP INDEX IF EXISTS ix_proposals_{scope}_{short}")
    op.execute(
        "ALTER TABLE proposals "
        "DROP CONSTRAINT ck_proposals_reaction_counts_non_negative, "
        "DROP COLUMN controversy_score, DROP COLUMN consensus_score, "
        "DROP COLUMN pass_count, DROP COLUMN disagree_count, DROP COLUMN agree_count"
    )
    op.execute("DROP TABLE proposal_reactions")
    op.execute("DROP FUNCTION lc_wilson_lower(integer, integer)")
    op.execute("DROP TYPE proposal_reaction")
