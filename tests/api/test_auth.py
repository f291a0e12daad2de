"""Accounts and tokens: register, login, refresh, me, logout, and every 401 path."""

from __future__ import annotations

import base64
import json
import secrets
import time

import jwt as pyjwt
import pytest
from sqlalchemy import select

from hearteye.api.models import User

from .api_helpers import PASSWORD, TEST_SECRET, assert_error, bearer, login, register


def test_register_returns_the_user_without_the_password(client):
    resp = client.post(
        "/auth/register",
        json={"username": "alice", "email": "Alice@Example.org", "password": PASSWORD},
    )
    assert resp.status_code == 201
    body = resp.json
    assert set(body) == {"message", "user"}
    assert body["user"] == {
        "id": body["user"]["id"],
        "username": "alice",
        "email": "alice@example.org",
    }
    assert PASSWORD not in resp.get_data(as_text=True)


def test_password_is_stored_as_argon2id(app, client):
    register(client)
    with app.extensions["hearteye"].sessions() as s:
        user = s.execute(select(User)).scalar_one()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


@pytest.mark.parametrize(
    "field, value",
    [
        ("username", "al"),
        ("username", "with space"),
        ("email", "not-an-email"),
        ("password", "short"),
        ("password", None),
    ],
)
def test_register_rejects_invalid_fields(client, field, value):
    body = {"username": "alice", "email": "alice@example.org", "password": PASSWORD}
    if value is None:
        del body[field]
    else:
        body[field] = value
    err = assert_error(client.post("/auth/register", json=body), 400, "validation_error")
    assert field in err["details"]["fields"]
    assert field in err["error"]


def test_register_conflicts_on_taken_username_or_email(client):
    register(client)
    assert_error(
        client.post(
            "/auth/register",
            json={"username": "ALICE", "email": "new@example.org", "password": PASSWORD},
        ),
        409,
        "account_exists",
    )
    assert_error(
        client.post(
            "/auth/register",
            json={"username": "alice2", "email": "ALICE@example.org", "password": PASSWORD},
        ),
        409,
        "account_exists",
    )


def test_register_rejects_non_json(client):
    resp = client.post("/auth/register", data="username=alice")
    assert resp.status_code in (400, 415)
    assert_error(resp, resp.status_code)


def test_login_returns_tokens_and_user(client):
    user = register(client)
    body = login(client)
    assert set(body) == {"access_token", "refresh_token", "user"}
    assert body["user"] == user
    assert login(client, "alice@example.org")["user"] == user  # e-mail works as the name


@pytest.mark.parametrize("username, password", [("alice", "wrong password"), ("nobody", PASSWORD)])
def test_login_bad_credentials_401_same_message(client, username, password):
    register(client)
    err = assert_error(
        client.post("/auth/login", json={"username": username, "password": password}),
        401,
        "invalid_credentials",
    )
    assert err["error"] == "wrong user name or password"


