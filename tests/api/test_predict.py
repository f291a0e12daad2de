"""Uploads that go through the real `hearteye.analyze.analyze`, and everything after them:
record shape, history, details, leads, plot (signed URL), notes, delete, per-user isolation,
consistency under storage and database faults, S3, and the HTTP session against gunicorn.
Nothing here fakes the analysis.
"""

from __future__ import annotations

import io
import secrets
import zipfile

import numpy as np
import pytest
import requests
from PIL import Image
from sqlalchemy.exc import OperationalError

from hearteye.api.services import ecgs
from hearteye.api.storage import StorageError, ecg_keys

from .api_helpers import (
    assert_error,
    bearer,
    edf_file,
    form,
    login,
    ludb_files,
    register,
    three_lead_files,
    zipped,
)

RECORD_FIELDS = {
    "id",
    "file_id",
    "patient_name",
    "age",
    "gender",
    "upload_date",
    "classification",
    "confidence",
    "probability_abnormal",
    "notes",
    "plot_url",
    "heart_rate",
    "intervals",
}
INTERVALS = {"p_wave_duration_ms", "pq_interval_ms", "qrs_duration_ms", "qt_interval_ms", "qtc_ms"}
SUMMARY = {
    "record",
    "fs",
    "leads",
    "quality",
    "measurements",
    "beats",
    "lead_beats",
    "classification",
    "probability_abnormal",
    "model",
    "delineator",
    "reasons",
}
LEADS = {
    "fs",
    "leads",
    "signals",
    "patient_name",
    "age",
    "gender",
    "upload_date",
    "classification",
    "confidence",
    "notes",
    "p_wave_duration",
    "pq_interval",
    "qrs_duration",
    "qt_interval",
    "beats",
}


def uploads(tmp_path) -> dict[str, list[tuple[str, bytes]]]:
    return {
        "wfdb_zip": [zipped(ludb_files("1"), "ludb1.zip")],
        "edf_zip": [zipped([edf_file()], "ludb119_edf.zip")],
        "bare_edf": [edf_file("ludb_024.edf")],
        "hea_dat": ludb_files("24"),
        "three_lead": three_lead_files(tmp_path / "three"),
    }


def upload(client, headers, files, **fields):
    return client.post(
        "/predict", headers=headers, data=form(files, **fields), content_type="multipart/form-data"
    )


def check_record(rec: dict, *, summary: bool) -> None:
    assert RECORD_FIELDS <= set(rec)
    assert set(rec["intervals"]) == INTERVALS
    assert rec["classification"] in ("Normal", "Abnormal")
    p = rec["probability_abnormal"]
    assert 0 <= p <= 1
    assert rec["confidence"] == pytest.approx(
        p if rec["classification"] == "Abnormal" else 1 - p, abs=1e-3
    )
    assert rec["upload_date"].endswith("+00:00")
    assert len(rec["file_id"]) >= 16
    assert "signature=" in rec["plot_url"] and "expires=" in rec["plot_url"]
    if summary:
        assert SUMMARY <= set(rec["summary"])


def png_ok(data: bytes) -> tuple[int, int]:
    img = Image.open(io.BytesIO(data))
    img.load()
    assert img.format == "PNG" and img.size[0] > 800
    return img.size


# ------------------------------------------------------------------------ each format


