"""HeartEye's own web app for clinicians, served by the service at ``/``.

Server-rendered Jinja pages with a little plain JavaScript (upload progress, the lead viewer,
nothing else): no build step and no Node at install or run time; the templates and static
files are package data. The pages call the same services as the JSON API (see `service`), so
the browser and API clients get the same analysis and the same error messages.

Security rules (`session` has the sign-in ones):
- Jinja escapes every value; nothing a user typed or a file carried is marked safe.
- The pages' Content-Security-Policy allows scripts and styles from the service only
  (``script-src 'self'``, ``style-src 'self'``): no inline script, style or event handler
  runs, so an injected ``<img onerror=...>`` would be inert even if it escaped escaping.
- Every POST checks the session's CSRF token; GETs change nothing.
- Pages with personal data are ``Cache-Control: no-store``.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/web/static",
)
bp.enable_openapi = False  # pages, not API operations: APIFlask leaves them out of /openapi.json

WEB_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    """Register the pages on the app (after the API's blueprints and extensions)."""
    from hearteye.api.web import session, views  # noqa: F401  (views registers the routes)

    settings = app.extensions["hearteye"].settings
    session.configure(app, settings)
    app.register_blueprint(bp)
    limiter = app.extensions["hearteye_limiter"]
    for endpoint, limit in (
        ("web.signin", settings.ratelimit_login),
        ("web.signup", settings.ratelimit_register),
    ):
        app.view_functions[endpoint] = limiter.limit(limit, methods=["POST"])(
            app.view_functions[endpoint]
        )
