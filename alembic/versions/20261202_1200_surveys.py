"""surveys: needs surveys (问需求计), questions, options, responses, respondents, tallies

Revision ID: 1200
Revises: 1100
Create Date: 2026-12-02 00:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "1200"
down_revision: str | Sequence[str] | None = "1100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS = postgresql.ENUM("draft", "open", "closed", name="survey_status", create_type=False)
KIND = postgresql.ENUM(
    "single", "multiple", "scale", "ranking", "text", "location",
    name="survey_question_kind", create_type=False,
)
CHANNEL = postgresql.ENUM("online", "paper", name="survey_channel", create_type=False)
UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    bind = op.get_bind()
    STATUS.create(bind)
    KIND.create(bind)
    CHANNEL.create(bind)
    op.create_table(
        "surveys",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("area_id", UUID, sa.ForeignKey("areas.id"), nullable=False),
        sa.Column("street_id", UUID, sa.ForeignKey("areas.id"), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("anonymous", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("created_by", UUID, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("opened_at", sa.DateTime(timezone=True)),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("closes_at > opens_at", name="ck_surveys_closes_after_open"),
    )
    op.execute("CREATE INDEX ix_surveys_area_created ON surveys (area_id, created_at DESC, id)")
    op.execute(
        "CREATE INDEX ix_surveys_street_created ON surveys (street_id, created_at DESC, id)"
    )
    op.create_table(
        "survey_questions",
        sa.Column("survey_id", UUID, sa.ForeignKey("surveys.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", KIND, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("required", sa.Boolean, nullable=False),
        sa.Column("min_choices", sa.Integer),
        sa.Column("max_choices", sa.Integer),
        sa.Column("scale_min", sa.Integer),
        sa.Column("scale_max", sa.Integer),
        sa.Column("scale_labels", postgresql.JSONB),
    )
    op.create_table(
        "survey_options",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("survey_id", UUID, sa.ForeignKey("surveys.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("question_key", sa.String(32), nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.UniqueConstraint("survey_id", "question_key", "key", name="uq_survey_options_key"),
    )
    op.create_table(
        "survey_responses",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("survey_id", UUID, sa.ForeignKey("surveys.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("channel", CHANNEL, nullable=False),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("community_id", UUID, sa.ForeignKey("areas.id")),
        sa.Column("sheet_no", sa.String(64)),
        sa.Column("entered_by", UUID, sa.ForeignKey("users.id")),
        sa.Column("answers", postgresql.JSONB, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "channel = 'online' OR user_id IS NULL", name="ck_survey_responses_paper_has_no_user"
        ),
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_survey_responses_user ON survey_responses (survey_id, user_id)"
        " WHERE user_id IS NOT NULL"
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_survey_responses_sheet ON survey_responses (survey_id, sheet_no)"
        " WHERE sheet_no IS NOT NULL"
    )
    op.execute("CREATE INDEX ix_survey_responses_survey_id ON survey_responses (survey_id, id)")
    op.create_table(
        "survey_respondents",
        sa.Column("survey_id", UUID, sa.ForeignKey("surveys.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("tag", sa.LargeBinary, primary_key=True),
    )
    op.create_table(
        "survey_answer_items",
        sa.Column("survey_id", UUID, sa.ForeignKey("surveys.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("question_key", sa.String(32), primary_key=True),
        sa.Column("id", UUID, primary_key=True),
        sa.Column("response_id", UUID),
        sa.Column("channel", CHANNEL, nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("lat", sa.Float),
        sa.Column("lng", sa.Float),
    )
    op.execute(
        "CREATE INDEX ix_survey_answer_items_response_id ON survey_answer_items (response_id)"
        " WHERE response_id IS NOT NULL"
    )
    op.create_table(
        "survey_tallies",
        sa.Column("survey_id", UUID, sa.ForeignKey("surveys.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("channel", CHANNEL, primary_key=True),
        sa.Column("question_key", sa.String(32), primary_key=True),
        sa.Column("item", sa.String(32), primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("survey_tallies")
    op.drop_table("survey_answer_items")
    op.drop_table("survey_respondents")
    op.drop_table("survey_responses")
    op.drop_table("survey_options")
    op.drop_table("survey_questions")
    op.drop_table("surveys")
    bind = op.get_bind()
    CHANNEL.drop(bind)
    KIND.drop(bind)
    STATUS.drop(bind)