@pytest.mark.parametrize("kind", ["wfdb_zip", "edf_zip", "bare_edf", "hea_dat", "three_lead"])
def test_predict_each_upload_kind(app, client, auth, tmp_path, kind):
    files = uploads(tmp_path)[kind]
    resp = upload(client, auth, files, notes="first visit")
    assert resp.status_code == 201, resp.json
    rec = resp.json
    check_record(rec, summary=True)
    assert rec["patient_name"] == "Jane Doe" and rec["age"] == 51 and rec["gender"] == "F"
    assert rec["notes"] == "first visit"
    assert resp.headers["Location"].endswith(rec["file_id"])
    assert rec["n_leads"] == (3 if kind == "three_lead" else 12)
    # The format is the one the format table recognised, never guessed from a name.
    assert rec["source_format"] == ("edf" if "edf" in kind else "wfdb")
    # The upload is stored as sent: one file byte for byte, several zipped together.
    stored = app.extensions["hearteye"].storage.get(ecg_keys(rec["file_id"]).upload)
    if len(files) == 1:
        assert stored == files[0][1]
    else:
        with zipfile.ZipFile(io.BytesIO(stored)) as zf:
            assert {n: zf.read(n) for n in zf.namelist()} == dict(files)


# -------------------------------------------------------------------------- lifecycle


def test_record_lifecycle(app, client, auth):
    first = upload(client, auth, [zipped(ludb_files("1"))], patient_name="Ada Lovelace")
    second = upload(client, auth, ludb_files("24"), patient_name="Bob Smith", age="", gender="")
    assert first.status_code == 201 and second.status_code == 201, second.json
    a, b = first.json, second.json

    hist = client.get("/history", headers=auth)
    assert hist.headers["X-Total-Count"] == "2"
    assert [r["file_id"] for r in hist.json] == [b["file_id"], a["file_id"]]  # newest first
    for rec in hist.json:
        check_record(rec, summary=False)
        assert "summary" not in rec
    by_name = client.get("/history?search=lovelace", headers=auth)
    assert [r["file_id"] for r in by_name.json] == [a["file_id"]]
    by_id = client.get(f"/history?search={b['file_id'][:10]}", headers=auth)
    assert [r["file_id"] for r in by_id.json] == [b["file_id"]]
    paged = client.get("/history?page=2&per_page=1", headers=auth)
    assert [r["file_id"] for r in paged.json] == [a["file_id"]]
    assert paged.headers["X-Total-Count"] == "2"
    assert client.get("/history?search=%25", headers=auth).json == []  # '%' is literal

    detail = client.get(f"/ecg/{a['file_id']}", headers=auth).json
    check_record(detail, summary=True)

    leads = client.get(f"/ecg/{a['file_id']}/leads", headers=auth).json
    assert LEADS <= set(leads)
    assert len(leads["signals"]) == len(leads["leads"]) == 12
    n = len(leads["signals"][0])
    assert n == pytest.approx(leads["fs"] * 10, abs=2)
    assert all(abs(v) < 10 for row in leads["signals"] for v in row[::50])  # mV, not ADC
    window = client.get(f"/ecg/{a['file_id']}/leads?start=2&seconds=1", headers=auth).json
    assert len(window["signals"][0]) == pytest.approx(window["fs"], abs=1)
    assert window["truncated"] is True
    med = leads["median_beats"]  # the representative beat of each lead, and its intervals
    assert set(med["signals"]) == set(leads["leads"]) and med["n_beats"] >= 3
    assert 40 < med["intervals"]["qrs_duration"] < 200
    assert leads["pacing"]["assessed"] is True

    png_ok(client.get(f"/ecg/{a['file_id']}/plot.png", headers=auth).data)
    # The signed URL works without any Authorization header (a plain <img>).
    path = a["plot_url"].split("://", 1)[1].split("/", 1)[1]
    img = client.get("/" + path)
    assert img.status_code == 200 and img.mimetype == "image/png"
    png_ok(img.data)
    assert_error(client.get("/" + path.replace("signature=", "signature=x")), 403)
    assert_error(client.get(f"/ecg/{a['file_id']}/plot.png"), 401)

    notes = client.put(f"/ecg/{a['file_id']}/notes", headers=auth, json={"notes": "recheck"})
    assert notes.status_code == 200 and notes.json["notes"] == "recheck"
    assert client.get(f"/ecg/{a['file_id']}", headers=auth).json["notes"] == "recheck"
    cleared = client.put(f"/ecg/{a['file_id']}/notes", headers=auth, json={"notes": None})
    assert cleared.json["notes"] is None

    assert client.delete(f"/ecg/{a['file_id']}", headers=auth).status_code == 200
    assert_error(client.get(f"/ecg/{a['file_id']}", headers=auth), 404, "ecg_not_found")
    assert_error(client.get("/" + path), 404)  # the signed link dies with the record
    ids = [i for i, _ in app.extensions["hearteye"].storage.list_ecg_ids()]
    assert ids == [b["file_id"]]
    assert client.get("/history", headers=auth).headers["X-Total-Count"] == "1"


