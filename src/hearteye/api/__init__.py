"""The HeartEye web service: `create_app()` builds the Flask (APIFlask) application.

Run it with ``hearteye serve`` (gunicorn), or ``gunicorn 'hearteye.api:create_app()'``.
Configuration comes from the environment; see `hearteye.api.config` and docs/SERVICE.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from apiflask import APIFlask
from argon2 import PasswordHasher
from flask import request, send_from_directory
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from hearteye.api import db
from hearteye.api.config import Settings
from hearteye.api.storage import Storage, make_storage
from hearteye.version import __version__

log = logging.getLogger("hearteye.api")

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "code", "details"],
    "properties": {
        "error": {"type": "string", "description": "what went wrong and what to do"},
        "code": {"type": "string", "description": "stable machine-readable code"},
        "details": {"type": "object"},
    },
}
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'"
)
_API_CSP = "default-src 'none'; frame-ancestors 'none'"


@dataclass
class Services:
    """What the routes need, built once per app (one per gunicorn worker)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker
    storage: Storage
    revocations: Any
    hasher: PasswordHasher
    dummy_hash: str


def create_app(settings: Settings | None = None, **overrides) -> APIFlask:
    """Build the app. ``settings`` defaults to the environment; keyword ``overrides`` replace
    single settings (tests). Refuses to start (`ConfigError`) on unsafe configuration."""
    settings = settings or Settings.from_env()
    if overrides:
        settings = settings.with_overrides(**overrides)
    settings = settings.validate()
    _configure_logging(settings.log_level)

    app = APIFlask(
        "hearteye",
        title="HeartEye API",
        version=__version__,
        spec_path="/openapi.json",
        docs_path="/docs",
    )
    app.json.sort_keys = False  # keep the documented field order
    _configure(app, settings)
    services = _services(settings)
    app.extensions["hearteye"] = services
    if settings.auto_migrate:
        db.upgrade(services.engine)

    _extensions(app, settings)
    _blueprints(app)
    app.teardown_appcontext(db.close_session)
    app.after_request(_security_headers)
    log.info(
        "HeartEye API %s ready (%s mode, database %s, storage %s)",
        __version__,
        settings.env,
        services.engine.dialect.name,
        services.storage.name,
    )
    return app


def _configure_logging(level: str) -> None:
    logger = logging.getLogger("hearteye")
    logger.setLevel(level)
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


def _configure(app: APIFlask, settings: Settings) -> None:
    from flask_swagger_ui import __file__ as swagger_ui_file

    app.config.update(
        DEBUG=False,
        SECRET_KEY=settings.secret_key,
        JWT_SECRET_KEY=settings.jwt_secret_key,
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=settings.jwt_access_expires_s),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(seconds=settings.jwt_refresh_expires_s),
        # Werkzeug refuses a larger body from its Content-Length before reading it; the
        # margin covers the multipart framing and the text fields.
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 256 * 1024,
        RATELIMIT_HEADERS_ENABLED=True,
        # OpenAPI document
        INFO={
            "description": "ECG upload, analysis (delineation, measurements, normal / "
            "abnormal classification), history and plots. Every error is "
            "`{error, code, details}`."
        },
        SECURITY_SCHEMES={
            "BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        },
        VALIDATION_ERROR_STATUS_CODE=400,
        VALIDATION_ERROR_DESCRIPTION="invalid request fields",
        VALIDATION_ERROR_SCHEMA=_ERROR_SCHEMA,
        HTTP_ERROR_SCHEMA=_ERROR_SCHEMA,
        AUTO_SERVERS=False,
        # Swagger UI from the assets vendored in the flask-swagger-ui wheel: /docs works
        # offline and loads nothing from a CDN.
        SWAGGER_UI_CSS="/docs/assets/swagger-ui.css",
        SWAGGER_UI_BUNDLE_JS="/docs/assets/swagger-ui-bundle.js",
        SWAGGER_UI_STANDALONE_PRESET_JS="/docs/assets/swagger-ui-standalone-preset.js",
        DOCS_FAVICON="/docs/assets/favicon-32x32.png",
        SWAGGER_UI_CONFIG={"persistAuthorization": False},
    )
    app.config.update(settings.extra)
    app.config["HEARTEYE_SWAGGER_DIST"] = str(Path(swagger_ui_file).resolve().parent / "dist")

    @app.get("/docs/assets/<path:filename>")
    @app.doc(hide=True)
    def swagger_assets(filename):
        return send_from_directory(app.config["HEARTEYE_SWAGGER_DIST"], filename, max_age=86400)

    @app.spec_processor
    def _document_auth_errors(spec):
        # Every protected operation can answer 401 with the error shape; say so in the spec.
        for path in spec.get("paths", {}).values():
            for op in path.values():
                if isinstance(op, dict) and op.get("security"):
                    op.setdefault("responses", {}).setdefault(
                        "401",
                        {
                            "description": "missing, invalid, expired or revoked token",
                            "content": {"application/json": {"schema": _ERROR_SCHEMA}},
                        },
                    )
        return spec

    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)


