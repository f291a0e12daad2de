"""Readers: every ECG file format HeartEye accepts becomes a `hearteye.Record`.

`read_record(path)` for files on disk, `parse_upload(files)` for bytes received over the
network. Both find the format in the one table of `hearteye.io.registry` (by content first,
then by suffix) and raise only `hearteye.errors.HeartEyeError` subclasses for bad input.
"""

from __future__ import annotations

from pathlib import Path

from hearteye.errors import HeartEyeError, UnsupportedFormatError
from hearteye.io._common import ReadLimits
from hearteye.io.edf import read_edf, read_edf_bytes
from hearteye.io.registry import FORMATS, Format, head_of, identify, readable_formats, stamped
from hearteye.io.upload import UploadLimits, parse_upload
from hearteye.io.wfdb import FORMAT as WFDB_FORMAT
from hearteye.io.wfdb import read_wfdb, read_wfdb_files, wfdb_files
from hearteye.record import Record

__all__ = [
    "FORMATS",
    "Format",
    "ReadLimits",
    "UploadLimits",
    "identify",
    "parse_upload",
    "read_edf",
    "read_edf_bytes",
    "read_record",
    "record_files",
    "record_path",
    "read_wfdb",
    "read_wfdb_files",
]


def read_record(
    path: str | Path, limits: ReadLimits | None = None, upload_limits: UploadLimits | None = None
) -> Record:
    """Read the ECG at ``path``, in any format of the table (a WFDB record also by its base
    name, without ``.hea``).

    A zip goes through the same checks as an upload (`upload_limits`), so a file on disk
    gets no more trust than one from the network.
    """
    path = record_path(path)
    limits = limits or ReadLimits()
    fmt = identify(path.name, head_of(path))
    if fmt is None:
        raise UnsupportedFormatError(
            f"{path.name} is not an ECG format HeartEye reads; it reads {readable_formats()}",
            code="unsupported_format",
        )
    if fmt.archive:
        with path.open("rb") as fh:
            return parse_upload([(path.name, fh)], upload_limits or UploadLimits(read=limits))
    return stamped(fmt.read_path(path, limits), fmt)


def record_path(path: str | Path) -> Path:
    """The file that names the record at ``path``: the path itself, or a WFDB record's
    ``.hea`` when given its base name. Raises ``file_not_found`` when there is none."""
    path = Path(path)
    if not path.exists() and path.with_name(path.name + ".hea").is_file():
        path = path.with_name(path.name + ".hea")
    if not path.is_file():
        raise HeartEyeError(f"no file at {path}", code="file_not_found")
    return path


def record_files(path: str | Path, limits: ReadLimits | None = None) -> list[Path]:
    """The files the record at ``path`` is made of, in a fixed order: a WFDB header and its
    signal files (as the format table recognises the header), else the file itself."""
    path = record_path(path)
    fmt = identify(path.name, head_of(path))
    if fmt is not None and fmt.name == WFDB_FORMAT:
        return wfdb_files(path, limits or ReadLimits())
    return [path]