def test_form_age_and_gender_fall_back_to_the_file(client, auth):
    rec = upload(client, auth, [zipped(ludb_files("1"))], age="", gender="").json
    assert rec["age"] == 51 and rec["gender"] == "F"  # LUDB 1's header: 51, F


# -------------------------------------------------------------------------- isolation


def test_other_users_records_are_404(client, auth, other_auth):
    rec = upload(client, auth, [zipped(ludb_files("1"))]).json
    fid = rec["file_id"]
    for method, path, kwargs in [
        ("get", f"/ecg/{fid}", {}),
        ("get", f"/ecg/{fid}/leads", {}),
        ("get", f"/ecg/{fid}/plot.png", {}),
        ("put", f"/ecg/{fid}/notes", {"json": {"notes": "mine now"}}),
        ("delete", f"/ecg/{fid}", {}),
    ]:
        resp = getattr(client, method)(path, headers=other_auth, **kwargs)
        body = assert_error(resp, 404, "ecg_not_found")
        assert "Jane" not in str(body)
    assert client.get("/history", headers=other_auth).json == []
    assert client.get(f"/history?search={fid}", headers=other_auth).json == []
    # Untouched for the owner.
    assert client.get(f"/ecg/{fid}", headers=auth).json["notes"] is None


def test_plot_is_drawn_on_first_request_and_kept(app, client, auth):
    rec = upload(client, auth, [zipped(ludb_files("1"))]).json
    storage = app.extensions["hearteye"].storage
    key = ecg_keys(rec["file_id"]).plot
    with pytest.raises(Exception, match=key):
        storage.get(key)
    first = client.get(f"/ecg/{rec['file_id']}/plot.png", headers=auth).data
    png_ok(first)
    assert storage.get(key) == first
    assert client.get(f"/ecg/{rec['file_id']}/plot.png", headers=auth).data == first


def test_plot_on_upload_setting(make_app):
    app = make_app(plot_on_upload=True)
    client = app.test_client()
    register(client)
    headers = bearer(login(client)["access_token"])
    rec = upload(client, headers, [zipped(ludb_files("1"))]).json
    png_ok(app.extensions["hearteye"].storage.get(ecg_keys(rec["file_id"]).plot))


def test_long_upload_is_stored_whole_and_its_start_analysed(make_app, tmp_path):
    import wfdb

    from .api_helpers import FIXTURES

    rec = wfdb.rdrecord(str(FIXTURES / "ludb" / "1"), channels=[0, 1, 6], physical=False)
    wfdb.wrsamp(
        "holter",
        fs=rec.fs,
        units=["mV"] * 3,
        sig_name=["I", "II", "V1"],
        d_signal=np.tile(rec.d_signal, (4, 1)),
        fmt=["16"] * 3,
        adc_gain=rec.adc_gain,
        baseline=rec.baseline,
        write_dir=str(tmp_path),
    )  # 40 s
    files = [(n, (tmp_path / n).read_bytes()) for n in ("holter.hea", "holter.dat")]
    app = make_app(analyze_max_seconds=15)
    client = app.test_client()
    register(client)
    headers = bearer(login(client)["access_token"])
    resp = upload(client, headers, files)
    assert resp.status_code == 201, resp.json
    out = resp.json
    assert out["duration_s"] == 40 and out["summary"]["analysed_seconds"] == 15
    assert out["summary"]["quality"][0]["code"] == "excerpt"
    stored = app.extensions["hearteye"].storage.get(ecg_keys(out["file_id"]).upload)
    with zipfile.ZipFile(io.BytesIO(stored)) as zf:
        assert zf.read("holter.dat") == dict(files)["holter.dat"]  # nothing lost
    leads = client.get(f"/ecg/{out['file_id']}/leads?seconds=60", headers=headers).json
    assert leads["duration"] == 15 and not leads["truncated"]


