"""The contract of the original HeartEye React client (PhonkPetros/hearteye-ecg-ai-frontend),
which must keep working unchanged: axios with ``withCredentials: true`` and a bearer token, so
every call from its origin is a credentialed cross-origin request, preflighted by the browser;
``GET /history`` without paging parameters, expecting the complete list (it sorts, pages and
searches on its own); the field names it reads. The requests below are the ones a browser
sends for it (Origin, Access-Control-Request-Method, Access-Control-Request-Headers)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hearteye.api.models import Ecg
from hearteye.api.schemas import Intervals, LeadsOut, RecordDetailOut, RecordOut
from hearteye.api.services import ecgs

from .api_helpers import bearer, form, login, ludb_files, register, zipped

ORIGIN = "http://localhost:3000"  # the client's development server (its .env.development)
OTHER = "https://app.example.org"
ACAO = "Access-Control-Allow-Origin"
ACAC = "Access-Control-Allow-Credentials"

# What the client calls (src/services/*.ts).
CLIENT_CALLS = [
    ("POST", "/auth/register"),
    ("POST", "/auth/login"),
    ("GET", "/history"),
    ("POST", "/predict"),
    ("GET", "/ecg/AbCdEfGh12345678"),
    ("PUT", "/ecg/AbCdEfGh12345678/notes"),
    ("GET", "/ecg/AbCdEfGh12345678/leads"),
]


@pytest.fixture
def cors_client(make_app):
    return make_app(cors_origins=(ORIGIN, OTHER)).test_client()


def preflight(client, method, path, origin=ORIGIN):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )


def cors_headers(resp) -> dict:
    return {k: v for k, v in resp.headers.items() if k.lower().startswith("access-control-")}


@pytest.mark.parametrize("method, path", CLIENT_CALLS)
def test_preflight_from_a_configured_origin_allows_credentials(cors_client, method, path):
    resp = preflight(cors_client, method, path)
    assert resp.status_code == 200
    headers = cors_headers(resp)
    assert headers.pop(ACAO) == ORIGIN
    assert headers.pop(ACAC) == "true"
    allowed = headers.pop("Access-Control-Allow-Headers")
    assert {h.strip() for h in allowed.lower().split(",")} == {"authorization", "content-type"}
    assert method in {m.strip() for m in headers.pop("Access-Control-Allow-Methods").split(",")}
    assert headers.pop("Access-Control-Max-Age") == "600"
    assert headers.pop("Access-Control-Expose-Headers") == "X-Total-Count"
    assert headers == {}
    assert "Origin" in resp.headers["Vary"]


def test_credentialed_session_from_the_second_configured_origin(cors_client):
    # Register and log in as the client does, then a credentialed GET /history.
    for resp in (
        cors_client.post(
            "/auth/register",
            json={"username": "alice", "email": "a@example.org", "password": "x" * 12},
            headers={"Origin": OTHER},
        ),
        cors_client.post(
            "/auth/login",
            json={"username": "alice", "password": "x" * 12},
            headers={"Origin": OTHER},
        ),
    ):
        assert resp.status_code in (200, 201)
        assert resp.headers[ACAO] == OTHER and resp.headers[ACAC] == "true"
    token = resp.json["access_token"]
    hist = cors_client.get("/history", headers={"Origin": OTHER, **bearer(token)})
    assert hist.status_code == 200 and hist.json == []
    assert cors_headers(hist) == {
        ACAO: OTHER,
        ACAC: "true",
        "Access-Control-Expose-Headers": "X-Total-Count",
    }
    assert "Origin" in hist.headers["Vary"]
    # An error answer carries the headers too, so the client can read its message.
    denied = cors_client.get("/history", headers={"Origin": OTHER})
    assert denied.status_code == 401
    assert denied.headers[ACAO] == OTHER and denied.headers[ACAC] == "true"


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost:3001", "null"])
def test_an_origin_not_configured_gets_no_cors_headers(cors_client, origin):
    assert cors_headers(preflight(cors_client, "GET", "/history", origin)) == {}
    assert cors_headers(cors_client.get("/history", headers={"Origin": origin})) == {}


def test_no_origins_configured_means_no_cors_headers(client):
    assert cors_headers(preflight(client, "POST", "/auth/login")) == {}


def test_wildcard_never_carries_credentials(make_app):
    client = make_app(cors_origins=("*",)).test_client()
    for resp in (
        preflight(client, "GET", "/history"),
        client.get("/live", headers={"Origin": ORIGIN}),
    ):
        assert resp.headers[ACAO] == "*"
        assert ACAC not in resp.headers


# -------------------------------------------------------------------------- history


def _upload(client, headers):
    resp = client.post(
        "/predict",
        headers=headers,
        data=form([zipped(ludb_files("1"))]),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.json
    return resp


def _copies(app, file_id: str, n: int) -> list[str]:
    """``n`` more rows like the uploaded one (new file ids, one second apart, newest last):
    history reads rows only, and one real analysis is enough for their content."""
    s = app.extensions["hearteye"].sessions()
    try:
        src = s.query(Ecg).filter_by(file_id=file_id).one()
        columns = [c.key for c in Ecg.__mapper__.column_attrs if c.key not in ("id", "file_id")]
        ids = []
        for i in range(n):
            row = Ecg(**{c: getattr(src, c) for c in columns})
            row.file_id = f"copy{i:04d}{file_id[:12]}"
            row.patient_name = f"Patient {i:03d}"
            row.upload_date = src.upload_date + timedelta(seconds=i + 1)
            s.add(row)
            ids.append(row.file_id)
        s.commit()
    finally:
        s.close()
    return ids


def test_history_without_paging_returns_all_150_records(app, client, auth, monkeypatch):
    first = _upload(client, auth).json
    ids = [first["file_id"], *_copies(app, first["file_id"], 149)]
    newest_first = ids[::-1]
    # Small batches: 150 rows span many fetches of the server-side cursor.
    monkeypatch.setattr(ecgs, "HISTORY_BATCH", 7)

    whole = client.get("/history", headers=auth)
    assert whole.status_code == 200 and whole.is_streamed
    assert whole.headers["X-Total-Count"] == "150"
    assert whole.mimetype == "application/json"
    assert [r["file_id"] for r in whole.json] == newest_first

    page = client.get("/history?page=2&per_page=20", headers=auth)
    assert [r["file_id"] for r in page.json] == newest_first[20:40]
    assert page.headers["X-Total-Count"] == "150"
    assert len(client.get("/history?page=1", headers=auth).json) == 20  # per_page 20
    last = client.get("/history?per_page=40&page=4", headers=auth).json
    assert [r["file_id"] for r in last] == newest_first[120:]
    # The streamed list and the pages are the same records, field for field.
    assert whole.json[20:40] == page.json

    found = client.get("/history?search=Patient%2012", headers=auth)  # Patient 120..129
    assert found.headers["X-Total-Count"] == "10" and len(found.json) == 10


def test_streamed_history_returns_its_database_connection(app, client, auth):
    pool = app.extensions["hearteye"].engine.pool
    first = _upload(client, auth).json
    _copies(app, first["file_id"], 5)
    read = client.get("/history", headers=auth)
    assert len(read.json) == 6
    assert pool.checkedout() == 0  # released at the end of the list
    unread = client.get("/history", headers=auth)
    assert pool.checkedout() == 1  # the open cursor
    unread.close()  # what a WSGI server does, also when the client went away
    assert pool.checkedout() == 0


def test_history_is_per_user_when_streamed(app, client, auth):
    first = _upload(client, auth).json
    _copies(app, first["file_id"], 3)
    register(client, "mallory")
    other = bearer(login(client, "mallory")["access_token"])
    resp = client.get("/history", headers=other)
    assert resp.json == [] and resp.headers["X-Total-Count"] == "0"


# ------------------------------------------------------------------------ the schemas


def wire_names(schema) -> list[str]:
    return [f.data_key or name for name, f in schema.dump_fields.items()]


def test_responses_have_exactly_their_schemas_fields(client, auth):
    """Each response is shaped by its schema: the same fields, in the schema's order."""
    created = _upload(client, auth).json
    fid = created["file_id"]
    records = [
        (created, RecordDetailOut()),
        (client.get(f"/ecg/{fid}", headers=auth).json, RecordDetailOut()),
        (client.get("/history", headers=auth).json[0], RecordOut()),
        (client.get("/history?page=1", headers=auth).json[0], RecordOut()),
        (client.put(f"/ecg/{fid}/notes", headers=auth, json={"notes": "n"}).json, RecordOut()),
    ]
    for rec, schema in records:
        assert list(rec) == wire_names(schema)
        assert list(rec["intervals"]) == wire_names(Intervals())
    leads = client.get(f"/ecg/{fid}/leads?seconds=1", headers=auth).json
    assert list(leads) == wire_names(LeadsOut())
    # The names the original client reads (src/screens, src/services/ecgService.ts).
    assert {"pq_interval_ms", "p_wave_duration_ms", "qrs_duration_ms", "qt_interval_ms"} <= set(
        created["intervals"]
    )
    assert {"pq_interval", "p_wave_duration", "qrs_duration", "qt_interval"} <= set(leads)
    assert created["intervals"]["pq_interval_ms"] == leads["pq_interval"]
    assert created["intervals"]["pq_interval_ms"] == pytest.approx(
        created["summary"]["measurements"]["global"]["pr_interval"]["value"], abs=0.01
    )
