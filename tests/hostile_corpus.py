"""A corpus of hostile or broken uploads, built in memory from the real fixture records.

Each `HostileCase` is what a client would POST (a list of ``(file name, bytes)`` pairs), the
error class and ``code`` HeartEye must answer with, and a phrase the message must contain so
the user learns what is wrong. `test_upload_hostile.py` feeds it to `parse_upload`; the API
tests replay the same cases over HTTP.

Build it with `build_cases()` (a few MB in memory, plus one case of ``max_upload_bytes + 1``
bytes, made only when ``include_oversized`` is true).
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hearteye.errors import (
    InvalidRecordError,
    UnsupportedFormatError,
    UploadRejectedError,
    UploadTooLargeError,
)
from hearteye.io.upload import UploadLimits
from hostile_carts import cart_cases

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MiB = 1 << 20


@dataclass(frozen=True)
class HostileCase:
    name: str
    files: list[tuple[str | bytes, bytes]]
    code: str
    error: type
    says: str  # lower-case phrase the error message must contain

    def __repr__(self) -> str:  # keeps pytest ids and failure output short
        return f"HostileCase({self.name!r}, code={self.code!r})"


# --------------------------------------------------------------------------- materials


def ludb_header() -> str:
    return (FIXTURES / "ludb" / "1.hea").read_text()


def ludb_dat() -> bytes:
    return (FIXTURES / "ludb" / "1.dat").read_bytes()


def edf_bytes() -> bytes:
    return (FIXTURES / "edf" / "ludb_119.edf").read_bytes()


def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]], deflate: bool = True) -> bytes:
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are deliberate in one case
        with zipfile.ZipFile(buf, "w", compression=method) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return buf.getvalue()


def patch_zip(raw: bytes, *, file_size: int | None = None, flag_or: int = 0) -> bytes:
    """Rewrite the first entry's declared size and flag bits in both of its zip headers."""
    out = bytearray(raw)
    local = out.find(b"PK\x03\x04")
    central = out.find(b"PK\x01\x02")
    if file_size is not None:
        struct.pack_into("<I", out, local + 22, file_size)
        struct.pack_into("<I", out, central + 24, file_size)
    if flag_or:
        for off in (local + 6, central + 8):
            flags = struct.unpack_from("<H", out, off)[0]
            struct.pack_into("<H", out, off, flags | flag_or)
    return bytes(out)


def header_with(
    record_line: str | None = None,
    signal_line: str | None = None,
    n_signal_lines: int | None = None,
) -> bytes:
    """LUDB record 1's header with its record line and/or every signal line replaced."""
    lines = ludb_header().splitlines()
    if record_line is not None:
        lines[0] = record_line
    if signal_line is not None:
        lines[1:13] = [signal_line.format(i=i) for i in range(12)]
    if n_signal_lines is not None:
        lines[1 + n_signal_lines : 13] = []
    return ("\n".join(lines) + "\n").encode()


def patch_edf(raw: bytes, start: int, width: int, value: str) -> bytes:
    out = bytearray(raw)
    out[start : start + width] = value.ljust(width).encode("ascii")
    return bytes(out)


def edf_with_signal_field(field_index: int, width: int, value: str) -> bytes:
    """ludb_119.edf with one per-signal header field of the first signal replaced."""
    raw = edf_bytes()
    n = int(raw[252:256])
    widths = [16, 80, 8, 8, 8, 8, 8, 80, 8, 32]
    start = 256 + sum(w * n for w in widths[:field_index])
    return patch_edf(raw, start, width, value)