def test_a_long_upload_analysed_whole_keeps_a_bounded_summary(make_app, tmp_path):
    """With ANALYZE_MAX_SECONDS lifted, a 320 s upload (real LUDB leads tiled, 250 Hz) is
    analysed whole in chunks: its beat count covers all of it, while the stored summary
    lists the beats of its first 300 s only (`listed_seconds`) and the display copy keeps
    LEADS_MAX_SECONDS."""
    import wfdb
    from scipy.signal import resample_poly

    from .api_helpers import FIXTURES

    rec = wfdb.rdrecord(str(FIXTURES / "ludb" / "1"), channels=[1, 6])
    x = resample_poly(np.tile(rec.p_signal, (32, 1)), 1, 2, axis=0)
    wfdb.wrsamp(
        "holter",
        fs=250,
        units=["mV", "mV"],
        sig_name=["II", "V1"],
        p_signal=x,
        fmt=["16", "16"],
        adc_gain=[200.0, 200.0],
        baseline=[0, 0],
        write_dir=str(tmp_path),
    )
    files = [(n, (tmp_path / n).read_bytes()) for n in ("holter.hea", "holter.dat")]
    app = make_app(analyze_max_seconds=10**6)
    client = app.test_client()
    register(client)
    headers = bearer(login(client)["access_token"])
    resp = upload(client, headers, files)
    assert resp.status_code == 201, resp.json
    summary = resp.json["summary"]
    assert summary["analysed_seconds"] == 320 and summary["listed_seconds"] == 300
    assert all(f["code"] != "excerpt" for f in summary["quality"])
    listed = [b for b in summary["beats"] if b["qrs_onset"] is not None]
    assert max(b["qrs_onset"] for b in listed) < 300
    assert summary["measurements"]["global"]["beat_count"]["value"] > len(listed) + 5
    leads = client.get(f"/ecg/{resp.json['file_id']}/leads", headers=headers).json
    assert leads["duration"] == 60 and leads["truncated"]


# ------------------------------------------------------------------------ consistency


@pytest.mark.parametrize("failing", ["upload", "display", "plot"])
def test_storage_failure_leaves_no_row_and_no_file(make_app, failing):
    app = make_app(plot_on_upload=True)
    client = app.test_client()
    register(client)
    auth = bearer(login(client)["access_token"])
    storage = app.extensions["hearteye"].storage
    real_put = storage.put

    def put(key, data, content_type):
        real_put(key, data, content_type)  # written, then the store "fails"
        if key.endswith(getattr(ecg_keys("x" * 16), failing).rsplit("/", 1)[-1]):
            raise StorageError("injected fault")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(storage, "put", put)
        resp = upload(client, auth, [zipped(ludb_files("1"))])
    assert_error(resp, 503, "storage_unavailable")
    assert list(storage.list_ecg_ids()) == []
    assert client.get("/history", headers=auth).headers["X-Total-Count"] == "0"


def test_database_failure_leaves_no_file(app, client, auth):
    from sqlalchemy.orm import Session

    real_commit = Session.commit

    def commit(self):
        if any(type(o).__name__ == "Ecg" for o in self.new):
            raise OperationalError("INSERT", {}, Exception("injected: connection lost"))
        return real_commit(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Session, "commit", commit)
        resp = upload(client, auth, [zipped(ludb_files("1"))])
    assert_error(resp, 503, "database_unavailable")
    assert list(app.extensions["hearteye"].storage.list_ecg_ids()) == []
    assert client.get("/history", headers=auth).headers["X-Total-Count"] == "0"
    # ... and the service works again once the fault clears.
    assert upload(client, auth, [zipped(ludb_files("1"))]).status_code == 201


