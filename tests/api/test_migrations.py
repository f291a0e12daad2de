"""The Alembic migrations build exactly the schema the models describe, on each database,
and upgrade a database holding data in place."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from hearteye.api import db
from hearteye.api.models import Base


def test_migrations_match_the_models(app):
    engine = app.extensions["hearteye"].engine
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert {"users", "ecgs", "revoked_tokens", "alembic_version"} <= set(
        inspect(engine).get_table_names()
    )


def test_upgrade_is_idempotent(app):
    db.upgrade(app.extensions["hearteye"].engine)
    db.upgrade(app.extensions["hearteye"].engine)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """A database with no tables at all (a fresh PostgreSQL database, or a new SQLite file)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    from .conftest import PG_ADMIN_URL, _pg_admin_engine

    name = f"hearteye_migrate_{secrets.token_hex(4)}"
    try:
        admin = _pg_admin_engine()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _old_rows(conn) -> None:
    """Two accounts and three records, as the 0001 schema held them."""
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    for uid, name in ((1, "alice"), (2, "bob")):
        conn.execute(
            text(
                "INSERT INTO users (id, username, email, password_hash, created_at) "
                "VALUES (:id, :u, :e, 'x', :t)"
            ),
            {"id": uid, "u": name, "e": f"{name}@example.org", "t": now},
        )
    for eid, uid, fid in ((1, 1, "fileA1"), (2, 1, "fileA2"), (3, 2, "fileB1")):
        conn.execute(
            text(
                "INSERT INTO ecgs (id, file_id, user_id, patient_name, notes, upload_date, "
                "source_name, source_format, upload_content_type, fs, n_leads, duration_s, "
                "classification, probability_abnormal, pq_interval_ms, model, delineator, "
                "summary) VALUES (:id, :f, :u, :p, 'old note', :t, 'r.hea', 'wfdb', "
                "'application/zip', 500, 12, 10, 'Normal', 0.1, 150, 'm', 'd', :s)"
            ),
            {"id": eid, "f": fid, "u": uid, "p": f"Patient {eid}", "t": now, "s": '{"k": 1}'},
        )


def test_an_existing_database_upgrades_without_loss(empty_database):
    """A database at 0001 with accounts and records: after the upgrade every account is the
    admin of its own team, every record is in its uploader's team and unconfirmed, nothing
    else changed, the schema matches the models, and the audit table refuses edits."""
    from alembic import command

    engine = db.make_engine(empty_database)
    try:
        with engine.begin() as conn:
            cfg = db.alembic_config(empty_database)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
            _old_rows(conn)
        db.upgrade(engine)
        with engine.connect() as conn:
            users = conn.execute(text("SELECT id, username, team_id, role FROM users")).all()
            teams = dict(conn.execute(text("SELECT id, name FROM teams")).all())
            ecgs = conn.execute(
                text(
                    "SELECT file_id, user_id, team_id, status, notes, pq_interval_ms, summary "
                    "FROM ecgs ORDER BY id"
                )
            ).all()
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert sorted(users) == [(1, "alice", 1, "admin"), (2, "bob", 2, "admin")]
        assert teams == {1: "alice", 2: "bob"}
        assert [(e.file_id, e.team_id, e.status, e.notes, e.pq_interval_ms) for e in ecgs] == [
            ("fileA1", 1, "unconfirmed", "old note", 150),
            ("fileA2", 1, "unconfirmed", "old note", 150),
            ("fileB1", 2, "unconfirmed", "old note", 150),
        ]
        assert all(e.team_id == e.user_id for e in ecgs)
        assert diff == []
        # A team made after the upgrade gets a fresh id (the sequence moved past the copies).
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO teams (name, created_at) VALUES ('new', :t)"),
                {"t": datetime.now(UTC)},
            )
            assert conn.execute(text("SELECT MAX(id) FROM teams")).scalar_one() == 3
            conn.execute(
                text(
                    "INSERT INTO audit_events (team_id, actor_name, at, action) "
                    "VALUES (1, 'alice', :t, 'test')"
                ),
                {"t": datetime.now(UTC)},
            )
        for sql in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
            with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
                conn.execute(text(sql))
    finally:
        engine.dispose()
