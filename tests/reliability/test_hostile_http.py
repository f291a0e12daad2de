"""Every hostile upload over HTTP is a 4xx with its own code and message, never a 5xx, nothing
is stored, and the service is ready afterwards."""

from __future__ import annotations

import pytest

from api.api_helpers import bearer, login, register

from .hostile_http import all_cases, judge, multipart, oversized_case

CASES = all_cases()


def _send(client, headers, case):
    body, ctype = multipart(case.files)
    resp = client.post("/predict", headers=headers, data=body, content_type=ctype)
    return judge(case, resp.status_code, resp.get_json(silent=True), resp.get_data(as_text=True))


def test_hostile_uploads_over_http(app, client, auth, record_property):
    outcomes = [_send(client, auth, case) for case in CASES]
    bad = [o for o in outcomes if o.problem]
    record_property("hostile_tried", len(outcomes))
    record_property("hostile_4xx", sum(400 <= o.status < 500 for o in outcomes))
    record_property("hostile_5xx", sum(o.status >= 500 for o in outcomes))
    assert not bad, "\n".join(f"{o.case}: {o.problem} ({o.status} {o.code})" for o in bad)
    assert len(CASES) >= 64
    # Each case its own answer: no catch-all code stands for many different problems.
    assert not {o.code for o in outcomes} & {"internal_error", "invalid_input", "bad_request"}
    # Nothing stored, nothing saved, and still ready.
    assert list(app.extensions["hearteye"].storage.list_ecg_ids()) == []
    assert client.get("/history", headers=auth).headers["X-Total-Count"] == "0"
    assert client.get("/ready").status_code == 200


def test_oversized_upload_is_413(make_app):
    client = make_app(max_upload_mb=1).test_client()
    register(client)
    headers = bearer(login(client)["access_token"])
    case = oversized_case(1)
    outcome = _send(client, headers, case)
    assert outcome.problem is None, outcome
    # Far past the limit: refused from Content-Length before the body is read.
    body, ctype = multipart([("huge.edf", bytes(8 * (1 << 20)))])
    resp = client.post("/predict", headers=headers, data=body, content_type=ctype)
    assert resp.status_code == 413 and resp.json["code"] == "upload_too_large"


@pytest.mark.parametrize("name", [b"\xff\xfe.edf", b"\xc3\x28.edf", "\u202eecg.edf".encode()])
def test_hostile_file_names_over_http(client, auth, name):
    """Names as raw bytes in the multipart header: invalid UTF-8 and a bidi override."""
    from hostile_corpus import edf_bytes

    body, ctype = multipart([(name, edf_bytes())])
    resp = client.post("/predict", headers=auth, data=body, content_type=ctype)
    assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
    if resp.status_code == 201:  # accepted: the stored name is printable
        assert all(c.isprintable() for c in resp.json["source_name"])
    else:  # refused: by the reader, or by the form when Werkzeug drops the parts
        assert resp.status_code == 400
        assert resp.json["code"] in ("invalid_filename", "validation_error")
