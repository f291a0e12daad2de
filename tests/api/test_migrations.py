"""The Alembic migrations build exactly the schema the models describe, on each database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

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
