"""The original React client's calls made by a real browser (headless Chromium) from another
origin against `hearteye serve`: the browser itself enforces CORS, so a missing
``Access-Control-Allow-Credentials`` or an unexposed ``X-Total-Count`` fails here as it failed
for the client. Requests are sent as axios sends them with ``withCredentials: true`` (the
fetch equivalent: ``credentials: "include"``), each with its bearer token.

Skips with the reason when Playwright or a Chromium executable is missing (Debian's
``apt-get install chromium``; Playwright's own browser download is not used)."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import threading
from functools import partial

import pytest

from .api_helpers import FIXTURES, served

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
CHROMIUM = os.environ.get("HEARTEYE_CHROMIUM") or shutil.which("chromium")
pytestmark = [
    # A gunicorn server and a browser start: ~15 s together, over the fast lane's budget.
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="no Chromium executable (apt-get install chromium)"),
]

# One page, the client's calls in order (src/services/authService.ts and ecgService.ts).
CLIENT_JS = """
async (api) => {
  const call = async (method, path, body, token, isForm) => {
    const headers = {};
    if (token) headers["Authorization"] = "Bearer " + token;
    if (body !== undefined && !isForm) headers["Content-Type"] = "application/json";
    const resp = await fetch(api + path, {
      method, headers, credentials: "include",
      body: body === undefined ? undefined : (isForm ? body : JSON.stringify(body)),
    });
    return {status: resp.status, total: resp.headers.get("X-Total-Count"),
            body: await resp.json()};
  };
  const out = {};
  const user = {username: "clinician", email: "c@example.org", password: "a long password"};
  out.register = await call("POST", "/auth/register", user);
  out.login = await call("POST", "/auth/login", {username: user.username,
                                                 password: user.password});
  const token = out.login.body.access_token;
  const form = new FormData();
  for (const name of ["1.hea", "1.dat"]) {
    form.append("file", await (await fetch("/" + name)).blob(), name);
  }
  form.append("patient_name", "Jane Doe");
  form.append("age", "51");
  form.append("gender", "F");
  out.predict = await call("POST", "/predict", form, token, true);
  const fileId = out.predict.body.file_id;
  out.history = await call("GET", "/history", undefined, token);
  out.detail = await call("GET", "/ecg/" + fileId, undefined, token);
  out.notes = await call("PUT", "/ecg/" + fileId + "/notes", {notes: "recheck"}, token);
  out.leads = await call("GET", "/ecg/" + fileId + "/leads", undefined, token);
  out.leads.body = {n_leads: out.leads.body.leads.length, pq: out.leads.body.pq_interval};
  return out;
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args):
        pass


@pytest.fixture(scope="module")
def chromium(api_url):  # after the server, so the browser closes first
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page_origin(tmp_path_factory):
    """A static site on its own port (another origin) serving LUDB record 1."""
    site = tmp_path_factory.mktemp("site")
    (site / "index.html").write_text(
        '<!doctype html><title>client</title><link rel="icon" href="data:,">'
    )
    for name in ("1.hea", "1.dat"):
        shutil.copy(FIXTURES / "ludb" / name, site / name)
    handler = partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def api_url(tmp_path_factory, page_origin):
    """`hearteye serve` (one worker, SQLite) allowing ``page_origin``."""
    tmp_path = tmp_path_factory.mktemp("served")
    database = f"sqlite:///{tmp_path / 'served.db'}"
    with served(tmp_path, workers=1, DATABASE_URL=database, CORS_ORIGINS=page_origin) as url:
        yield url


def test_the_original_clients_session_in_a_real_browser(chromium, page_origin, api_url):
    page = chromium.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("requestfailed", lambda r: errors.append(f"{r.url}: {r.failure}"))
    page.goto(page_origin + "/index.html")
    out = page.evaluate(CLIENT_JS, api_url)
    assert errors == []
    assert out["register"]["status"] == 201 and out["login"]["status"] == 200
    assert out["predict"]["status"] == 201, out["predict"]
    fid = out["predict"]["body"]["file_id"]
    assert out["history"]["status"] == 200 and out["history"]["total"] == "1"  # exposed
    assert [r["file_id"] for r in out["history"]["body"]] == [fid]
    assert out["detail"]["body"]["intervals"]["pq_interval_ms"] is not None
    assert out["notes"]["body"]["notes"] == "recheck"
    assert out["leads"]["body"] == {
        "n_leads": 12,
        "pq": out["detail"]["body"]["intervals"]["pq_interval_ms"],
    }


def test_a_page_from_an_unlisted_origin_is_blocked_by_the_browser(chromium, api_url):
    page = chromium.new_page()
    other = f"http://localhost:{_free_port()}"  # never listed in CORS_ORIGINS
    page.route(
        other + "/", lambda route: route.fulfill(body="<!doctype html>", content_type="text/html")
    )
    page.goto(other + "/")
    outcome = page.evaluate(
        """async (api) => {
             try {
               await fetch(api + "/auth/login", {method: "POST", credentials: "include",
                 headers: {"Content-Type": "application/json"}, body: "{}"});
               return "answered";
             } catch (e) { return "blocked: " + e.name; }
           }""",
        api_url,
    )
    assert outcome == "blocked: TypeError"
