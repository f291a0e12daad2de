"""Hostile uploads over HTTP: the foundation's corpus plus format-level cases it lacks, sent
as raw multipart bodies (so file names can be any bytes), and the check of each answer.

Used by test_hostile_http.py (Flask test client) and benchmarks/hostile_http.py (gunicorn).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np

from hearteye.errors import InvalidRecordError, UnsupportedFormatError
from hostile_corpus import (
    HostileCase,
    build_cases,
    edf_bytes,
    header_with,
    ludb_dat,
    patch_edf,
    write_edf,
)

MiB = 1 << 20


def extra_cases() -> list[HostileCase]:
    """Format-level lies the corpus does not hold."""
    dat, edf = ludb_dat(), edf_bytes()
    R, F = InvalidRecordError, UnsupportedFormatError

    def wfdb(record_line=None, signal_line=None):
        return [
            ("1.hea", header_with(record_line=record_line, signal_line=signal_line)),
            ("1.dat", dat),
        ]

    return [
        HostileCase(
            "wfdb_header_claims_more_samples",
            wfdb("1 12 500 10000"),
            "truncated_signal",
            R,
            "promises 10000 samples",
        ),
        HostileCase(
            "wfdb_header_claims_fewer_samples",
            wfdb("1 12 500 2500"),
            "signal_size_mismatch",
            R,
            "describes only",
        ),
        HostileCase(
            "wfdb_rate_negative", wfdb("1 12 -500 5000"), "invalid_header", R, "not valid wfdb"
        ),
        HostileCase("wfdb_rate_nan", wfdb("1 12 nan 5000"), "invalid_header", R, "not valid wfdb"),
        HostileCase(
            "wfdb_length_not_a_number", wfdb("1 12 500 abc"), "invalid_header", R, "not valid wfdb"
        ),
        HostileCase("wfdb_rate_zero", wfdb("1 12 0 5000"), "sampling_rate_out_of_range", R, "0 hz"),
        HostileCase(
            "wfdb_no_signals", [("1.hea", b"1 0 500 5000\n")], "no_signals", R, "no signals"
        ),
        HostileCase(
            "edf_zero_records",
            [("x.edf", patch_edf(edf, 236, 8, "0"))],
            "empty_record",
            R,
            "0 data records",
        ),
        HostileCase(
            "edf_negative_records",
            [("x.edf", patch_edf(edf, 236, 8, "-1"))],
            "empty_record",
            R,
            "-1 data records",
        ),
        HostileCase(
            "edf_record_count_not_a_number",
            [("x.edf", patch_edf(edf, 236, 8, "abc"))],
            "edf_header_mismatch",
            R,
            "not a number",
        ),
        HostileCase(
            "edf_1000_signals",
            [("x.edf", patch_edf(edf, 252, 4, "1000"))],
            "too_many_leads",
            R,
            "1000 signals",
        ),
        HostileCase(
            "edf_no_signals",
            [("x.edf", patch_edf(edf, 252, 4, "0"))],
            "no_signals",
            R,
            "no signals",
        ),
        HostileCase(
            "edf_record_duration_zero",
            [("x.edf", patch_edf(edf, 244, 8, "0"))],
            "empty_record",
            R,
            "of 0 s",
        ),
        HostileCase(
            "edf_rate_50MHz",
            [("x.edf", patch_edf(edf, 244, 8, "0.00001"))],
            "sampling_rate_out_of_range",
            R,
            "hz is outside",
        ),
        HostileCase("edf_zero_bytes", [("x.edf", b"")], "not_edf", F, "not an edf file"),
        HostileCase("edf_header_only", [("x.edf", edf[:256])], "edf_header_mismatch", R, "damaged"),
        HostileCase(
            "edf_one_sample",
            [
                (
                    "x.edf",
                    write_edf(
                        [{"label": "ECG I", "dimension": "mV", "fs": 1, "data": np.zeros(1)}]
                    ),
                )
            ],
            "sampling_rate_out_of_range",
            R,
            "1 hz",
        ),
        HostileCase(
            "edf_100kHz",
            [
                (
                    "x.edf",
                    write_edf(
                        [
                            {
                                "label": "ECG I",
                                "dimension": "mV",
                                "fs": 100_000,
                                "data": np.zeros(100_000),
                            }
                        ],
                        seconds=1,
                    ),
                )
            ],
            "sampling_rate_out_of_range",
            R,
            "100000 hz",
        ),
    ]


def all_cases() -> list[HostileCase]:
    """The corpus (without its 100 MiB case: `oversized_case` scales it to a small limit)
    and the extra cases."""
    return build_cases(include_oversized=False) + extra_cases()


def oversized_case(limit_mb: int) -> HostileCase:
    from hearteye.errors import UploadTooLargeError

    return HostileCase(
        "oversized_upload",
        [("big.edf", bytes(limit_mb * MiB + 1))],
        "upload_too_large",
        UploadTooLargeError,
        f"exceeds {limit_mb} mib",
    )


# ------------------------------------------------------------------------------- wire


def multipart(files, fields: dict | None = None) -> tuple[bytes, str]:
    """A multipart/form-data body with each file as a ``file`` part; names may be bytes
    (sent raw, as a client with a non-UTF-8 file system would)."""
    boundary = "hearteye" + secrets.token_hex(12)
    out = bytearray()
    fields = {"patient_name": "Hostile Case", "age": "40", "gender": "O", **(fields or {})}
    for key, value in fields.items():
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
        ).encode()
    for name, data in files:
        raw = name if isinstance(name, bytes) else str(name).encode("utf-8")
        raw = raw.replace(b'"', b"%22").replace(b"\r", b"%0D").replace(b"\n", b"%0A")
        out += (
            f"--{boundary}\r\n".encode()
            + b'Content-Disposition: form-data; name="file"; filename="'
            + raw
            + b'"\r\n'
            + b"Content-Type: application/octet-stream\r\n\r\n"
            + bytes(data)
            + b"\r\n"
        )
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


# Cases the form validation answers before the upload reaches the parser: the same refusal
# (400, naming the `file` field) from the schema layer. A non-UTF-8 file name in the multipart
# header makes Werkzeug drop the parts altogether, so the form reads as empty.
HTTP_LAYER = {
    "empty_upload": "file",
    "too_many_files_bare": "file",
    "non_utf8_name_bare": "file",
}


@dataclass
class Outcome:
    case: str
    status: int
    code: str | None
    error: str | None
    problem: str | None  # None: as expected


def judge(case: HostileCase, status: int, body: dict | None, text: str) -> Outcome:
    """What the contract asks of one hostile case's answer."""
    code = (body or {}).get("code")
    error = (body or {}).get("error")
    problem = None
    if case.name in HTTP_LAYER and status == 400 and code == "validation_error":
        fields = (body.get("details") or {}).get("fields") or {}
        ok = HTTP_LAYER[case.name] in fields
        return Outcome(case.name, status, code, error, None if ok else "field not named")
    if status >= 500:
        problem = f"server error {status}"
    elif not 400 <= status < 500:
        problem = f"accepted with {status}"
    elif not isinstance(body, dict) or set(body) != {"error", "code", "details"}:
        problem = "not the error shape"
    elif not isinstance(error, str) or not error:
        problem = "error is not a message"
    elif code != case.code:
        problem = f"code {code!r}, expected {case.code!r}"
    elif case.says not in error.lower():
        problem = f"message lacks {case.says!r}: {error!r}"
    elif status != case.error.http_status and not (
        status == 413 and case.code == "upload_too_large"
    ):
        problem = f"status {status}, expected {case.error.http_status}"
    elif any(leak in text for leak in ("Traceback", "site-packages", "/work/", "/tmp/")):
        problem = "internals leaked"
    return Outcome(case.name, status, code, error, problem)
