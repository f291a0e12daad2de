"""Teams and roles, patients, serial comparison, overread and the append-only audit trail.

Upgrades a database in place: every existing account becomes the admin of a team of its own
(the team takes the account's id and name), and each record moves to its uploader's team;
nothing is dropped. The audit table gets triggers that refuse UPDATE and DELETE (and, on
PostgreSQL, TRUNCATE), so not even a hand-written query can edit the trail.

SQLite cannot add a NOT NULL foreign key column, so its tables are rebuilt (Alembic batch
mode); `hearteye.api.db.upgrade` turns SQLite's foreign keys off while migrating, else
rebuilding ``users`` would cascade-delete every record.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_APPEND_ONLY = "audit_events is append-only: its rows cannot be changed or deleted"


def upgrade() -> None:
    _new_tables()
    _new_columns()
    _move_into_teams()
    _require_teams()
    _audit_triggers()


def _new_tables() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "team_id",
            sa.Integer(),
            sa.ForeignKey("teams.id", ondelete="RESTRICT", name="fk_patients_team_id"),
            nullable=False,
        ),
        sa.Column("mrn", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date()),
        sa.Column("age", sa.Integer()),
        sa.Column("sex", sa.String(1)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("team_id", "mrn", name="uq_patients_team_mrn"),
    )
    op.create_index("ix_patients_team_id", "patients", ["team_id"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "team_id",
            sa.Integer(),
            sa.ForeignKey("teams.id", ondelete="CASCADE", name="fk_invitations_team_id"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column(
            "created_by",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_invitations_created_by"),
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column(
            "used_by",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_invitations_used_by"),
        ),
        sa.UniqueConstraint("token_hash", name="uq_invitations_token_hash"),
    )
    op.create_index("ix_invitations_team_id", "invitations", ["team_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("ecg_file_id", sa.String(64)),
        sa.Column("actor_id", sa.Integer()),
        sa.Column("actor_name", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("before", sa.JSON()),
        sa.Column("after", sa.JSON()),
    )
    op.create_index("ix_audit_events_team_id", "audit_events", ["team_id"])
    op.create_index("ix_audit_events_ecg", "audit_events", ["ecg_file_id", "id"])


def _new_columns() -> None:
    with op.batch_alter_table("users") as t:
        t.add_column(sa.Column("team_id", sa.Integer()))
        t.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="admin"))
    with op.batch_alter_table("ecgs") as t:
        t.add_column(sa.Column("team_id", sa.Integer()))
        t.add_column(sa.Column("patient_id", sa.Integer()))
        t.add_column(sa.Column("comparison", sa.JSON()))
        t.add_column(
            sa.Column("status", sa.String(16), nullable=False, server_default="unconfirmed")
        )
        t.add_column(sa.Column("overread", sa.JSON()))
        t.add_column(sa.Column("confirmed_by", sa.Integer()))
        t.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True)))


def _move_into_teams() -> None:
    """Each account becomes a team of one (team id = user id) and its admin; each record
    goes to its uploader's team. Set-based, so it takes seconds on a large database."""
    op.execute(
        "INSERT INTO teams (id, name, created_at) SELECT id, username, created_at FROM users"
    )
    op.execute("UPDATE users SET team_id = id, role = 'admin'")
    op.execute("UPDATE ecgs SET team_id = user_id")
    if op.get_bind().dialect.name == "postgresql":
        # Ids were given explicitly: move the sequence past them.
        op.execute(
            "SELECT setval(pg_get_serial_sequence('teams', 'id'), "
            "COALESCE((SELECT MAX(id) FROM teams), 0) + 1, false)"
        )


def _require_teams() -> None:
    with op.batch_alter_table("users") as t:
        t.alter_column("team_id", existing_type=sa.Integer(), nullable=False)
        t.create_foreign_key("fk_users_team_id", "teams", ["team_id"], ["id"], ondelete="RESTRICT")
        t.create_index("ix_users_team_id", ["team_id"])
    with op.batch_alter_table("ecgs") as t:
        t.alter_column("team_id", existing_type=sa.Integer(), nullable=False)
        t.create_foreign_key("fk_ecgs_team_id", "teams", ["team_id"], ["id"], ondelete="RESTRICT")
        t.create_foreign_key(
            "fk_ecgs_patient_id", "patients", ["patient_id"], ["id"], ondelete="SET NULL"
        )
        t.create_foreign_key(
            "fk_ecgs_confirmed_by", "users", ["confirmed_by"], ["id"], ondelete="SET NULL"
        )
        t.create_index("ix_ecgs_team_upload", ["team_id", "upload_date"])
        t.create_index("ix_ecgs_team_status", ["team_id", "status", "upload_date"])
        t.create_index("ix_ecgs_patient_upload", ["patient_id", "upload_date"])


def _audit_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION hearteye_audit_append_only() RETURNS trigger AS $$ BEGIN "
            f"RAISE EXCEPTION '{_APPEND_ONLY}'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION hearteye_audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION hearteye_audit_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{event.lower()} BEFORE {event} ON audit_events "
                f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    raise NotImplementedError(
        "0002 is not reversible: teams, patients, overreads and the audit trail would be lost"
    )
