"""Readers: every ECG file format HeartEye accepts becomes a `hearteye.Record`.

`read_record(path)` for files on disk (``.hea``, ``.edf``, ``.zip``), `read_upload(files)` for
bytes received over the network. Both raise only `hearteye.errors.HeartEyeError` subclasses
for bad input.
"""

from __future__ import annotations

from pathlib import Path

from hearteye.errors import HeartEyeError, UnsupportedFormatError
from hearteye.io._common import ReadLimits
from hearteye.io.edf import read_edf, read_edf_bytes
from hearteye.io.upload import UploadLimits, parse_upload
from hearteye.io.wfdb import read_wfdb, read_wfdb_files
from hearteye.record import Record

__all__ = [
    "ReadLimits",
    "UploadLimits",
    "parse_upload",
    "read_edf",
    "read_edf_bytes",
    "read_record",
    "read_upload",
    "read_wfdb",
    "read_wfdb_files",
]

read_upload = parse_upload


def read_record(
    path: str | Path, limits: ReadLimits | None = None, upload_limits: UploadLimits | None = None
) -> Record:
    """Read ``path``: a WFDB ``.hea`` (or its base name), an ``.edf``/``.bdf`` or a ``.zip``.

    A ``.zip`` goes through the same checks as an upload (`upload_limits`), so a file on disk
    gets no more trust than one from the network.
    """
    path = Path(path)
    limits = limits or ReadLimits()
    suffix = path.suffix.lower()
    if suffix == ".hea" or (not path.exists() and path.with_name(path.name + ".hea").is_file()):
        return read_wfdb(path, limits)
    if not path.is_file():
        raise HeartEyeError(f"no file at {path}", code="file_not_found")
    if suffix in (".edf", ".bdf"):
        return read_edf(path, limits)
    if suffix == ".zip":
        upload_limits = upload_limits or UploadLimits(read=limits)
        with path.open("rb") as fh:
            return parse_upload([(path.name, fh)], upload_limits)
    raise UnsupportedFormatError(
        f"{path.name}: HeartEye reads WFDB (.hea with its signal files), EDF/EDF+ (.edf) "
        "and .zip archives holding one of them",
        code="unsupported_format",
    )
