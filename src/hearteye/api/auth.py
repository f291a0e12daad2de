"""Accounts and tokens: register, login, refresh, logout (revocation), me.

Passwords are hashed with argon2id. Access and refresh tokens are JWTs (HS256 only; ``none``
and other algorithms are refused by the decoder). Logout writes the token's ``jti`` to the
revocation store (Redis when configured, else the ``revoked_tokens`` table), checked on every
request, so a revoked token stops working at once in every worker.
"""

from __future__ import annotations

from datetime import UTC, datetime

from apiflask import APIBlueprint
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    current_user,
    decode_token,
    get_jwt,
    jwt_required,
)
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from hearteye.api import db
from hearteye.api.errors import Conflict, Unauthorized, error_response
from hearteye.api.models import RevokedToken, User, utcnow
from hearteye.api.schemas import (
    LoginIn,
    LoginOut,
    LogoutIn,
    MessageOut,
    RefreshOut,
    RegisterIn,
    RegisterOut,
    UserOut,
)
from hearteye.api.services import teams

bp = APIBlueprint("auth", __name__, url_prefix="/auth", tag="Accounts")
BEARER = "BearerAuth"


def hasher() -> PasswordHasher:
    return current_app.extensions["hearteye"].hasher


# ------------------------------------------------------------------------------ routes


@bp.post("/register")
@bp.input(RegisterIn, arg_name="body")
@bp.output(RegisterOut, status_code=201)
@bp.doc(
    responses={
        400: "invalid fields, or an invitation that is unknown, expired or used",
        409: "user name or e-mail already taken",
    }
)
def register(body):
    """Create an account.

    Without `invitation`, the account gets a team of its own and is its admin. With an
    admin's invitation token, it joins that team with the invited role.
    """
    user = create_user(body["username"], body["email"], body["password"], body.get("invitation"))
    return {"message": "account created; log in with POST /auth/login", "user": user.to_dict()}


def create_user(username: str, email: str, password: str, invitation: str | None = None) -> User:
    """A new account (the API and the web app) in a new team, or in the team of the
    ``invitation`` token; `Conflict` when the name or e-mail is taken, `InvitationInvalid`
    when the token is unknown, expired or used."""
    email = email.strip().lower()
    s = db.session()
    taken = s.execute(
        select(User.username, User.email).where(
            or_(func.lower(User.username) == username.lower(), User.email == email)
        )
    ).first()
    if taken:
        raise _taken(username.lower() == taken.username.lower())
    password_hash = hasher().hash(password)
    try:
        inv = teams.redeem(invitation) if invitation else None
        team = None if inv else teams.new_team(username)
        if team is not None:
            s.flush()
        user = User(
            username=username,
            email=email,
            password_hash=password_hash,
            team_id=inv.team_id if inv else team.id,
            role=inv.role if inv else "admin",
        )
        s.add(user)
        s.flush()
        teams.joined(user, inv, team)
        s.commit()
    except IntegrityError:  # a concurrent registration won the race
        s.rollback()
        raise _taken(None) from None
    except BaseException:
        s.rollback()
        raise
    return user


def _taken(username: bool | None) -> Conflict:
    what = {True: "user name", False: "e-mail address", None: "user name or e-mail address"}
    return Conflict(
        f"that {what[username]} is already registered; log in or choose another",
        code="account_exists",
    )


@bp.post("/login")
@bp.input(LoginIn, arg_name="body")
@bp.output(LoginOut)
@bp.doc(responses={401: "wrong user name or password", 429: "too many attempts"})
def login(body):
    """Exchange a user name (or e-mail) and password for an access and a refresh token."""
    user = authenticate(body["username"], body["password"])
    if user is None:
        raise _bad_credentials()
    identity = str(user.id)
    return {
        "access_token": create_access_token(identity),
        "refresh_token": create_refresh_token(identity),
        "user": user.to_dict(),
    }


def authenticate(name: str, password: str) -> User | None:
    """The account for a user name (or e-mail) and password, or None. Unknown names cost the
    same time as a real check, so response times do not reveal accounts."""
    name = name.strip()
    s = db.session()
    user = (
        s.execute(select(User).where(or_(User.username == name, User.email == name.lower())))
        .scalars()
        .first()
    )
    ph = hasher()
    if user is None:
        _verify(ph, current_app.extensions["hearteye"].dummy_hash, password)
        return None
    if not _verify(ph, user.password_hash, password):
        return None
    if ph.check_needs_rehash(user.password_hash):
        user.password_hash = ph.hash(password)
        s.commit()
    return user


def _verify(ph: PasswordHasher, stored: str, password: str) -> bool:
    try:
        return ph.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _bad_credentials() -> Unauthorized:
    return Unauthorized("wrong user name or password", code="invalid_credentials")


