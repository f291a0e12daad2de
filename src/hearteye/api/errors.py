"""One error shape for every failure: ``{"error": str, "code": str, "details": {}}``.

`error` is a sentence a person can act on (clients display it as is); `code` is stable for
programs. 5xx responses carry a request id to find the logged traceback, never the traceback.
"""

from __future__ import annotations

import logging
import secrets

from apiflask import HTTPError
from flask import Flask, g, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from hearteye.api.storage import NotFoundInStorage, StorageError
from hearteye.errors import HeartEyeError

log = logging.getLogger("hearteye.api")


class ApiError(HeartEyeError):
    """An error raised by the service itself (not by reading the ECG)."""


class NotFound(ApiError):
    code = "not_found"
    http_status = 404


class Conflict(ApiError):
    code = "conflict"
    http_status = 409


class Unauthorized(ApiError):
    code = "unauthorized"
    http_status = 401


class Forbidden(ApiError):
    code = "forbidden"
    http_status = 403


def ecg_not_found(file_id: str) -> NotFound:
    # Same answer for "does not exist" and "belongs to someone else": no existence oracle.
    return NotFound(
        f"no ECG with id {file_id!r} in your history",
        code="ecg_not_found",
        details={"file_id": file_id},
    )


def error_response(
    message: str, code: str, status: int, details: dict | None = None, headers: dict | None = None
):
    resp = jsonify({"error": message, "code": code, "details": details or {}})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def request_id() -> str:
    if "request_id" not in g:
        g.request_id = request.headers.get("X-Request-ID", "")[:64] or secrets.token_hex(8)
    return g.request_id


# Werkzeug's status names as stable codes, with advice where there is some to give.
_HTTP_CODES = {
    400: ("bad_request", "the request is malformed"),
    401: ("unauthorized", "log in and send 'Authorization: Bearer <access_token>'"),
    404: ("not_found", "no such endpoint; see /docs for the API"),
    405: ("method_not_allowed", "this endpoint does not accept that method; see /docs"),
    413: ("upload_too_large", "the request is too large"),
    415: ("unsupported_media_type", "send the body as the content type /docs lists"),
    429: ("rate_limited", "too many requests; wait and try again"),
}


def _flatten(detail: dict) -> dict[str, list[str]]:
    """APIFlask's ``{location: {field: [messages]}}`` as ``{field: [messages]}``."""
    out: dict[str, list[str]] = {}
    for _location, fields in (detail or {}).items():
        if isinstance(fields, dict):
            for name, msgs in fields.items():
                if isinstance(msgs, dict):  # nested or per-item errors
                    msgs = [f"{k}: {v}" for k, v in msgs.items()]
                out[str(name)] = [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
    return out


def api_error_processor(error: HTTPError):
    """APIFlask's errors: request validation (400) and `abort`."""
    if error.status_code == 400 and error.detail:
        fields = _flatten(error.detail)
        listed = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
        return error_response(
            f"invalid request: {listed}", "validation_error", 400, {"fields": fields}, error.headers
        )
    code, advice = _HTTP_CODES.get(error.status_code, ("http_error", error.message))
    return error_response(
        error.message if error.message not in (None, "") else advice,
        code,
        error.status_code,
        {},
        error.headers,
    )


def register_error_handlers(app: Flask) -> None:
    app.error_processor(api_error_processor)

    @app.errorhandler(HeartEyeError)
    def _typed(err: HeartEyeError):
        return error_response(err.message, err.code, err.http_status, err.details)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        status = err.code or 500
        code, advice = _HTTP_CODES.get(status, ("http_error", err.name))
        details = {}
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            advice = (
                (f"the upload exceeds {limit >> 20} MiB; send a shorter recording or zip it")
                if limit
                else advice
            )
            details = {"limit_bytes": limit}
        elif status == 429:
            advice = f"too many requests ({err.description}); wait and try again"
        elif status == 405:
            details = {"method": request.method}
        headers = {k: v for k, v in err.get_headers() if k.lower() != "content-type"}
        return error_response(advice, code, status, details, headers)

    @app.errorhandler(NotFoundInStorage)
    def _missing(err: NotFoundInStorage):
        # A row whose file is gone: a consistency fault on our side, not the client's.
        log.error("stored file missing [%s]: %s", request_id(), err)
        return error_response(
            "a stored file of this record is missing; report the request id",
            "stored_file_missing",
            500,
            {"request_id": request_id()},
        )

    @app.errorhandler(StorageError)
    def _storage(err: StorageError):
        log.error("storage failure [%s]: %s", request_id(), err)
        return error_response(
            "file storage is unavailable; try again in a moment",
            "storage_unavailable",
            503,
            {"request_id": request_id()},
            {"Retry-After": "5"},
        )

    # Connection-level failures only: a constraint violation is a bug or a 409, not an outage.
    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database(err):
        log.error("database failure [%s]: %s", request_id(), type(err.orig).__name__)
        return error_response(
            "the database is unavailable; try again in a moment",
            "database_unavailable",
            503,
            {"request_id": request_id()},
            {"Retry-After": "5"},
        )

    @app.errorhandler(Exception)
    def _internal(err: Exception):
        log.exception("unhandled error [%s] on %s %s", request_id(), request.method, request.path)
        return error_response(
            "internal error; the request was not completed. Report the request id if it persists",
            "internal_error",
            500,
            {"request_id": request_id()},
        )
