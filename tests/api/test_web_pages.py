"""The web app's pages through Flask's test client: sign-in and its expiry and revocation,
CSRF on every state-changing request, cookie flags, escaping, the Content-Security-Policy,
access between users, and that the JSON API still takes only its bearer tokens."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest

from .api_helpers import FIXTURES, PASSWORD, bearer, login, register

XSS = "<img src=x onerror=alert(1)>"
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "hearteye" / "api" / "web" / "templates"
XHR = {"X-Requested-With": "XMLHttpRequest"}


def _csrf(client, path="/signin", **kwargs) -> str:
    html = client.get(path, **kwargs).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _sign_in(client, username="alice") -> str:
    register(client, username)
    token = _csrf(client)
    resp = client.post(
        "/signin", data={"csrf_token": token, "username": username, "password": PASSWORD}
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return _csrf(client, "/")


def _upload(client, token, name="Jane Doe", record="1", **extra) -> str:
    ludb = FIXTURES / "ludb"
    files = [
        ((ludb / f"{record}.hea").open("rb"), f"{record}.hea"),
        ((ludb / f"{record}.dat").open("rb"), f"{record}.dat"),
    ]
    resp = client.post(
        "/upload",
        data={"csrf_token": token, "patient_name": name, "file": files, **extra},
        headers=XHR,
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)[:500]
    return resp.json["file_id"]


def test_root_is_the_app_and_pages_need_sign_in(client):
    resp = client.get("/")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert "<h1>Sign in</h1>" in resp.get_data(as_text=True)
    resp = client.get("/records?q=x")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/signin?next=/records")
    resp = client.get("/records/abc/leads.json")
    assert resp.status_code == 401 and resp.json["code"] == "signed_out"


def test_session_cookie_flags(make_app):
    client = make_app().test_client()
    register(client)
    token = _csrf(client)
    data = {"csrf_token": token, "username": "alice", "password": PASSWORD}
    cookie = client.post("/signin", data=data).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    # Over HTTPS (directly, or via a trusted proxy) the cookie is Secure.
    https = make_app().test_client()
    token = _csrf(https, base_url="https://localhost")
    data["csrf_token"] = token
    cookie = https.post("/signin", data=data, base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_secure_cookie_in_production(make_app):
    app = make_app(env="production")
    client = app.test_client()
    cookie = client.get("/signin").headers["Set-Cookie"]  # the anonymous CSRF session
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_every_post_needs_the_csrf_token(client):
    token = _sign_in(client)
    file_id = _upload(client, token)
    # Without a token, or with another session's, nothing changes.
    other = client.application.test_client()
    foreign = _csrf(other)
    for sent in ({}, {"csrf_token": "forged"}, {"csrf_token": foreign}):
        resp = client.post(f"/records/{file_id}/notes", data={"notes": "changed", **sent})
        assert resp.status_code == 400, sent
        assert "reload the page" in resp.get_data(as_text=True)
        assert client.post(f"/records/{file_id}/delete", data=sent).status_code == 400
        assert client.post("/signout", data=sent).status_code == 400
    resp = client.post("/upload", data={"patient_name": "x"}, headers=XHR)
    assert resp.status_code == 400 and resp.json["code"] == "csrf_failed"
    page = client.get(f"/records/{file_id}").get_data(as_text=True)
    assert "changed" not in page  # notes untouched, record still there
    # The header works as well as the form field (the upload script sends the header).
    resp = client.post(
        f"/records/{file_id}/notes", data={"notes": "checked"}, headers={"X-CSRF-Token": token}
    )
    assert resp.status_code == 302
    assert "checked</textarea>" in client.get(f"/records/{file_id}").get_data(as_text=True)


def test_sign_in_is_refused_without_csrf_and_with_a_wrong_password(client):
    register(client)
    data = {"username": "alice", "password": PASSWORD}
    assert client.post("/signin", data=data).status_code == 400
    token = _csrf(client)
    resp = client.post("/signin", data={**data, "password": "wrong", "csrf_token": token})
    assert resp.status_code == 401 and "Wrong user name or password" in resp.get_data(as_text=True)
    assert client.get("/records").status_code == 302


def test_session_expires(client, monkeypatch):
    _sign_in(client)
    assert client.get("/records").status_code == 200
    hours = client.application.extensions["hearteye"].settings.web_session_s
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + hours + 1)
    resp = client.get("/records", follow_redirects=True)
    assert "Your session has expired" in resp.get_data(as_text=True)
    assert "<h1>Sign in</h1>" in resp.get_data(as_text=True)


def test_sign_out_revokes_a_copied_cookie(client):
    token = _sign_in(client)
    cookie = client.get_cookie("hearteye_session").value
    thief = client.application.test_client()
    thief.set_cookie("hearteye_session", cookie)
    assert thief.get("/records").status_code == 200
    assert client.post("/signout", data={"csrf_token": token}).status_code == 302
    resp = thief.get("/records", follow_redirects=True)
    assert "You were signed out" in resp.get_data(as_text=True)


def test_user_values_are_escaped(client):
    token = _sign_in(client)
    file_id = _upload(client, token, name=XSS, notes="<script>alert(2)</script>")
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    for path in (f"/records/{file_id}", "/records", f"/records/{file_id}/delete", "/records?q=<b>"):
        html = client.get(path).get_data(as_text=True)
        assert "<img src=x" not in html and "<script>alert" not in html and "<b>" not in html
    assert escaped in client.get(f"/records/{file_id}").get_data(as_text=True)
    assert escaped in client.get("/records").get_data(as_text=True)


def test_pages_carry_a_strict_csp_and_templates_no_inline_code(client):
    _sign_in(client)
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert client.get("/").headers["Cache-Control"] == "no-store"
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\ssrc=)", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text), template.name  # no event handlers
        assert "style=" not in text and "<style" not in text, template.name
    # The JSON API keeps its own, stricter policy.
    assert client.get("/health").headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_other_users_records_are_not_found(client):
    token = _sign_in(client)
    file_id = _upload(client, token)
    other = client.application.test_client()
    other_token = _sign_in(other, "mallory")
    for path in (f"/records/{file_id}", f"/records/{file_id}/plot.png"):
        assert other.get(path).status_code == 404
    assert other.get(f"/records/{file_id}/leads.json").status_code == 404
    resp = other.post(f"/records/{file_id}/delete", data={"csrf_token": other_token})
    assert resp.status_code == 404
    assert "Jane Doe" not in other.get("/records").get_data(as_text=True)
    assert client.get(f"/records/{file_id}").status_code == 200


def test_the_api_ignores_the_web_session(client):
    _sign_in(client)
    # The cookie is not an API credential: the JSON API still wants its bearer token.
    assert client.get("/history").status_code == 401
    tokens = login(client)
    assert client.get("/history", headers=bearer(tokens["access_token"])).status_code == 200


def test_no_open_redirect_after_sign_in(client):
    register(client)
    token = _csrf(client)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        data = {"csrf_token": token, "username": "alice", "password": PASSWORD, "next": target}
        resp = client.post("/signin", data=data)
        assert resp.headers["Location"] == "/", target
        token = _csrf(client, "/records")  # signed in now; a fresh token for the next round
        client.post("/signout", data={"csrf_token": token})
        token = _csrf(client)


def test_upload_errors_read_as_the_service_wrote_them(client):
    token = _sign_in(client)
    resp = client.post(
        "/upload",
        data={
            "csrf_token": token,
            "patient_name": "x",
            "file": [(FIXTURES / "SOURCE.md").open("rb")],
        },
        headers=XHR,
        content_type="multipart/form-data",
    )
    api = client.post(
        "/predict",
        data={"patient_name": "x", "file": [(FIXTURES / "SOURCE.md").open("rb")]},
        headers=bearer(login(client)["access_token"]),
        content_type="multipart/form-data",
    )
    assert resp.status_code == api.status_code >= 400
    assert resp.json["error"] == api.json["error"] and resp.json["code"] == api.json["code"]
    # Without the script (a plain form post) the page shows the same message.
    resp = client.post(
        "/upload",
        data={
            "csrf_token": token,
            "patient_name": "",
            "file": [(FIXTURES / "SOURCE.md").open("rb")],
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400 and "patient name" in resp.get_data(as_text=True)


def test_history_search_filter_sort_and_pages(client, monkeypatch):
    from hearteye.api.web import views

    token = _sign_in(client)
    # Verdicts of the shipped models: LUDB 1 (sinus bradycardia, LVH) and 24 (LBBB) abnormal,
    # 119 normal.
    _upload(client, token, name="Zoe Abnormal", record="1")
    _upload(client, token, name="Adam Normal", record="119")
    _upload(client, token, name="Mia Abnormal", record="24")

    def names(query: str) -> list[str]:
        html = client.get("/records" + query).get_data(as_text=True)
        return re.findall(r'<th scope="row"><a href="/records/[^"]+">([^<]+)</a>', html)

    assert names("") == ["Mia Abnormal", "Adam Normal", "Zoe Abnormal"]  # newest first
    assert names("?sort=oldest") == ["Zoe Abnormal", "Adam Normal", "Mia Abnormal"]
    assert names("?sort=patient") == ["Adam Normal", "Mia Abnormal", "Zoe Abnormal"]
    assert names("?verdict=Normal") == ["Adam Normal"]
    assert names("?verdict=Abnormal&sort=patient") == ["Mia Abnormal", "Zoe Abnormal"]
    assert names("?q=mia") == ["Mia Abnormal"]
    assert names("?q=%25") == []  # a typed % matches itself, not everything
    monkeypatch.setattr(views, "PER_PAGE", 2)
    assert names("?sort=patient&page=2") == ["Zoe Abnormal"]
    html = client.get("/records?sort=patient").get_data(as_text=True)
    assert "Page 1 of 2" in html and "page=2" in html
    assert names("?page=abc") == ["Mia Abnormal", "Adam Normal"]  # a bad page is page 1


def test_signup_validates_and_refuses_taken_names(client):
    token = _csrf(client, "/signup")
    bad = {"csrf_token": token, "username": "a", "email": "no", "password": "short"}
    resp = client.post("/signup", data={**bad, "password2": "short"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'aria-invalid="true"' in html
    good = {
        "csrf_token": token,
        "username": "bob",
        "email": "bob@example.org",
        "password": PASSWORD,
        "password2": PASSWORD,
    }
    assert client.post("/signup", data={**good, "password2": "different"}).status_code == 400
    assert client.post("/signup", data=good).status_code == 302
    resp = client.post("/signup", data=good)
    assert resp.status_code == 409 and "already registered" in resp.get_data(as_text=True)
    assert login(client, "bob")["user"]["username"] == "bob"  # the API sees the same account


@pytest.mark.parametrize("path", ["/web/static/app.css", "/web/static/upload.js"])
def test_static_files_are_served(client, path):
    resp = client.get(path)
    assert resp.status_code == 200 and len(resp.data) > 500


def test_sign_in_attempts_are_rate_limited(make_app):
    client = make_app(ratelimit_login="3 per minute").test_client()
    token = _csrf(client)
    data = {"csrf_token": token, "username": "nobody", "password": "wrong password"}
    assert [client.post("/signin", data=data).status_code for _ in range(3)] == [401] * 3
    resp = client.post("/signin", data=data)
    assert resp.status_code == 429 and resp.mimetype == "text/html"
    assert "too many attempts" in resp.get_data(as_text=True)
    assert client.get("/signin").status_code == 200  # reading the page is not limited


def test_templates_and_static_files_are_package_data():
    """A non-editable install ships exactly what is on disk: every template and static file
    matches a package-data pattern of pyproject.toml."""
    import tomllib

    root = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["hearteye"]
    package = root / "src" / "hearteye"
    shipped = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    web = package / "api" / "web"
    on_disk = {p for d in ("templates", "static") for p in (web / d).rglob("*") if p.is_file()}
    assert on_disk and on_disk <= shipped, sorted(str(p) for p in on_disk - shipped)


def test_statements_and_device_measurements_render_when_the_summary_has_them(client):
    """The interpretation and the device's measurements render from the summary's keys,
    escaped, each statement coloured by its severity: first the analysis's own statements,
    then a summary edited to hold hostile text and the device's figures."""
    from sqlalchemy import select

    from hearteye.api import db
    from hearteye.api.models import Ecg

    token = _sign_in(client)
    file_id = _upload(client, token)
    page = client.get(f"/records/{file_id}").get_data(as_text=True)
    # LUDB 1: the analysis's own statements; a WFDB upload carries no device measurements.
    assert "Sinus bradycardia" in page and "Borderline ECG" in page
    assert "not read from this format yet" in page
    with client.application.app_context():
        s = db.session()
        ecg = s.execute(select(Ecg).where(Ecg.file_id == file_id)).scalar_one()
        ecg.summary = {
            **ecg.summary,
            "interpretation": {"overall": "Abnormal ECG <b>check</b>"},
            "statements": [
                {"code": "SB", "text": "Sinus bradycardia", "severity": "minor"},
                {"code": "LVH", "text": "Left ventricular hypertrophy", "severity": "major"},
                {"code": "X", "text": "odd", "severity": 'bad" onclick="x'},
            ],
            "device_measurements": {
                "heart_rate": {"value": 46, "unit": "bpm", "low": 60, "high": 100, "flag": "low"},
                "qrs_duration": {"value": 104, "unit": "ms"},
            },
        }
        s.commit()
    page = client.get(f"/records/{file_id}").get_data(as_text=True)
    assert "Abnormal ECG &lt;b&gt;check&lt;/b&gt;" in page
    assert 'class="severity severity-minor"' in page and "Sinus bradycardia" in page
    assert 'class="severity severity-major"' in page and "Left ventricular hypertrophy" in page
    assert "onclick" not in page and "severity-info" in page  # an odd severity is neutralised
    device = page.split('id="device-heading"')[1].split("</section>")[0]
    assert "Heart rate" in device and ">46<" in device and "60 – 100" in device
    assert "QRS duration" in device and ">104<" in device