def _services(settings: Settings) -> Services:
    from hearteye.api.auth import DbRevocations, RedisRevocations

    engine = db.make_engine(settings.resolved_database_url)
    hasher = PasswordHasher(**settings.extra.get("ARGON2_PARAMS", {}))
    return Services(
        settings=settings,
        engine=engine,
        sessions=db.make_sessionmaker(engine),
        storage=make_storage(settings),
        revocations=RedisRevocations(settings.redis_url) if settings.redis_url else DbRevocations(),
        hasher=hasher,
        dummy_hash=hasher.hash("not a real password"),
    )


def _extensions(app: APIFlask, settings: Settings) -> None:
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    from hearteye.api.auth import init_jwt
    from hearteye.api.errors import register_error_handlers

    _cors(app, settings.cors_origins)
    init_jwt(app)
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.redis_url or "memory://",
        # A rate-limit store outage must not lock everyone out of logging in.
        swallow_errors=True,
    )
    app.extensions["hearteye_limiter"] = limiter
    register_error_handlers(app)
    app.extensions["hearteye_limits"] = {
        "auth.login": settings.ratelimit_login,
        "auth.register": settings.ratelimit_register,
    }


def _cors(app: APIFlask, origins: tuple[str, ...]) -> None:
    """Cross-origin access for the listed origins only, with credentials: browser clients
    that send them (axios ``withCredentials``, as the original React client does) are refused
    by the browser unless the answer says ``Access-Control-Allow-Credentials: true``. A
    wildcard (``*``, development only) never carries credentials: browsers refuse that
    combination, and reflecting every origin with credentials would let any site call the
    API in a signed-in user's name. Other origins get no CORS headers at all."""
    from flask_cors import CORS

    wildcard = "*" in origins
    if wildcard:
        log.warning(
            "CORS_ORIGINS=*: any site may call the API, without credentials; a client that "
            "sends credentials (withCredentials) needs its origin listed instead"
        )
    CORS(
        app,
        origins="*" if wildcard else list(origins),
        send_wildcard=wildcard,  # a literal "*", not the caller's origin reflected
        expose_headers=["X-Total-Count"],
        allow_headers=["Authorization", "Content-Type"],
        supports_credentials=not wildcard,
        max_age=600,
    )


def _blueprints(app: APIFlask) -> None:
    from hearteye.api import auth, ecgs, exports, health, patients, review, teams, web

    app.register_blueprint(auth.bp)
    app.register_blueprint(ecgs.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(teams.bp)
    app.register_blueprint(patients.bp)
    app.register_blueprint(review.bp)
    limiter = app.extensions["hearteye_limiter"]
    for endpoint, limit in app.extensions["hearteye_limits"].items():
        app.view_functions[endpoint] = limiter.limit(limit)(app.view_functions[endpoint])
    web.init_app(app)  # the clinicians' pages at /


def _security_headers(resp):
    h = resp.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    # Signed plot links must not leak to other sites through the Referer header.
    h.setdefault("Referrer-Policy", "no-referrer")
    docs = request.path == "/docs" or request.path.startswith("/docs/")
    h.setdefault("Content-Security-Policy", _DOCS_CSP if docs else _API_CSP)
    if resp.mimetype == "application/json":
        h.setdefault("Cache-Control", "no-store")
    return resp
