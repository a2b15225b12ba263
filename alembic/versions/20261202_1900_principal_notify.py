"""users, role_grants, auth_families: announce a change to a caller's principal

Revision ID: 1900
Revises: 1800
Create Date: 2026-12-02 22:00:00+00:00

Each API worker keeps the principals it has read (src/core/principals.py) and forgets one as
soon as PostgreSQL says it changed: an AFTER trigger on each table the principal is made of
sends the user's id on the ``lc_principals`` channel (``pg_notify`` sends each distinct id
once per transaction, at commit, and nothing for a rollback). A TRUNCATE sends ``*``: forget
everyone. Inserting a user changes no principal that could have been read, so it sends
nothing (a bulk import of residents stays silent).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "1900"
down_revision: str | Sequence[str] | None = "1800"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION lc_principal_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            row_old jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
            row_new jsonb := CASE WHEN TG_OP IN ('UPDATE', 'INSERT') THEN to_jsonb(NEW) END;
            field text := CASE WHEN TG_TABLE_NAME = 'users' THEN 'id' ELSE 'user_id' END;
        BEGIN
            IF row_old IS NOT NULL THEN
                PERFORM pg_notify('lc_principals', row_old ->> field);
            END IF;
            IF row_new IS NOT NULL AND row_new ->> field IS DISTINCT FROM row_old ->> field THEN
                PERFORM pg_notify('lc_principals', row_new ->> field);
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION lc_principals_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('lc_principals', '*');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER tr_users_principal AFTER UPDATE OF display_name, verified, "
        "home_community_id, disabled OR DELETE ON users "
        "FOR EACH ROW EXECUTE FUNCTION lc_principal_changed()"
    )
    op.execute(
        "CREATE TRIGGER tr_role_grants_principal AFTER INSERT OR UPDATE OR DELETE ON role_grants "
        "FOR EACH ROW EXECUTE FUNCTION lc_principal_changed()"
    )
    op.execute(
        "CREATE TRIGGER tr_auth_families_principal AFTER UPDATE OF revoked_at, user_id OR DELETE "
        "ON auth_families FOR EACH ROW EXECUTE FUNCTION lc_principal_changed()"
    )
    for table in ("users", "role_grants", "auth_families"):
        op.execute(
            f"CREATE TRIGGER tr_{table}_principal_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION lc_principals_truncated()"
        )


def downgrade() -> None:
    for table in ("users", "role_grants", "auth_families"):
        op.execute(f"DROP TRIGGER tr_{table}_principal_truncate ON {table}")
        op.execute(f"DROP TRIGGER tr_{table}_principal ON {table}")
    op.execute("DROP FUNCTION lc_principals_truncated()")
    op.execute("DROP FUNCTION lc_principal_changed()")
