"""needs list (需求清单) and the yearly project list (项目实施清单)

Revision ID: 1250
Revises: 1150
Create Date: 2026-12-02 00:25:58+00:00

Needs gather evidence (suggestions now, survey options once the surveys domain lands) and
lead to projects of next year's list; ``project_needs`` keeps which needs a project answers,
one project per need (a unique key: concurrent "create project" taps make one project).
Projects gain the city office's fields: kind (人民坊, 六艺亭 …), content, implementation path
and design team (funding source is the existing ``budget_source``).

``need_survey_option_votes`` is the extension point for survey evidence: until the surveys
migration replaces it (CREATE OR REPLACE, same signature) it counts nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '1250'
down_revision: str | Sequence[str] | None = '1150'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SURVEY_VOTES = """
CREATE FUNCTION need_survey_option_votes(survey uuid, question text, option text)
RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT 0::bigint $$
"""


def upgrade() -> None:
    op.create_table('needs',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.UUID(), nullable=True),
    sa.Column('street_id', sa.UUID(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Enum('open', 'planned', 'declined', name='need_status'), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.UUID(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(status = 'open') = (status_reason IS NULL)", name=op.f('ck_needs_decided_has_reason')),
    sa.CheckConstraint('year BETWEEN 2000 AND 2100', name=op.f('ck_needs_year_range')),
    sa.ForeignKeyConstraint(['category'], ['proposal_categories.code'], name=op.f('fk_needs_category_proposal_categories')),
    sa.ForeignKeyConstraint(['community_id'], ['areas.id'], name=op.f('fk_needs_community_id_areas')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_needs_created_by_users')),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_needs_decided_by_users')),
    sa.ForeignKeyConstraint(['street_id'], ['areas.id'], name=op.f('fk_needs_street_id_areas')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_needs'))
    )
    op.create_index('ix_needs_community_year', 'needs', ['community_id', 'year'], unique=False)
    op.create_index('ix_needs_street_year', 'needs', ['street_id', 'year'], unique=False)
    op.create_table('project_needs',
    sa.Column('project_id', sa.UUID(), nullable=False),
    sa.Column('need_id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['need_id'], ['needs.id'], name=op.f('fk_project_needs_need_id_needs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_needs_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'need_id', name=op.f('pk_project_needs'))
    )
    op.create_index('uq_project_needs_need', 'project_needs', ['need_id'], unique=True)
    op.create_table('need_evidence',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('need_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Enum('proposal', 'survey_option', name='need_evidence_kind'), nullable=False),
    sa.Column('proposal_id', sa.UUID(), nullable=True),
    sa.Column('survey_id', sa.UUID(), nullable=True),
    sa.Column('question_key', sa.String(length=64), nullable=True),
    sa.Column('option_key', sa.String(length=64), nullable=True),
    sa.Column('added_by', sa.UUID(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("(kind = 'proposal' AND proposal_id IS NOT NULL AND survey_id IS NULL AND question_key IS NULL AND option_key IS NULL) OR (kind = 'survey_option' AND proposal_id IS NULL AND survey_id IS NOT NULL AND question_key IS NOT NULL AND option_key IS NOT NULL)", name=op.f('ck_need_evidence_kind_fields')),
    sa.ForeignKeyConstraint(['added_by'], ['users.id'], name=op.f('fk_need_evidence_added_by_users')),
    sa.ForeignKeyConstraint(['need_id'], ['needs.id'], name=op.f('fk_need_evidence_need_id_needs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_need_evidence_proposal_id_proposals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_need_evidence'))
    )
    op.create_index(op.f('ix_need_evidence_need_id'), 'need_evidence', ['need_id'], unique=False)
    op.create_index('ix_need_evidence_proposal', 'need_evidence', ['proposal_id'], unique=False, postgresql_where=sa.text('proposal_id IS NOT NULL'))
    op.create_index('uq_need_evidence_proposal', 'need_evidence', ['need_id', 'proposal_id'], unique=True, postgresql_where=sa.text("kind = 'proposal'"))
    op.create_index('uq_need_evidence_survey_option', 'need_evidence', ['need_id', 'survey_id', 'question_key', 'option_key'], unique=True, postgresql_where=sa.text("kind = 'survey_option'"))
    project_kind = sa.Enum('general', 'renmin_fang', 'liuyi_ting', 'embedded_service', name='project_kind')
    project_kind.create(op.get_bind())
    op.add_column('projects', sa.Column('kind', sa.Enum('general', 'renmin_fang', 'liuyi_ting', 'embedded_service', name='project_kind'), server_default='general', nullable=False))
    op.add_column('projects', sa.Column('content', sa.Text(), server_default='', nullable=False))
    op.add_column('projects', sa.Column('implementation_path', sa.String(length=500), nullable=True))
    op.add_column('projects', sa.Column('design_team', sa.String(length=200), nullable=True))
    op.create_index('ix_projects_year_street', 'projects', ['year', 'street_id'], unique=False)
    op.execute(SURVEY_VOTES)


def downgrade() -> None:
    op.execute("DROP FUNCTION need_survey_option_votes(uuid, text, text)")
    op.drop_index('ix_projects_year_street', table_name='projects')
    op.drop_column('projects', 'design_team')
    op.drop_column('projects', 'implementation_path')
    op.drop_column('projects', 'content')
    op.drop_column('projects', 'kind')
    op.drop_index('uq_need_evidence_survey_option', table_name='need_evidence', postgresql_where=sa.text("kind = 'survey_option'"))
    op.drop_index('uq_need_evidence_proposal', table_name='need_evidence', postgresql_where=sa.text("kind = 'proposal'"))
    op.drop_index('ix_need_evidence_proposal', table_name='need_evidence', postgresql_where=sa.text('proposal_id IS NOT NULL'))
    op.drop_index(op.f('ix_need_evidence_need_id'), table_name='need_evidence')
    op.drop_table('need_evidence')
    op.drop_index('uq_project_needs_need', table_name='project_needs')
    op.drop_table('project_needs')
    op.drop_index('ix_needs_street_year', table_name='needs')
    op.drop_index('ix_needs_community_year', table_name='needs')
    op.drop_table('needs')
    sa.Enum(name='need_evidence_kind').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='need_status').drop(op.get_bind(), checkfirst=True)
    sa.Enum(name='project_kind').drop(op.get_bind(), checkfirst=True)
