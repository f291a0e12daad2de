"""Service test fixtures: an app per test on SQLite, and on PostgreSQL when a server answers.

`database_url` is parametrised: every test using `app`/`client` runs once per database. The
PostgreSQL database is created fresh for the session (``hearteye_test_<random>`` on
``HEARTEYE_TEST_PG``, default the local server) and dropped at the end; it is skipped with
the reason when no server answers. Tables are emptied between tests, not re-migrated.
"""

from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy import create_engine, text

from hearteye.api import create_app
from hearteye.api.config import Settings

from .api_helpers import TEST_SECRET, bearer, login, register, served

PG_ADMIN_URL = os.environ.get(
    "HEARTEYE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# Tests hash passwords with the cheapest argon2 parameters; production uses the defaults.
FAST_ARGON2 = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


def _pg_admin_engine():
    return create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )


@pytest.fixture(scope="session")
def _postgresql_url():
    name = f"hearteye_test_{secrets.token_hex(4)}"
    try:
        admin = _pg_admin_engine()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server, no permission: say why and skip
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'hearteye.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    return request.getfixturevalue(f"_{request.param}_url")


@pytest.fixture
def make_settings(tmp_path, database_url):
    def make(**overrides) -> Settings:
        base = Settings(
            data_dir=tmp_path / "data",
            database_url=database_url,
            jwt_secret_key=TEST_SECRET,
            secret_key=TEST_SECRET[::-1],
            extra={"ARGON2_PARAMS": FAST_ARGON2},
        )
        return base.with_overrides(**overrides)

    return make


@pytest.fixture
def make_app(make_settings):
    """Apps on this test's database (emptied once), with settings overrides."""
    apps = []

    def make(**overrides):
        app = create_app(make_settings(**overrides))
        if not apps and "database_url" not in overrides:
            _empty_tables(app)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["hearteye"].engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


def _empty_tables(app) -> None:
    with app.extensions["hearteye"].engine.begin() as conn:
        # Teams and the append-only audit trail stay (their triggers refuse deletion); every
        # test makes new teams, and audit events are found by random record ids.
        for table in ("revoked_tokens", "invitations", "ecgs", "patients", "users"):
            conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(client):
    """Headers of a registered, logged-in user ``alice``."""
    register(client)
    return bearer(login(client)["access_token"])


@pytest.fixture
def other_auth(client):
    register(client, "mallory")
    return bearer(login(client, "mallory")["access_token"])


# --------------------------------------------------------------------------------- S3


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3-compatible HTTP server on 127.0.0.1 (a real socket; boto3 talks to it as to
    MinIO or Supabase)."""
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    name = f"hearteye-{secrets.token_hex(4)}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(Bucket=name)
    return {
        "s3_bucket": name,
        "s3_endpoint_url": s3_server,
        "storage_backend": "s3",
        "s3_access_key_id": "testing",
        "s3_secret_access_key": "testing",
    }


# ------------------------------------------------------------------------ live server


@pytest.fixture
def live_server(tmp_path, database_url):
    """`hearteye serve` (gunicorn, 2 workers) on a free local port; yields its base URL."""
    with served(tmp_path, workers=2, DATABASE_URL=database_url) as url:
        yield url
