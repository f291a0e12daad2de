"""`hearteye serve` for real: gunicorn workers over HTTP, accounts and probes end to end.
(The upload session over HTTP is in test_predict.py.)"""

from __future__ import annotations

import secrets

import pytest
import requests

pytestmark = pytest.mark.slow


def test_served_accounts_and_probes(live_server):
    s = requests.Session()
    name = "u" + secrets.token_hex(4)
    health = s.get(f"{live_server}/health", timeout=10).json()
    assert health["database"] == "ok" and health["storage"] == "ok"
    assert s.get(f"{live_server}/openapi.json", timeout=10).json()["paths"]
    r = s.post(
        f"{live_server}/auth/register",
        timeout=10,
        json={"username": name, "email": f"{name}@example.org", "password": "a long password"},
    )
    assert r.status_code == 201
    tokens = s.post(
        f"{live_server}/auth/login",
        timeout=10,
        json={"username": name, "password": "a long password"},
    ).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    # Several requests: they land on both workers, which share the revocation store.
    for _ in range(6):
        assert s.get(f"{live_server}/auth/me", headers=headers, timeout=10).status_code == 200
    assert s.post(f"{live_server}/auth/logout", headers=headers, timeout=10).status_code == 200
    for _ in range(6):
        r = s.get(f"{live_server}/history", headers=headers, timeout=10)
        assert r.status_code == 401 and r.json()["code"] == "token_revoked"
