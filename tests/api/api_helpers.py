"""Helpers shared by the service tests (importable: tests/api is on sys.path)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TEST_SECRET = "test-" + "x" * 40
PASSWORD = "correct horse battery"


def register(client, username="alice", password=PASSWORD, email=None):
    resp = client.post(
        "/auth/register",
        json={
            "username": username,
            "email": email or f"{username}@example.org",
            "password": password,
        },
    )
    assert resp.status_code == 201, resp.json
    return resp.json["user"]


def login(client, username="alice", password=PASSWORD) -> dict:
    resp = client.post("/auth/login", json={"username": username, "password": password})
    assert resp.status_code == 200, resp.json
    return resp.json


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_error(resp, status: int, code: str | None = None) -> dict:
    """The response is an error of the one shape, with a string message."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:500])
    body = resp.get_json()
    assert set(body) == {"error", "code", "details"}, body
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["details"], dict)
    if code is not None:
        assert body["code"] == code, body
    text_ = resp.get_data(as_text=True)
    assert "Traceback" not in text_ and "/work/" not in text_ and "site-packages" not in text_
    return body


# ----------------------------------------------------------------------------- uploads


def ludb_files(record: str = "1") -> list[tuple[str, bytes]]:
    base = FIXTURES / "ludb"
    return [
        (f"{record}.hea", (base / f"{record}.hea").read_bytes()),
        (f"{record}.dat", (base / f"{record}.dat").read_bytes()),
    ]


def zipped(files: list[tuple[str, bytes]], name: str = "record.zip") -> tuple[str, bytes]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for fname, data in files:
            zf.writestr(fname, data)
    return name, buf.getvalue()


def form(files: list[tuple[str, bytes]], **fields) -> dict:
    data = {"patient_name": "Jane Doe", "age": "51", "gender": "F"}
    data.update({k: v for k, v in fields.items() if v is not None})
    data["file"] = [(io.BytesIO(content), name) for name, content in files]
    return data


def three_lead_files(folder: Path) -> list[tuple[str, bytes]]:
    """LUDB record 1 cut to leads I, II and V1, written as WFDB (format 16) into ``folder``."""
    import wfdb

    rec = wfdb.rdrecord(str(FIXTURES / "ludb" / "1"), channels=[0, 1, 6])
    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        "three",
        fs=rec.fs,
        units=["mV"] * 3,
        sig_name=["I", "II", "V1"],
        d_signal=rec.d_signal if rec.d_signal is not None else None,
        p_signal=None if rec.d_signal is not None else rec.p_signal,
        fmt=["16"] * 3,
        adc_gain=rec.adc_gain,
        baseline=rec.baseline,
        write_dir=str(folder),
    )
    return [(name, (folder / name).read_bytes()) for name in ("three.hea", "three.dat")]


def edf_file(name: str = "ludb_119.edf") -> tuple[str, bytes]:
    return name, (FIXTURES / "edf" / name).read_bytes()


@contextlib.contextmanager
def served(folder: Path, workers: int = 1, **env_extra: str):
    """`hearteye serve` (gunicorn) on a free loopback port with the test secrets, data in
    ``folder``, plus ``env_extra``; yields its base URL and stops it (SIGTERM) afterwards.
    Fails the test with the server's log when it does not become ready within 60 s."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEARTEYE_", "S3_"))}
    env.update(
        HEARTEYE_DATA_DIR=str(folder / "served"),
        JWT_SECRET_KEY=TEST_SECRET,
        SECRET_KEY=TEST_SECRET[::-1],
        LOG_LEVEL="WARNING",
        **env_extra,
    )
    cmd = [sys.executable, "-m", "hearteye.cli", "serve", "--port", str(port)]
    with open(folder / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [*cmd, "--workers", str(workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(proc, url, folder)
            yield url
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_ready(proc, url: str, folder: Path) -> None:
    import pytest

    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("server did not start:\n" + (folder / "server.log").read_text()[-3000:])
        time.sleep(0.3)
