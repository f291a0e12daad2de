"""The web app's sign-in: a signed cookie session, its expiry, its revocation, and CSRF.

Rules, and why:
- The session is Flask's cookie signed with ``SECRET_KEY``; it holds the user id, a random
  session id, the expiry time and a CSRF token, nothing personal. The cookie is ``HttpOnly``
  (no script can read it), ``SameSite=Lax`` (browsers do not send it on cross-site POSTs) and
  ``Secure`` in production or whenever the request arrived over HTTPS (directly, or through a
  trusted proxy that says so), so it never travels in clear text there.
- A sign-in lasts ``WEB_SESSION_SECONDS`` (default 8 h, one shift) from the moment of signing
  in; the next request after that goes to the sign-in page, which says the session expired.
- Signing out revokes the session id in the store that revokes the API's tokens (the
  ``revoked_tokens`` table or Redis): a copy of the cookie stops working too, not only the
  browser's own.
- Every state-changing request must carry the session's CSRF token, as the form field
  ``csrf_token`` or the ``X-CSRF-Token`` header, compared in constant time. The token is
  renewed at sign-in and sign-out, so a token planted before sign-in is useless after it.
- The API's JWT flow does not read this cookie: ``Authorization: Bearer`` stays the only way
  into the JSON API.
"""

from __future__ import annotations

import hmac
import secrets
import time

from flask import Flask, current_app, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface

from hearteye.api import db
from hearteye.api.config import Settings
from hearteye.api.errors import ApiError
from hearteye.api.models import User

COOKIE_NAME = "hearteye_session"
_REVOKED_PREFIX = "web:"


class CsrfError(ApiError):
    code = "csrf_failed"
    http_status = 400


class _Interface(SecureCookieSessionInterface):
    """Secure when configured (production) and also whenever the request itself is HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = bool(app.config["SESSION_COOKIE_SECURE"])
        return configured or (has_request_context() and request.is_secure)


def configure(app: Flask, settings: Settings) -> None:
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
    )
    app.session_interface = _Interface()


def _settings() -> Settings:
    return current_app.extensions["hearteye"].settings


def _revocations():
    return current_app.extensions["hearteye"].revocations


def sign_in(user: User) -> None:
    session.clear()  # nothing from before the sign-in survives it (no fixation)
    session.update(
        uid=user.id,
        sid=secrets.token_urlsafe(16),
        exp=int(time.time()) + _settings().web_session_s,
        csrf=secrets.token_urlsafe(32),
    )
    g.pop("web_user", None)


def sign_out() -> None:
    sid, uid, exp = session.get("sid"), session.get("uid"), session.get("exp")
    if sid and exp:
        _revocations().revoke(_REVOKED_PREFIX + sid, uid, int(exp))
    session.clear()
    session["csrf"] = secrets.token_urlsafe(32)
    g.pop("web_user", None)


def signed_in_user() -> tuple[User | None, str | None]:
    """The signed-in user, or None and why not: None (never signed in), "expired",
    "signed_out" (revoked) or "account_gone"."""
    if "web_user" in g:
        return g.web_user
    g.web_user = _lookup()
    return g.web_user


def _lookup() -> tuple[User | None, str | None]:
    uid, sid, exp = session.get("uid"), session.get("sid"), session.get("exp")
    if uid is None:
        return None, None
    reason = None
    if not isinstance(exp, int) or exp <= time.time():
        reason = "expired"
    elif not sid or _revocations().is_revoked(_REVOKED_PREFIX + str(sid)):
        reason = "signed_out"
    user = db.session().get(User, uid) if reason is None else None
    if user is None:
        session.clear()
        return None, reason or "account_gone"
    return user, None


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    expected = session.get("csrf") or ""
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfError(
            "this form has expired or did not come from HeartEye; reload the page and try again"
        )
