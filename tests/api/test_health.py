"""Probes: /live, /ready (503 when the database or the storage is down), /health."""

from __future__ import annotations

import shutil

from .api_helpers import assert_error

DEAD_PG = "postgresql+psycopg://postgres@127.0.0.1:1/none"


def test_live_ready_health(client):
    assert client.get("/live").json == {"status": "alive"}
    assert client.get("/ready").json == {"status": "ready"}
    health = client.get("/health").json
    assert health["status"] == "ok" and health["database"] == "ok" and health["storage"] == "ok"
    assert health["version"]
    assert set(health["models"]) >= {"classifier", "delineator"}


def test_ready_is_503_when_the_database_is_down(make_app):
    client = make_app(database_url=DEAD_PG, auto_migrate=False).test_client()
    err = assert_error(client.get("/ready"), 503, "not_ready")
    assert err["details"] == {"database": "unavailable", "storage": "ok"}
    assert client.get("/live").status_code == 200
    assert client.get("/health").json["status"] == "degraded"
    # Requests that need the database get a clear 503, not a traceback.
    resp = client.post("/auth/login", json={"username": "a", "password": "password1"})
    assert_error(resp, 503, "database_unavailable")
    assert resp.headers["Retry-After"]


def test_ready_is_503_when_local_storage_is_gone(app, client):
    shutil.rmtree(app.extensions["hearteye"].storage.root)
    err = assert_error(client.get("/ready"), 503, "not_ready")
    assert err["details"] == {"database": "ok", "storage": "unavailable"}


def test_ready_is_503_when_s3_is_unreachable(make_app, s3_bucket):
    dead = dict(s3_bucket, s3_endpoint_url="http://127.0.0.1:9")
    client = make_app(**dead).test_client()
    assert assert_error(client.get("/ready"), 503)["details"]["storage"] == "unavailable"


def test_ready_with_s3(make_app, s3_bucket):
    client = make_app(**s3_bucket).test_client()
    assert client.get("/ready").json == {"status": "ready"}
