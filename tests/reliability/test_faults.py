"""No record is lost or half-written under faults. tests/api/test_predict.py already fails each
storage write and the commit; here: the database going away in the middle of an upload (a real
backend kill on PostgreSQL), database and storage outages with /ready and recovery, and a
process killed by SIGKILL between storing the files and committing the row, cleaned by the
startup reconciliation."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text

from api.api_helpers import TEST_SECRET, assert_error, bearer, form, login, ludb_files, zipped
from hearteye.api.models import Ecg
from hearteye.api.reconcile import reconcile_orphans
from hearteye.api.storage import StorageError, ecg_keys

REPO = Path(__file__).resolve().parents[2]


def _upload(client, headers):
    return client.post(
        "/predict",
        headers=headers,
        content_type="multipart/form-data",
        data=form([zipped(ludb_files("1"))]),
    )


def _rows(app) -> int:
    with app.extensions["hearteye"].sessions() as s:
        return s.execute(select(func.count()).select_from(Ecg)).scalar_one()


def _stored(app) -> list[str]:
    return [i for i, _ in app.extensions["hearteye"].storage.list_ecg_ids()]


def _consistent(app) -> None:
    """Every row has its files and every stored folder has its row."""
    svc = app.extensions["hearteye"]
    with svc.sessions() as s:
        rows = set(s.execute(select(Ecg.file_id)).scalars())
    assert set(_stored(app)) == rows


def test_database_dies_mid_upload(app, client, auth, database_url):
    """PostgreSQL: the request's own backend is terminated after the files are stored and
    before the commit. The client gets 503, the files are removed, and the next upload
    works on a fresh connection."""
    if not database_url.startswith("postgresql"):
        pytest.skip("backend termination is a PostgreSQL fault")
    from hearteye.api import db

    svc = app.extensions["hearteye"]
    storage = svc.storage
    real_put = storage.put
    killed = []

    def put(key, data, content_type):
        real_put(key, data, content_type)
        if not killed and key == ecg_keys(key.split("/")[-2]).display:
            pid = db.session().execute(text("SELECT pg_backend_pid()")).scalar_one()
            with svc.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                other.commit()
            killed.append(pid)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(storage, "put", put)
        resp = _upload(client, auth)
    assert killed, "the fault was not injected"
    assert_error(resp, 503, "database_unavailable")
    assert _stored(app) == [] and _rows(app) == 0
    assert client.get("/ready").status_code == 200
    assert _upload(client, auth).status_code == 201
    _consistent(app)


def test_database_outage_then_recovery(app, client, auth):
    """No new connection can be made: /ready and the routes answer 503 (never 500), nothing
    is stored; when the database is back, everything works without a restart."""
    svc = app.extensions["hearteye"]
    down = {"on": True}
    dbapi = svc.engine.dialect.dbapi

    @event.listens_for(svc.engine, "do_connect")
    def refuse(*_args):
        if down["on"]:
            raise dbapi.OperationalError("injected: connection refused")

    svc.engine.dispose()  # drop pooled connections: the next request must connect
    try:
        ready = client.get("/ready")
        assert_error(ready, 503, "not_ready")
        assert ready.json["details"]["database"] == "unavailable"
        assert_error(client.get("/history", headers=auth), 503, "database_unavailable")
        assert_error(_upload(client, auth), 503, "database_unavailable")
        assert_error(
            client.post("/auth/login", json={"username": "alice", "password": "x" * 9}),
            503,
            "database_unavailable",
        )
        assert _stored(app) == []
        down["on"] = False
        assert client.get("/ready").status_code == 200
        assert _upload(client, auth).status_code == 201
    finally:
        down["on"] = False
        event.remove(svc.engine, "do_connect", refuse)
    _consistent(app)


def test_storage_outage_then_recovery(app, client, auth, monkeypatch):
    storage = app.extensions["hearteye"].storage

    def fail(*_a, **_k):
        raise StorageError("injected: storage unreachable")

    with pytest.MonkeyPatch.context() as mp:
        for name in ("put", "get", "ping"):
            mp.setattr(storage, name, fail)
        assert_error(client.get("/ready"), 503, "not_ready")
        assert client.get("/health").json["storage"] == "unavailable"
        assert_error(_upload(client, auth), 503, "storage_unavailable")
    assert _rows(app) == 0 and _stored(app) == []
    assert client.get("/ready").status_code == 200
    rec = _upload(client, auth)
    assert rec.status_code == 201
    _consistent(app)


def test_delete_whose_file_removal_fails_is_reconciled(app, client, auth, monkeypatch):
    storage = app.extensions["hearteye"].storage
    fid = _upload(client, auth).json["file_id"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            storage, "delete_ecg", lambda *_a: (_ for _ in ()).throw(StorageError("injected"))
        )
        assert client.delete(f"/ecg/{fid}", headers=auth).status_code == 200
    assert _rows(app) == 0 and _stored(app) == [fid]  # an orphan, no row without file
    svc = app.extensions["hearteye"]
    report = reconcile_orphans(svc.sessions, storage, grace_s=0)
    assert report["removed"] == [fid] and _stored(app) == []


_KILLED_WORKER = textwrap.dedent("""
    import os, signal, sys
    sys.path[:0] = [{tests!r}]
    from sqlalchemy.orm import Session
    from api.api_helpers import bearer, form, login, ludb_files, register, zipped
    from hearteye.api import create_app
    from hearteye.api.config import Settings

    from pathlib import Path
    app = create_app(Settings(data_dir=Path({data!r}), database_url={url!r},
                              jwt_secret_key={secret!r}, secret_key={secret!r}[::-1],
                              extra={{"ARGON2_PARAMS": {{"time_cost": 1, "memory_cost": 8,
                                                         "parallelism": 1}}}}))
    client = app.test_client()
    register(client, "killed")
    headers = bearer(login(client, "killed")["access_token"])
    real_commit = Session.commit

    def commit(self):
        if any(type(o).__name__ == "Ecg" for o in self.new):
            print("STORED", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)  # the files are stored, the row is not
        return real_commit(self)

    Session.commit = commit
    client.post("/predict", headers=headers, content_type="multipart/form-data",
                data=form([zipped(ludb_files("1"))]))
    print("NOT KILLED", flush=True)
""")


@pytest.mark.slow
def test_process_killed_between_store_and_commit(make_app, tmp_path, database_url):
    """A real process dies by SIGKILL with its files stored and its row uncommitted. What it
    left is an orphan folder and no row; the startup step (`hearteye serve` runs
    `server.prepare`) removes it once older than the grace period, and the service is
    consistent and working."""
    app = make_app()  # empties the tables of this database
    data = tmp_path / "data"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _KILLED_WORKER.format(
                tests=str(REPO / "tests"), data=str(data), url=database_url, secret=TEST_SECRET
            ),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr[-2000:]
    assert "STORED" in proc.stdout
    orphans = _stored(app)
    assert len(orphans) == 1 and _rows(app) == 0  # what the crash left: no row, one orphan

    from hearteye.api.server import prepare

    settings = app.extensions["hearteye"].settings
    kept = prepare(settings)  # within the grace period: an upload may still be running
    assert kept["recent"] == orphans and _stored(app) == orphans
    report = prepare(settings.with_overrides(orphan_grace_s=0))
    assert report["removed"] == orphans and _stored(app) == []
    client = app.test_client()
    headers = bearer(login(client, "killed")["access_token"])
    assert _upload(client, headers).status_code == 201
    _consistent(app)
