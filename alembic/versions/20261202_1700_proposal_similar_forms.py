"""proposals: similar suggestions search the distinct forms of a community's titles

Revision ID: 1700
Revises: 1410
Create Date: 2026-12-02 07:40:00+00:00

Residents write the same suggestion many times, so a community's 50,000 titles have far fewer
distinct comparable forms (``similar_text``). The nearest-title search of
``GET /api/v1/proposals/similar`` now walks a GiST index over those forms
(``proposal_similar_forms``, one row per community and form, kept by a trigger on every
insert or change of a suggestion's form or community) and reads each form's visible
suggestions by a partial btree index, instead of walking a GiST index over every suggestion
(which read hundreds of index pages, 5–10 ms, for a title near thousands of others). The old
index ``ix_proposals_similar`` is dropped: nothing else reads it.

A form whose suggestions are all gone or hidden stays in the table (the join finds nothing);
``lifecircle proposals-reindex-similar`` deletes such forms.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1700"
down_revision: str | Sequence[str] | None = "1410"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The partial index below names 'pending_review', added to the enum by 1602: on a fresh
    # database the whole chain runs in one transaction, and PostgreSQL refuses a new enum value
    # before it is committed. Commit the revisions before this one (this one stays atomic).
    with op.get_context().autocommit_block():
        pass
    op.execute(
        """
        CREATE TABLE proposal_similar_forms (
            community_id uuid NOT NULL
                CONSTRAINT fk_proposal_similar_forms_community_id_areas REFERENCES areas (id),
            similar_text text NOT NULL,
            CONSTRAINT pk_proposal_similar_forms PRIMARY KEY (community_id, similar_text)
        )
        """
    )
    op.execute(
        """
        CREATE FUNCTION lc_proposal_similar_form() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.similar_text <> '' THEN
                INSERT INTO proposal_similar_forms (community_id, similar_text)
                VALUES (NEW.community_id, NEW.similar_text)
                ON CONFLICT DO NOTHING;
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER proposals_similar_form "
        "AFTER INSERT OR UPDATE OF similar_text, community_id ON proposals "
        "FOR EACH ROW EXECUTE FUNCTION lc_proposal_similar_form()"
    )
    op.execute(
        "INSERT INTO proposal_similar_forms (community_id, similar_text) "
        "SELECT DISTINCT community_id, similar_text FROM proposals WHERE similar_text <> '' "
        "ON CONFLICT DO NOTHING"
    )
    op.execute(
        "CREATE INDEX ix_proposal_similar_forms_near ON proposal_similar_forms "
        "USING gist (community_id, similar_text gist_trgm_ops(siglen=256))"
    )
    op.execute("DROP INDEX ix_proposals_similar")
    op.execute(
        "CREATE INDEX ix_proposals_similar_form ON proposals "
        "(community_id, similar_text, support_count DESC, id DESC) "
        "WHERE status NOT IN ('hidden', 'pending_review', 'merged')"
    )


def downgrade() -> None:
    op.execute(
        "CREATE INDEX ix_proposals_similar ON proposals "
        "USING gist (community_id, similar_text gist_trgm_ops(siglen=256))"
    )
    op.execute("DROP TRIGGER proposals_similar_form ON proposals")
    op.execute("DROP FUNCTION lc_proposal_similar_form()")
    op.execute("DROP INDEX ix_proposals_similar_form")
    op.execute("DROP TABLE proposal_similar_forms")
