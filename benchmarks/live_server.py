"""A real `hearteye serve` (gunicorn) on a free loopback port, for the benchmark scripts."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def start_server(database_url: str | None, workers: int, folder: Path) -> tuple:
    """Start the service on SQLite in ``folder`` (or ``database_url``); returns (proc, url).

    Secrets are fresh per run; rate limits are raised so a benchmark measures the service,
    not the login throttle. Exits with the server's log when it does not become ready.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEARTEYE_", "S3_"))}
    env.update(
        HEARTEYE_DATA_DIR=str(folder / "data"),
        LOG_LEVEL="WARNING",
        JWT_SECRET_KEY=secrets.token_urlsafe(48),
        SECRET_KEY=secrets.token_urlsafe(48),
        RATELIMIT_LOGIN="1000 per minute",
        RATELIMIT_REGISTER="1000 per minute",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed by stop_server
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hearteye.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc.log = log
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    sys.exit("server did not start:\n" + (folder / "server.log").read_text()[-3000:])


def stop_server(proc) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.log.close()


def new_account(url: str, prefix: str) -> dict:
    """Register and log in a fresh user; returns the Authorization header."""
    import requests

    name = prefix + secrets.token_hex(4)
    password = "benchmark password"
    requests.post(
        f"{url}/auth/register",
        timeout=60,
        json={"username": name, "email": f"{name}@example.org", "password": password},
    ).raise_for_status()
    token = requests.post(
        f"{url}/auth/login", timeout=60, json={"username": name, "password": password}
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}
