"""Browser fixtures: a real HeartEye server in a thread and Debian's Chromium driven by
Playwright. Everything skips, with the reason, when Playwright or Chromium is missing
(``apt-get install chromium``; Playwright's own browser download is never used)."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "out" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FAST_ARGON2 = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


def _chromium() -> str | None:
    explicit = os.environ.get("HEARTEYE_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set HEARTEYE_CHROMIUM)")
    pw = sync_api.sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    except Exception as exc:
        pw.stop()
        pytest.skip(f"Chromium at {executable} did not start: {exc}")
    yield browser
    browser.close()
    pw.stop()


@pytest.fixture
def server(tmp_path):
    """The service (SQLite and local storage in tmp) on 127.0.0.1, a free port, in a thread."""
    from werkzeug.serving import make_server

    from hearteye.api import create_app
    from hearteye.api.config import Settings

    secret = "browser-test-" + "k" * 40
    app = create_app(
        Settings(
            data_dir=tmp_path / "data",
            jwt_secret_key=secret,
            secret_key=secret[::-1],
            log_level="WARNING",
            extra={"ARGON2_PARAMS": FAST_ARGON2},
        )
    )
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)
    app.extensions["hearteye"].engine.dispose()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