def test_too_large_upload_is_refused_with_the_limit(make_app):
    client = make_app(max_upload_mb=1).test_client()
    token = _sign_in(client)
    big = b"\0" * (2 << 20)
    resp = client.post(
        "/upload",
        data={"csrf_token": token, "patient_name": "x", "file": [(io.BytesIO(big), "a.edf")]},
        headers={**XHR, "X-CSRF-Token": token},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 413 and "exceeds 1 MiB" in resp.json["error"]


def test_the_record_page_links_the_exports_and_they_download(client):
    """The record page's downloads are the API's export files, behind the web session; the
    same link for another user's record is not found."""
    token = _sign_in(client)
    fid = _upload(client, token)
    html = client.get(f"/records/{fid}").get_data(as_text=True)
    kinds = ("report.pdf", "measurements.csv", "fhir.json", "ecg.dcm")
    for kind in kinds:
        assert f"/records/{fid}/download/{kind}" in html
    magic = {"report.pdf": b"%PDF-", "ecg.dcm": b"DICM", "fhir.json": b'{"resourceType":"Bundle"'}
    for kind in kinds:
        resp = client.get(f"/records/{fid}/download/{kind}")
        assert resp.status_code == 200, kind
        assert resp.headers["Content-Disposition"].startswith("attachment")
        assert resp.headers["Cache-Control"] == "no-store"
        body = resp.get_data()
        if kind == "ecg.dcm":
            assert body[128:132] == magic[kind]
        elif kind in magic:
            assert body.startswith(magic[kind])
        else:
            assert body.decode().splitlines()[0].startswith("name,")
    a4 = client.get(f"/records/{fid}/download/report.pdf").get_data()
    letter = client.get(f"/records/{fid}/download/report.pdf?paper=letter").get_data()
    assert b"/MediaBox [ 0 0 841.8897637795 595.2755905512 ]" in a4  # landscape A4, points
    assert b"/MediaBox [ 0 0 792 612 ]" in letter  # landscape Letter
    assert client.get(f"/records/{fid}/download/report.pdf?paper=a0").status_code == 404
    assert client.get(f"/records/{fid}/download/secrets.txt").status_code == 404
    client.post("/signout", data={"csrf_token": token})
    _sign_in(client, "mallory")
    assert client.get(f"/records/{fid}/download/report.pdf").status_code == 404
