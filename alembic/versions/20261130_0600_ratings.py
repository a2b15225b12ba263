"""ratings at review meetings: ratings, revisions, photos, tallies, paper entries,
criteria and links to suggestions

Revision ID: 0600
Revises: 0200
Create Date: 2026-11-30 02:15:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0600'
# Written as a merge of 0200 and main's 0400; since re-chained linearly (0400 now applies
# earlier: 0400 → 0700 → 0500 → 0200 → 0600).
down_revision: str | Sequence[str] | None = '0200'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ROLL_UP_FUNCTION = """
CREATE FUNCTION ratings_roll_up_closed() RETURNS trigger LANGUAGE plpgsql AS $$
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
    op.create_table('ratings',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('project_id', sa.UUID(), nullable=True),
    sa.Column('community_id', sa.UUID(), nullable=False),
    sa.Column('street_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('scores', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('comment_hidden_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('comment_hidden_reason', sa.String(length=500), nullable=True),
    sa.Column('comment_hidden_by', sa.UUID(), nullable=True),
    sa.Column('revision', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_ratings_event_id_events')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ratings_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ratings')),
    sa.UniqueConstraint('event_id', 'user_id', name='uq_ratings_event_user'),
    )
    op.create_index('ix_ratings_event_id', 'ratings', ['event_id', 'id'], unique=False)
    op.create_index('ix_ratings_user', 'ratings', ['user_id'], unique=False)

    op.create_table('rating_revisions',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('rating_id', sa.UUID(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('scores', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('photo_ids', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replaced_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['rating_id'], ['ratings.id'], name=op.f('fk_rating_revisions_rating_id_ratings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_revisions'))
    )
    op.create_index(op.f('ix_rating_revisions_rating_id'), 'rating_revisions', ['rating_id'], unique=False)

    op.create_table('rating_photos',
    sa.Column('rating_id', sa.UUID(), nullable=False),
    sa.Column('upload_id', sa.UUID(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['rating_id'], ['ratings.id'], name=op.f('fk_rating_photos_rating_id_ratings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_rating_photos_upload_id_uploads')),
    sa.PrimaryKeyConstraint('rating_id', 'upload_id', name=op.f('pk_rating_photos')),
    sa.UniqueConstraint('upload_id', name=op.f('uq_rating_photos_upload_id'))
    )

    op.create_table('rating_tallies',
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('criterion', sa.String(length=32), nullable=False),
    sa.Column('score', sa.SmallInteger(), nullable=False),
    sa.Column('project_id', sa.UUID(), nullable=True),
    sa.Column('community_id', sa.UUID(), nullable=False),
    sa.Column('street_id', sa.UUID(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.CheckConstraint('score BETWEEN 1 AND 5', name=op.f('ck_rating_tallies_score_range')),
    sa.CheckConstraint("source IN ('app', 'paper')", name=op.f('ck_rating_tallies_source_known')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_rating_tallies_event_id_events')),
    sa.PrimaryKeyConstraint('event_id', 'source', 'criterion', 'score', name=op.f('pk_rating_tallies'))
    )
    op.create_index('ix_rating_tallies_street', 'rating_tallies', ['street_id', 'criterion'], unique=False)
    op.create_index('ix_rating_tallies_community', 'rating_tallies', ['community_id', 'criterion'], unique=False)
    op.create_index('ix_rating_tallies_project', 'rating_tallies', ['project_id'], unique=False)

    op.create_table('rating_rollups',
    sa.Column('scope_id', sa.UUID(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('criterion', sa.String(length=32), nullable=False),
    sa.Column('score', sa.SmallInteger(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('score BETWEEN 1 AND 5', name=op.f('ck_rating_rollups_score_range')),
    sa.PrimaryKeyConstraint('scope_id', 'source', 'criterion', 'score', name=op.f('pk_rating_rollups'))
    )
    op.create_table('rating_project_scores',
    sa.Column('project_id', sa.UUID(), nullable=False),
    sa.Column('community_id', sa.UUID(), nullable=False),
    sa.Column('street_id', sa.UUID(), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('weighted', sa.BigInteger(), nullable=False),
    sa.Column('satisfied', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_rating_project_scores_project_id_projects')),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_rating_project_scores'))
    )
    op.create_index('ix_rating_project_scores_street', 'rating_project_scores', ['street_id'], unique=False)
    op.create_index('ix_rating_project_scores_community', 'rating_project_scores', ['community_id'], unique=False)
    # Closing a meeting adds its tallies to the rollups of its project, community and street,
    # in the closing transaction. Closed is final (no reopening, no rating after close: a
    # rating holds FOR KEY SHARE on the meeting, the close FOR UPDATE), so the sums stay exact.
    op.execute(ROLL_UP_FUNCTION)
    op.execute(
        "CREATE TRIGGER trg_events_ratings_roll_up AFTER UPDATE OF status ON events "
        "FOR EACH ROW WHEN (NEW.status = 'closed' AND OLD.status IS DISTINCT FROM NEW.status "
        "AND NEW.kind = 'review') EXECUTE FUNCTION ratings_roll_up_closed()"
    )

    op.create_table('rating_paper_entries',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('counts', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('entered_by', sa.UUID(), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['entered_by'], ['users.id'], name=op.f('fk_rating_paper_entries_entered_by_users')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_rating_paper_entries_event_id_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_paper_entries'))
    )
    op.create_index('ix_rating_paper_entries_event', 'rating_paper_entries', ['event_id', 'id'], unique=False)

    op.create_table('rating_criteria',
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name_zh', sa.String(length=50), nullable=False),
    sa.Column('name_en', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_rating_criteria_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'code', name=op.f('pk_rating_criteria'))
    )

    op.create_table('rating_proposals',
    sa.Column('rating_id', sa.UUID(), nullable=False),
    sa.Column('proposal_id', sa.UUID(), nullable=False),
    sa.Column('created_by', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_rating_proposals_created_by_users')),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_rating_proposals_proposal_id_proposals')),
    sa.ForeignKeyConstraint(['rating_id'], ['ratings.id'], name=op.f('fk_rating_proposals_rating_id_ratings')),
    sa.PrimaryKeyConstraint('rating_id', name=op.f('pk_rating_proposals')),
    sa.UniqueConstraint('proposal_id', name=op.f('uq_rating_proposals_proposal_id'))
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS trg_events_ratings_roll_up ON events")
    op.execute("DROP FUNCTION IF EXISTS ratings_roll_up_closed()")
    op.drop_index('ix_rating_project_scores_community', table_name='rating_project_scores')
    op.drop_index('ix_rating_project_scores_street', table_name='rating_project_scores')
    op.drop_table('rating_project_scores')
    op.drop_table('rating_rollups')
    op.drop_table('rating_proposals')
    op.drop_table('rating_criteria')
    op.drop_index('ix_rating_paper_entries_event', table_name='rating_paper_entries')
    op.drop_table('rating_paper_entries')
    op.drop_index('ix_rating_tallies_project', table_name='rating_tallies')
    op.drop_index('ix_rating_tallies_community', table_name='rating_tallies')
    op.drop_index('ix_rating_tallies_street', table_name='rating_tallies')
    op.drop_table('rating_tallies')
    op.drop_table('rating_photos')
    op.drop_index(op.f('ix_rating_revisions_rating_id'), table_name='rating_revisions')
    op.drop_table('rating_revisions')
    op.drop_index('ix_ratings_user', table_name='ratings')
    op.drop_index('ix_ratings_event_id', table_name='ratings')
    op.drop_table('ratings')
