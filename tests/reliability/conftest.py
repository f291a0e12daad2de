"""Reuses the service fixtures of tests/api (apps on SQLite and PostgreSQL, clients, users,
moto S3, gunicorn) by importing them: tests/ is on sys.path, tests/api is the `api` package."""

from __future__ import annotations

from api.conftest import (  # noqa: F401 - fixtures are registered by being here
    _postgresql_url,
    _sqlite_url,
    app,
    auth,
    client,
    database_url,
    live_server,
    make_app,
    make_settings,
    other_auth,
    s3_bucket,
    s3_server,
)