def write_edf(channels: list[dict], seconds: int = 10) -> bytes:
    """An EDF+ file written by pyedflib; each channel dict has label, dimension, fs, data."""
    import pyedflib

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.edf")
        w = pyedflib.EdfWriter(path, len(channels), file_type=pyedflib.FILETYPE_EDFPLUS)
        try:
            w.setSignalHeaders(
                [
                    {
                        "label": c["label"],
                        "dimension": c["dimension"],
                        "sample_frequency": c["fs"],
                        "physical_min": c.get("pmin", -10.0),
                        "physical_max": c.get("pmax", 10.0),
                        "digital_min": -32768,
                        "digital_max": 32767,
                        "transducer": "",
                        "prefilter": "",
                    }
                    for c in channels
                ]
            )
            w.writeSamples([np.asarray(c["data"], dtype=np.float64) for c in channels])
        finally:
            w.close()
        return Path(path).read_bytes()


# ------------------------------------------------------------------------------ corpus


def build_cases(include_oversized: bool = True) -> list[HostileCase]:
    hea = ludb_header().encode()
    dat = ludb_dat()
    edf = edf_bytes()
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    good = [("1.hea", hea), ("1.dat", dat)]
    R, U = InvalidRecordError, UploadRejectedError
    T, F = UploadTooLargeError, UnsupportedFormatError

    def z(entries, **kw):
        return [("upload.zip", make_zip(entries, **kw))]

    symlink = zipfile.ZipInfo("1.dat")
    symlink.external_attr = 0o120777 << 16
    utf8_name = make_zip([("\u00e9.hea", hea), ("1.dat", dat)]).replace(b"\xc3\xa9", b"\xff\xfe")
    stored_random = rng.integers(0, 256, 6 * MiB, dtype=np.uint8).tobytes()
    cases = [
        HostileCase(
            "zip_bomb",
            z([("1.hea", hea), ("1.dat", bytes(4 * MiB))]),
            "compression_ratio_exceeded",
            U,
            "zip bomb",
        ),
        HostileCase(
            "declared_600MiB",
            [
                (
                    "big.zip",
                    patch_zip(
                        make_zip([("1.dat", stored_random)], deflate=False), file_size=600 * MiB
                    ),
                )
            ],
            "uncompressed_too_large",
            T,
            "expands to 600 mib",
        ),
        HostileCase(
            "path_traversal",
            z([("../1.hea", hea), ("../1.dat", dat)]),
            "path_traversal",
            U,
            "climbs out",
        ),
        HostileCase(
            "path_traversal_backslash",
            z([("rec\\..\\..\\1.hea", hea), ("1.dat", dat)]),
            "path_traversal",
            U,
            "climbs out",
        ),
        HostileCase(
            "absolute_path",
            z([("/etc/1.hea", hea), ("/etc/1.dat", dat)]),
            "absolute_path",
            U,
            "absolute path",
        ),
        HostileCase(
            "absolute_windows_path",
            z([("C:/ecg/1.hea", hea), ("1.dat", dat)]),
            "absolute_path",
            U,
            "absolute path",
        ),
        HostileCase(
            "symlink",
            z([("1.hea", hea), (symlink, b"/etc/passwd")]),
            "symlink_entry",
            U,
            "symbolic link",
        ),
        HostileCase(
            "encrypted_flag",
            [("enc.zip", patch_zip(make_zip(good), flag_or=0x1))],
            "encrypted_entry",
            U,
            "encrypted",
        ),
        HostileCase(
            "nested_zip", z([("inner.zip", make_zip(good))]), "nested_archive", U, "another archive"
        ),
        HostileCase(
            "nested_tar_gz_bare",
            good + [("more.tar.gz", b"\x1f\x8b" + noise)],
            "nested_archive",
            U,
            "archive",
        ),
        HostileCase("empty_zip", z([]), "empty_archive", U, "is empty"),
        HostileCase(
            "zip_of_folders", z([("a/", b""), ("a/b/", b"")]), "empty_archive", U, "only folders"
        ),
        HostileCase(
            "two_records",
            z([("a.hea", hea), ("b.hea", hea), ("1.dat", dat)]),
            "multiple_records",
            U,
            "two wfdb records: a.hea and b.hea; upload one",
        ),
        HostileCase(
            "wfdb_and_edf", z(good + [("x.edf", edf)]), "multiple_records", U, "upload one"
        ),
        HostileCase(
            "header_without_data",
            z([("1.hea", hea)]),
            "missing_signal_file",
            R,
            "1.dat, which is missing",
        ),
        HostileCase(
            "header_without_data_bare", [("1.hea", hea)], "missing_signal_file", R, "missing"
        ),
        HostileCase(
            "truncated_dat",
            z([("1.hea", hea), ("1.dat", dat[:60000])]),
            "truncated_signal",
            R,
            "truncated",
        ),
        HostileCase(
            "dat_too_long",
            [("1.hea", hea), ("1.dat", dat + bytes(2400))],
            "signal_size_mismatch",
            R,
            "sample count or format is wrong",
        ),
        HostileCase(
            "zero_byte_dat", [("1.hea", hea), ("1.dat", b"")], "empty_signal_file", R, "is empty"
        ),
        HostileCase(
            "gain_negative_infinite",
            [
                ("1.hea", header_with(signal_line="1.dat 16 -1e999(0)/mV 0 0 0 0 0 lead{i}")),
                ("1.dat", dat),
            ],
            "invalid_gain",
            R,
            "gain",
        ),
        HostileCase(
            "gain_not_a_number",
            [
                ("1.hea", header_with(signal_line="1.dat 16 1e999/mV 0 0 0 0 0 lead{i}")),
                ("1.dat", dat),
            ],
            "invalid_gain",
            R,
            "gain",
        ),
        HostileCase(
            "one_sample",
            [("1.hea", header_with(record_line="1 12 500 1")), ("1.dat", dat[:24])],
            "record_too_short",
            R,
            "(1 sample at 500 hz)",
        ),
        HostileCase(
            "thousand_leads",
            [("1.hea", header_with(record_line="1 1000 500 5000")), ("1.dat", dat)],
            "too_many_leads",
            R,
            "1000 signals",
        ),
        HostileCase(
            "rate_100kHz",
            [("1.hea", header_with(record_line="1 12 100000 5000")), ("1.dat", dat)],
            "sampling_rate_out_of_range",
            R,
            "100000 hz",
        ),
        HostileCase(
            "absurd_sample_count",
            [("1.hea", header_with(record_line="1 12 500 999999999999")), ("1.dat", dat)],
            "record_too_large",
            R,
            "exceeds the limit",
        ),
        HostileCase(
            "signal_count_mismatch",
            [("1.hea", header_with(n_signal_lines=11)), ("1.dat", dat)],
            "invalid_header",
            R,
            "declares 12 signals but describes 11",
        ),
        HostileCase(
            "unknown_dat_format",
            [
                ("1.hea", header_with(signal_line="1.dat 999 1000/mV 0 0 0 0 0 lead{i}")),
                ("1.dat", dat),
            ],
            "unsupported_signal_format",
            R,
            "format 999",
        ),
        HostileCase(
            "multi_segment",
            [("1.hea", b"1/2 12 500 5000\nseg1 2500\nseg2 2500\n")],
            "unsupported_wfdb_feature",
            R,
            "multi-segment",
        ),
        HostileCase(
            "random_bytes_as_header",
            [("1.hea", noise), ("1.dat", dat)],
            "invalid_header",
            R,
            "not a wfdb header",
        ),
        HostileCase(
            "header_too_large",
            [("1.hea", hea + b"#" * (2 * MiB)), ("1.dat", dat)],
            "header_too_large",
            R,
            "really a header",
        ),
        HostileCase(
            "edf_lying_record_count",
            [("x.edf", patch_edf(edf, 236, 8, "1000"))],
            "edf_header_mismatch",
            R,
            "promises 1000 data records",
        ),
        HostileCase(
            "edf_truncated",
            [("x.edf", edf[: len(edf) // 2])],
            "edf_header_mismatch",
            R,
            "truncated",
        ),
        HostileCase(
            "edf_lying_samples_per_record",
            [("x.edf", edf_with_signal_field(8, 8, "5000"))],
            "edf_header_mismatch",
            R,
            "but the file holds",
        ),
        HostileCase(
            "edf_zero_gain",
            [("x.edf", edf_with_signal_field(6, 8, "-32768"))],
            "invalid_gain",
            R,
            "gain undefined",
        ),
        HostileCase(
            "edf_no_voltage_channels",
            [
                (
                    "x.edf",
                    write_edf(
                        [{"label": "Resp", "dimension": "%", "fs": 100, "data": np.zeros(1000)}]
                    ),
                )
            ],
            "no_ecg_channels",
            R,
            "voltage unit",
        ),
        HostileCase(
            "random_bytes_zip", [("ecg.zip", noise)], "corrupt_archive", F, "not a readable zip"
        ),
        HostileCase("random_bytes_edf", [("ecg.edf", noise)], "not_edf", F, "not an edf file"),
        HostileCase(
            "corrupt_deflate_stream",
            [("c.zip", _corrupt_payload(make_zip(good)))],
            "corrupt_archive",
            F,
            "damaged",
        ),
        HostileCase(
            "entry_shorter_than_declared",
            [
                (
                    "s.zip",
                    patch_zip(make_zip([("1.edf", edf)], deflate=False), file_size=len(edf) + 10),
                )
            ],
            "entry_size_mismatch",
            U,
            "different amount of data",
        ),
        HostileCase(
            "too_many_entries",
            z([(f"f{i}.txt", b"x") for i in range(65)] + good),
            "too_many_entries",
            U,
            "at most 64",
        ),
        HostileCase(
            "too_many_files_bare",
            [(f"f{i}.txt", b"x") for i in range(70)],
            "too_many_entries",
            U,
            "at most 64",
        ),
        HostileCase(
            "non_utf8_name_in_zip", [("n.zip", utf8_name)], "invalid_filename", U, "not valid utf-8"
        ),
        HostileCase(
            "non_utf8_name_bare", [(b"\xff\xfe.edf", edf)], "invalid_filename", U, "not valid utf-8"
        ),
        HostileCase(
            "control_char_name", [("1\x00.hea", hea)], "invalid_filename", U, "control character"
        ),
        HostileCase(
            "duplicate_entry",
            z([("1.hea", hea), ("1.hea", hea), ("1.dat", dat)]),
            "duplicate_entry",
            U,
            "twice",
        ),
        HostileCase("empty_upload", [], "empty_upload", U, "no file"),
        HostileCase(
            "zip_plus_files",
            [("a.zip", make_zip(good))] + good,
            "mixed_upload",
            U,
            "either one .zip",
        ),
        HostileCase(
            "no_record_in_zip",
            z([("notes.txt", b"hello"), ("1.dat", dat)]),
            "no_record",
            U,
            "no .hea or .edf",
        ),
        HostileCase(
            "only_macos_junk",
            z([("__MACOSX/._1.hea", b"\0" * 100)]),
            "no_record",
            U,
            "no .hea or .edf",
        ),
    ]
    cases.extend(cart_cases(HostileCase))
    if include_oversized:
        cases.append(
            HostileCase(
                "oversized_upload",
                [("big.edf", bytes(UploadLimits().max_upload_bytes + 1))],
                "upload_too_large",
                T,
                "exceeds 100 mib",
            )
        )
    return cases


def _corrupt_payload(raw: bytes) -> bytes:
    """Flip bytes inside the first entry's compressed data (headers stay intact)."""
    out = bytearray(raw)
    local = out.find(b"PK\x03\x04")
    name_len, extra_len = struct.unpack_from("<HH", out, local + 26)
    start = local + 30 + name_len + extra_len
    for k in range(start + 10, start + 60):
        out[k] ^= 0x5A
    return bytes(out)
