"""ratings: "satisfied" is defined once, by the SQL function rating_satisfied(score)

Revision ID: 1010
Revises: 1000
Create Date: 2026-12-01 22:00:00+00:00

Until now ``score >= 4`` was written in the close trigger (twice), in the area ranking's SQL
and in Python's summary. The function below is now the only definition: the trigger and the
ranking call it, and the tally reads return its verdict with each row, so Python's summary
counts what the database calls satisfied instead of deciding again.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1010"
down_revision: str | Sequence[str] | None = "1000"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SATISFIED = """
CREATE FUNCTION rating_satisfied(score integer) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT score >= 4 $$
"""

# 0601's trigger function with its two ``t.score >= 4`` replaced by the function.
ROLL_UP = """
CREATE OR REPLACE FUNCTION ratings_roll_up_closed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rating_rollups (scope_id, source, criterion, score, n)
    SELECT s.scope_id, t.source, t.criterion, t.score, sum(t.n)
    FROM rating_tallies t
    CROSS JOIN LATERAL (VALUES (NEW.project_id), (NEW.community_id), (NEW.street_id))
        AS s(scope_id)
    WHERE t.event_id = NEW.id AND s.scope_id IS NOT NULL AND t.n <> 0
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (scope_id, source, criterion, score)
    DO UPDATE SET n = rating_rollups.n + excluded.n;

    IF NEW.project_id IS NOT NULL THEN
        INSERT INTO rating_project_scores
            (project_id, community_id, street_id, count, weighted, satisfied)
        SELECT NEW.project_id, NEW.community_id, NEW.street_id, sum(t.n), sum(t.n * t.score),
               coalesce(sum(t.n) FILTER (WHERE rating_satisfied(t.score)), 0)
        FROM rating_tallies t
        WHERE t.event_id = NEW.id AND t.criterion = 'overall'
        HAVING coalesce(sum(t.n), 0) > 0
        ON CONFLICT (project_id) DO UPDATE
           SET count = rating_project_scores.count + excluded.count,
               weighted = rating_project_scores.weighted + excluded.weighted,
               satisfied = rating_project_scores.satisfied + excluded.satisfied;
    END IF;

    -- The city portal learns the published satisfaction of the meeting (transactional outbox).
    INSERT INTO outbox (topic, ordering_key, payload)
    SELECT 'ratings.published', 'event:' || NEW.id::text, jsonb_build_object(
        'event_id', NEW.id,
        'project_id', NEW.project_id,
        'community_id', NEW.community_id,
        'street_id', NEW.street_id,
        'closed_at', NEW.closed_at,
        'count', coalesce(o.count, 0),
        'paper_count', coalesce(o.paper, 0),
        'satisfaction_rate', o.satisfied::float8 / nullif(o.count, 0),
        'means', coalesce(
            (SELECT jsonb_object_agg(m.criterion, m.mean)
             FROM (SELECT t.criterion, sum(t.n * t.score)::float8 / nullif(sum(t.n), 0) AS mean
                   FROM rating_tallies t WHERE t.event_id = NEW.id
                   GROUP BY t.criterion) AS m),
            '{}'::jsonb)
    )
    FROM (SELECT sum(t.n) AS count,
                 sum(t.n) FILTER (WHERE rating_satisfied(t.score)) AS satisfied,
                 sum(t.n) FILTER (WHERE t.source = 'paper') AS paper
          FROM rating_tallies t
          WHERE t.event_id = NEW.id AND t.criterion = 'overall') AS o;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(SATISFIED)
    op.execute(ROLL_UP)


def downgrade() -> None:
    # Back to 0601's text (the threshold written out), then the function can go.
    op.execute(ROLL_UP.replace("rating_satisfied(t.score)", "t.score >= 4"))
    op.execute("DROP FUNCTION rating_satisfied(integer)")
