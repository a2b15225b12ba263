"""ratings: the close of a review meeting also publishes its satisfaction to the city
portal through the outbox (same trigger function, one more statement)

Revision ID: 0601
Revises: 0300
Create Date: 2026-11-30 03:30:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0601'
down_revision: str | Sequence[str] | None = '0300'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITH_OUTBOX = """
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
               coalesce(sum(t.n) FILTER (WHERE t.score >= 4), 0)
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
                 sum(t.n) FILTER (WHERE t.score >= 4) AS satisfied,
                 sum(t.n) FILTER (WHERE t.source = 'paper') AS paper
          FROM rating_tallies t
          WHERE t.event_id = NEW.id AND t.criterion = 'overall') AS o;
    RETURN NULL;
END
$$
"""

WITHOUT_OUTBOX = """
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
               coalesce(sum(t.n) FILTER (WHERE t.score >= 4), 0)
        FROM rating_tallies t
        WHERE t.event_id = NEW.id AND t.criterion = 'overall'
        HAVING coalesce(sum(t.n), 0) > 0
        ON CONFLICT (project_id) DO UPDATE
           SET count = rating_project_scores.count + excluded.count,
               weighted = rating_project_scores.weighted + excluded.weighted,
               satisfied = rating_project_scores.satisfied + excluded.satisfied;
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(WITH_OUTBOX)


def downgrade() -> None:
    op.execute(WITHOUT_OUTBOX)
