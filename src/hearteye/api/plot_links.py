"""Signed, expiring links to a record's plot, so that a plain ``<img src>`` (which sends no
Authorization header) can load it.

A link is ``/ecg/<file_id>/plot.png?expires=<epoch s>&signature=<HMAC>``: the HMAC-SHA256 of
the file id and the expiry under ``SECRET_KEY``, cut to 192 bits. It is valid until
``expires`` (``PLOT_URL_TTL`` seconds after it was made, rounded up to a 5-minute step so
that the same URL is handed out for a while and browsers cache the image), and only for that
record; deleting the record makes it answer 404.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time

from flask import current_app, has_request_context, url_for


def _settings():
    return current_app.extensions["hearteye"].settings


def _signature(file_id: str, expires: int) -> str:
    key = _settings().secret_key.encode()
    mac = hmac.new(key, f"plot:{file_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")


def plot_url(file_id: str) -> str:
    """The signed plot link of ``file_id``: absolute under ``PUBLIC_BASE_URL`` when set, else
    on the request's own host."""
    settings = _settings()
    ttl = settings.plot_url_ttl_s
    step = min(300, ttl)
    expires = int(math.ceil((time.time() + ttl) / step) * step)
    args = {"file_id": file_id, "expires": expires, "signature": _signature(file_id, expires)}
    if settings.public_base_url:
        return settings.public_base_url + url_for("ecgs.plot", **args)
    if has_request_context():
        return url_for("ecgs.plot", _external=True, **args)
    return url_for("ecgs.plot", **args)


def check_signature(file_id: str, expires: int, signature: str) -> bool:
    """True for an unexpired link made by `plot_url` for this very ``file_id``."""
    if expires < time.time():
        return False
    return hmac.compare_digest(_signature(file_id, expires), signature or "")