def test_me_and_refresh(client):
    register(client)
    tokens = login(client)
    assert (
        client.get("/auth/me", headers=bearer(tokens["access_token"])).json["username"] == "alice"
    )
    resp = client.post("/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert resp.status_code == 200
    assert client.get("/auth/me", headers=bearer(resp.json["access_token"])).status_code == 200


def test_token_types_are_not_interchangeable(client):
    register(client)
    tokens = login(client)
    assert_error(client.get("/auth/me", headers=bearer(tokens["refresh_token"])), 401)
    assert_error(client.post("/auth/refresh", headers=bearer(tokens["access_token"])), 401)


def test_logout_revokes_the_token_at_once(client):
    register(client)
    tokens = login(client)
    headers = bearer(tokens["access_token"])
    resp = client.post(
        "/auth/logout", headers=headers, json={"refresh_token": tokens["refresh_token"]}
    )
    assert resp.status_code == 200
    assert_error(client.get("/auth/me", headers=headers), 401, "token_revoked")
    assert_error(client.get("/history", headers=headers), 401, "token_revoked")
    assert_error(
        client.post("/auth/refresh", headers=bearer(tokens["refresh_token"])), 401, "token_revoked"
    )
    # A fresh login still works.
    assert client.get("/auth/me", headers=bearer(login(client)["access_token"])).status_code == 200


def test_logout_is_visible_to_another_app_on_the_same_database(make_app, client):
    """Revocation lives in the database: a second worker refuses the token too."""

    register(client)
    headers = bearer(login(client)["access_token"])
    other = make_app().test_client()
    assert other.get("/auth/me", headers=headers).status_code == 200
    client.post("/auth/logout", headers=headers)
    assert_error(other.get("/auth/me", headers=headers), 401, "token_revoked")


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def test_bad_tokens_are_401_with_the_error_shape(client):
    register(client)
    access = login(client)["access_token"]
    header, payload, sig = access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered = ".".join([header, _b64({**claims, "sub": "999"}), sig])
    alg_none = ".".join([_b64({"alg": "none", "typ": "JWT"}), _b64(claims), ""])
    other_key = pyjwt.encode(claims, "another-secret-" + "y" * 40, algorithm="HS256")
    expired = pyjwt.encode({**claims, "exp": int(time.time()) - 10}, TEST_SECRET, algorithm="HS256")
    forever = pyjwt.encode(
        {k: v for k, v in claims.items() if k != "exp"}, TEST_SECRET, algorithm="HS256"
    )  # the right key, but no expiry
    for token, code in [
        (tampered, "invalid_token"),
        (alg_none, "invalid_token"),
        (other_key, "invalid_token"),
        (expired, "token_expired"),
        (forever, "invalid_token"),
        ("garbage", "invalid_token"),
    ]:
        assert_error(client.get("/auth/me", headers=bearer(token)), 401, code)
    assert_error(client.get("/auth/me"), 401, "missing_token")
    assert_error(client.get("/auth/me", headers={"Authorization": "Basic abc"}), 401)


def test_token_of_deleted_user_is_refused(app, client):
    register(client)
    headers = bearer(login(client)["access_token"])
    with app.extensions["hearteye"].sessions() as s:
        s.delete(s.execute(select(User)).scalar_one())
        s.commit()
    assert_error(client.get("/auth/me", headers=headers), 401, "user_not_found")


def test_login_is_rate_limited(make_app):

    client = make_app(ratelimit_login="3 per minute").test_client()
    for _ in range(3):
        client.post("/auth/login", json={"username": "x", "password": "wrong password"})
    resp = client.post("/auth/login", json={"username": "x", "password": "wrong password"})
    err = assert_error(resp, 429, "rate_limited")
    assert "Retry-After" in resp.headers
    assert "try again" in err["error"]


@pytest.fixture
def redis_url():
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        # Database 15 is the tests' own. The server outlives a test run (CI runs on the same
        # machine right after the session), so counts left by an earlier run are cleared.
        redis.Redis.from_url(url, socket_connect_timeout=1).flushdb()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {url}: {type(exc).__name__}")
    return url


def test_revocation_and_rate_limits_in_redis(make_app, redis_url):
    """With REDIS_URL, a logout is seen by every app (worker) and limits are shared."""
    first = make_app(redis_url=redis_url, ratelimit_login="1000 per minute").test_client()
    second = make_app(redis_url=redis_url).test_client()
    register(first)
    headers = bearer(login(first)["access_token"])
    assert second.get("/auth/me", headers=headers).status_code == 200
    assert first.post("/auth/logout", headers=headers).status_code == 200
    assert_error(second.get("/auth/me", headers=headers), 401, "token_revoked")
    name = "nobody-" + secrets.token_hex(4)
    a = make_app(redis_url=redis_url, ratelimit_login="2 per minute").test_client()
    b = make_app(redis_url=redis_url, ratelimit_login="2 per minute").test_client()
    for client in (a, b):
        client.post(
            "/auth/login",
            json={"username": name, "password": "wrong password"},
            environ_base={"REMOTE_ADDR": "10.9.8.7"},
        )
    assert_error(
        a.post(
            "/auth/login",
            json={"username": name, "password": "x"},
            environ_base={"REMOTE_ADDR": "10.9.8.7"},
        ),
        429,
    )