def test_file_ids_are_unique_and_unguessable(client, auth, monkeypatch):
    seen = []
    real = ecgs.new_file_id
    monkeypatch.setattr(ecgs, "new_file_id", lambda: seen.append(real()) or seen[-1])
    for _ in range(3):
        assert upload(client, auth, [zipped(ludb_files("1"))]).status_code == 201
    assert len(set(seen)) == 3 and all(len(s) >= 22 for s in seen)


# ---------------------------------------------------------------------------------- S3


def test_lifecycle_on_s3(make_app, s3_bucket):
    app = make_app(**s3_bucket)
    client = app.test_client()
    register(client)
    headers = bearer(login(client)["access_token"])
    rec = upload(client, headers, [zipped(ludb_files("1"))]).json
    path = "/" + rec["plot_url"].split("://", 1)[1].split("/", 1)[1]
    png_ok(client.get(path).data)
    assert len(client.get(f"/ecg/{rec['file_id']}/leads", headers=headers).json["signals"]) == 12
    assert client.delete(f"/ecg/{rec['file_id']}", headers=headers).status_code == 200
    assert list(app.extensions["hearteye"].storage.list_ecg_ids()) == []


# ------------------------------------------------------------------ over HTTP (gunicorn)


@pytest.mark.slow
def test_http_session_against_gunicorn(live_server, tmp_path):
    """The acceptance session: register, login, upload each kind, history, details, leads,
    plot, notes, delete, logout, and the old token refused."""
    s = requests.Session()
    name = "u" + secrets.token_hex(4)
    assert (
        s.post(
            f"{live_server}/auth/register",
            timeout=30,
            json={"username": name, "email": f"{name}@example.org", "password": "a long password"},
        ).status_code
        == 201
    )
    token = s.post(
        f"{live_server}/auth/login",
        timeout=30,
        json={"username": name, "password": "a long password"},
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    kinds = uploads(tmp_path)
    ids = []
    for kind in ("wfdb_zip", "edf_zip", "hea_dat", "three_lead"):
        files = [("file", (fname, data)) for fname, data in kinds[kind]]
        r = s.post(
            f"{live_server}/predict",
            headers=headers,
            files=files,
            timeout=120,
            data={"patient_name": f"patient {kind}", "age": "60", "gender": "M"},
        )
        assert r.status_code == 201, (kind, r.text[:500])
        ids.append(r.json()["file_id"])
    hist = s.get(f"{live_server}/history", headers=headers, timeout=30)
    assert hist.headers["X-Total-Count"] == "4"
    assert [r["file_id"] for r in hist.json()] == ids[::-1]
    for fid in ids:
        rec = s.get(f"{live_server}/ecg/{fid}", headers=headers, timeout=30).json()
        assert "summary" in rec
        assert s.get(f"{live_server}/ecg/{fid}/leads", headers=headers, timeout=30).json()[
            "signals"
        ]
        img = requests.get(rec["plot_url"], timeout=30)  # no Authorization: like an <img>
        assert img.status_code == 200
        png_ok(img.content)
    assert (
        s.put(
            f"{live_server}/ecg/{ids[0]}/notes", headers=headers, timeout=30, json={"notes": "seen"}
        ).json()["notes"]
        == "seen"
    )
    assert s.delete(f"{live_server}/ecg/{ids[0]}", headers=headers, timeout=30).ok
    assert s.get(f"{live_server}/ecg/{ids[0]}", headers=headers, timeout=30).status_code == 404
    assert s.post(f"{live_server}/auth/logout", headers=headers, timeout=30).ok
    refused = s.get(f"{live_server}/history", headers=headers, timeout=30)
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