@bp.post("/refresh")
@jwt_required(refresh=True)
@bp.output(RefreshOut)
@bp.doc(security=BEARER, description="Send the refresh token as the Bearer token.")
def refresh():
    """A new access token for a refresh token."""
    return {"access_token": create_access_token(str(current_user.id))}


@bp.post("/logout")
@jwt_required(verify_type=False)
@bp.input(LogoutIn, arg_name="body", location="json_or_form")
@bp.output(MessageOut)
@bp.doc(security=BEARER)
def logout(body):
    """Revoke the token sent (access or refresh), and optionally a refresh token too."""
    store = current_app.extensions["hearteye"].revocations
    claims = get_jwt()
    store.revoke(claims["jti"], current_user.id, claims["exp"])
    other = body.get("refresh_token")
    if other:
        try:
            extra = decode_token(other)
        except Exception:  # an invalid token is revoked already, in effect
            extra = None
        if extra and extra.get("sub") == str(current_user.id):
            store.revoke(extra["jti"], current_user.id, extra["exp"])
    return {"message": "logged out; the token no longer works"}


@bp.get("/me")
@jwt_required()
@bp.output(UserOut)
@bp.doc(security=BEARER)
def me():
    """The logged-in account."""
    return current_user.to_dict()


# ------------------------------------------------------------------------- revocation


class DbRevocations:
    def revoke(self, jti: str, user_id: int | None, exp: int) -> None:
        s = db.session()
        now = utcnow()
        s.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
        if s.get(RevokedToken, jti) is None:
            s.add(
                RevokedToken(
                    jti=jti,
                    user_id=user_id,
                    expires_at=datetime.fromtimestamp(exp, UTC),
                    revoked_at=now,
                )
            )
        try:
            s.commit()
        except IntegrityError:  # the same token logged out twice at once
            s.rollback()

    def is_revoked(self, jti: str) -> bool:
        return db.session().get(RevokedToken, jti) is not None


class RedisRevocations:
    def __init__(self, url: str):
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def revoke(self, jti: str, user_id: int | None, exp: int) -> None:
        ttl = max(1, int(exp - datetime.now(UTC).timestamp()) + 1)
        self.redis.set(f"hearteye:revoked:{jti}", str(user_id or ""), ex=ttl)

    def is_revoked(self, jti: str) -> bool:
        return bool(self.redis.exists(f"hearteye:revoked:{jti}"))


# ------------------------------------------------------------------------------- setup


def init_jwt(app) -> JWTManager:
    jwt = JWTManager(app)

    @jwt.user_identity_loader
    def _identity(identity):
        return str(identity)

    @jwt.user_lookup_loader
    def _lookup(_header, payload):
        try:
            user_id = int(payload["sub"])
        except (KeyError, TypeError, ValueError):
            return None
        return db.session().get(User, user_id)

    @jwt.token_verification_loader
    def _expires(_header, payload) -> bool:
        # Every token this service issues expires; one without `exp` would work forever.
        return "exp" in payload

    @jwt.token_in_blocklist_loader
    def _revoked(_header, payload) -> bool:
        return app.extensions["hearteye"].revocations.is_revoked(payload["jti"])

    def fail(message: str, code: str):
        return error_response(message, code, 401, {}, {"WWW-Authenticate": "Bearer"})

    jwt.unauthorized_loader(
        lambda reason: fail(
            "authentication required: send 'Authorization: Bearer <access_token>' "
            "(POST /auth/login gives one)",
            "missing_token",
        )
    )
    jwt.expired_token_loader(
        lambda _h, _p: fail(
            "the token has expired; refresh it (POST /auth/refresh) or log in again",
            "token_expired",
        )
    )
    jwt.revoked_token_loader(
        lambda _h, _p: fail("the token was revoked (logged out); log in again", "token_revoked")
    )
    jwt.user_lookup_error_loader(
        lambda _h, _p: fail("the account of this token no longer exists", "user_not_found")
    )
    jwt.needs_fresh_token_loader(
        lambda _h, _p: fail("this action needs a fresh login", "fresh_token_required")
    )
    jwt.token_verification_failed_loader(
        lambda _h, _p: fail("the token was not accepted; log in again", "invalid_token")
    )

    @jwt.invalid_token_loader
    def _invalid(reason: str):
        # A refresh token where an access token belongs (and back) is a client mix-up; say so.
        if "access token" in reason.lower() or "refresh token" in reason.lower():
            return fail(f"wrong token type: {reason.lower().rstrip('.')}", "wrong_token_type")
        return fail("the token is invalid; log in again", "invalid_token")

    return jwt
