"""Typed errors. Every failure a user can cause is a subclass of `HeartEyeError`.

Each error carries a stable machine-readable `code` (the API returns it as-is) and a message
written for the person who uploaded the file: what is wrong and what to do about it.
"""

from __future__ import annotations


class HeartEyeError(Exception):
    """Base class: an input problem the caller can act on (the API maps it to a 4xx)."""

    code = "invalid_input"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = dict(details or {})

    def to_dict(self) -> dict:
        return {"error": self.message, "code": self.code, "details": self.details}


class UnsupportedFormatError(HeartEyeError):
    """The bytes are not a format HeartEye reads (or not what their name claims)."""

    code = "unsupported_format"
    http_status = 415


class InvalidRecordError(HeartEyeError):
    """The file is of a known format but its content is inconsistent or unusable."""

    code = "invalid_record"
    http_status = 422


class UploadRejectedError(HeartEyeError):
    """The upload breaks a safety or shape rule (size, archive layout, paths, ...)."""

    code = "upload_rejected"
    http_status = 400


class UploadTooLargeError(UploadRejectedError):
    code = "upload_too_large"
    http_status = 413
