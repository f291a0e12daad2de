"""ECG routes without an analysis: authentication, validation before any heavy work, 404s,
limits. (Uploads that reach `analyze` are in test_predict.py.)"""

from __future__ import annotations

import time

import pytest

from hearteye.api import plot_links
from hearteye.api.services import ecgs

from .api_helpers import assert_error, form, ludb_files, zipped

ROUTES = [
    ("post", "/predict"),
    ("get", "/history"),
    ("get", "/ecg/AbCdEfGh12345678"),
    ("put", "/ecg/AbCdEfGh12345678/notes"),
    ("delete", "/ecg/AbCdEfGh12345678"),
    ("get", "/ecg/AbCdEfGh12345678/leads"),
    ("get", "/ecg/AbCdEfGh12345678/plot.png"),
]


@pytest.fixture
def tripwire(monkeypatch):
    """Fails the test if the upload gets as far as parsing or analysing."""
    calls = []

    def trip(name):
        def _fail(*_a, **_k):
            calls.append(name)
            raise AssertionError(f"{name} must not be reached")

        return _fail

    monkeypatch.setattr(ecgs, "parse_upload", trip("parse_upload"))
    monkeypatch.setattr(ecgs, "analyze", trip("analyze"))
    return calls


@pytest.mark.parametrize("method, path", ROUTES)
def test_every_ecg_route_requires_a_token(client, method, path):
    assert_error(getattr(client, method)(path), 401, "missing_token")


def test_empty_history(client, auth):
    resp = client.get("/history", headers=auth)
    assert resp.status_code == 200 and resp.json == []
    assert resp.headers["X-Total-Count"] == "0"


@pytest.mark.parametrize("query", ["page=0", "per_page=1000", "page=abc", "per_page=-1"])
def test_history_rejects_bad_paging(client, auth, query):
    assert_error(client.get(f"/history?{query}", headers=auth), 400, "validation_error")


@pytest.mark.parametrize("method, path", ROUTES[2:])
def test_unknown_record_is_404(client, auth, method, path):
    kwargs = {"json": {"notes": "x"}} if method == "put" else {}
    err = assert_error(getattr(client, method)(path, headers=auth, **kwargs), 404, "ecg_not_found")
    assert "AbCdEfGh12345678" in err["error"]


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"patient_name": "n" * 201}, "patient_name"),
        ({"age": "121"}, "age"),
        ({"age": "-1"}, "age"),
        ({"age": "old"}, "age"),
        ({"gender": "X"}, "gender"),
        ({"notes": "n" * 10_001}, "notes"),
    ],
)
def test_predict_validates_the_form_before_any_work(client, auth, tripwire, fields, field):
    data = form([zipped(ludb_files())], **fields)
    resp = client.post("/predict", headers=auth, data=data, content_type="multipart/form-data")
    err = assert_error(resp, 400, "validation_error")
    assert field in err["details"]["fields"]
    assert tripwire == []


def test_predict_without_file_or_name(client, auth, tripwire):
    resp = client.post(
        "/predict", headers=auth, data={"patient_name": "x"}, content_type="multipart/form-data"
    )
    assert "file" in assert_error(resp, 400, "validation_error")["details"]["fields"]
    # A file without a name is not refused here: the name may come from the file
    # (PATIENT_FROM_FILE; tests/api/test_predict_carts.py).
    resp = client.post("/predict", headers=auth, json={"patient_name": "x"})
    assert resp.status_code in (400, 415)
    assert_error(resp, resp.status_code)
    assert tripwire == []


def test_upload_over_the_limit_is_refused_before_reading(make_app, tripwire):
    from .api_helpers import bearer, login, register

    client = make_app(max_upload_mb=1).test_client()
    register(client)
    headers = bearer(login(client)["access_token"])
    big = [("big.edf", b"0" * (2 << 20))]
    resp = client.post(
        "/predict", headers=headers, data=form(big), content_type="multipart/form-data"
    )
    err = assert_error(resp, 413, "upload_too_large")
    assert "MiB" in err["error"]
    assert tripwire == []


def test_rejected_upload_leaves_nothing_behind(app, client, auth, monkeypatch):
    """A file the readers refuse: its typed error comes back, nothing is stored or saved."""
    monkeypatch.setattr(ecgs, "analyze", lambda *_a, **_k: pytest.fail("analyze reached"))
    resp = client.post(
        "/predict",
        headers=auth,
        content_type="multipart/form-data",
        data=form([("notes.txt", b"this is not an ECG")]),
    )
    body = assert_error(resp, resp.status_code)
    assert 400 <= resp.status_code < 500 and body["code"] != "internal_error"
    assert list(app.extensions["hearteye"].storage.list_ecg_ids()) == []
    assert client.get("/history", headers=auth).headers["X-Total-Count"] == "0"


def test_plot_link_with_bad_or_expired_signature_is_refused(client):
    future = int(time.time()) + 600
    assert_error(
        client.get(f"/ecg/AbCdEfGh12345678/plot.png?expires={future}&signature=x"),
        403,
        "invalid_signature",
    )
    assert_error(client.get("/ecg/AbCdEfGh12345678/plot.png?expires=abc&signature=x"), 403)


def test_plot_signature_expires(app):
    with app.test_request_context():
        url = plot_links.plot_url("AbCdEfGh12345678")
        args = dict(p.split("=") for p in url.split("?", 1)[1].split("&"))
        assert plot_links.check_signature(
            "AbCdEfGh12345678", int(args["expires"]), args["signature"]
        )
        assert not plot_links.check_signature(
            "OtherOtherOther1", int(args["expires"]), args["signature"]
        )
        assert not plot_links.check_signature(
            "AbCdEfGh12345678", int(args["expires"]) + 1, args["signature"]
        )
        expired = int(time.time()) - 1
        assert not plot_links.check_signature(
            "AbCdEfGh12345678", expired, plot_links._signature("AbCdEfGh12345678", expired)
        )
