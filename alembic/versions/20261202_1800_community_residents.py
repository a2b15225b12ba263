"""users: the registered residents of each community, counted as users change

Revision ID: 1800
Revises: 1700
Create Date: 2026-12-02 14:00:00+00:00

The residents list's summary and the survey response rate counted a community's residents
(``count(*)`` over ``users``) on every request: 20,000 residents were most of the list's
PostgreSQL time. ``community_residents`` holds, per community, changes to the number of users
whose home it is and who are not disabled, and to how many of them are verified: an area's
residents are the sum of its communities' rows. Statement-level triggers with transition
tables append one row per community a statement changed (a bulk import is one row per
community, not one per user; an update that moves no one, a name or a login, adds nothing).

Rows are only ever inserted by the triggers, never updated: two transactions adding
residents to one community never wait for each other, and none can deadlock on a counter
(one counter row per community, updated in place, did deadlock two imports that touched two
communities in opposite orders). The ``resident_counts_fold`` job folds each community's rows
into one every few minutes, which only keeps the sums short: the counts are exact without it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1800"
down_revision: str | Sequence[str] | None = "1700"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPLY = """
    INSERT INTO community_residents (community_id, residents, verified)
    SELECT community_id, sum(d), sum(v) FROM ({rows}) AS moved (community_id, d, v)
    GROUP BY community_id
    HAVING sum(d) <> 0 OR sum(v) <> 0
"""
_OLD = (
    "SELECT home_community_id, -1, -verified::int FROM old_rows "
    "WHERE home_community_id IS NOT NULL AND NOT disabled"
)
_NEW = (
    "SELECT home_community_id, 1, verified::int FROM new_rows "
    "WHERE home_community_id IS NOT NULL AND NOT disabled"
)


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE community_residents (
            id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_community_residents PRIMARY KEY,
            community_id uuid NOT NULL
                CONSTRAINT fk_community_residents_community_id_areas REFERENCES areas (id),
            residents integer NOT NULL,
            verified integer NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_community_residents_community_id ON community_residents "
        "(community_id) INCLUDE (residents, verified)"
    )
    op.execute(
        f"""
        CREATE FUNCTION lc_community_residents() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {_APPLY.format(rows=_NEW)};
            ELSIF TG_OP = 'DELETE' THEN
                {_APPLY.format(rows=_OLD)};
            ELSE
                {_APPLY.format(rows=_OLD + " UNION ALL " + _NEW)};
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    for event, tables in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER users_community_residents_{event.lower()} AFTER {event} ON users "
            f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION lc_community_residents()"
        )
    op.execute(
        "INSERT INTO community_residents (community_id, residents, verified) "
        "SELECT home_community_id, count(*), count(*) FILTER (WHERE verified) FROM users "
        "WHERE home_community_id IS NOT NULL AND NOT disabled GROUP BY home_community_id"
    )


def downgrade() -> None:
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER users_community_residents_{event} ON users")
    op.execute("DROP FUNCTION lc_community_residents()")
    op.execute("DROP TABLE community_residents")
