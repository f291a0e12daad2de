"""Safe parsing of an uploaded ECG: one ``.zip``, or the record's files sent bare (one file,
or a WFDB ``.hea`` plus the signal files it names). Which file is a record, and in what
format, the format table of `hearteye.io.registry` says, by content first.

Everything is checked before it is trusted:

* the upload's size is counted while it is read (a stream is never read past the limit);
* a zip's central directory is checked before any entry is opened: entry count, names
  (absolute paths, ``..``, non-UTF-8), symlinks, encryption, nested archives, declared sizes
  and compression ratios (zip bombs);
* only the entries the record needs are decompressed, each through a bounded read that stops
  at its declared size, so a lying zip header cannot inflate memory;
* exactly one record may be present, and the readers then check the record itself (the
  header's byte counts against the signal files, gains, rates, lead counts).

Nothing is extracted to disk except by the readers, which use a private temporary folder
per call. Every rejection is a `HeartEyeError` subclass with its own ``code``.

Default limits (`UploadLimits`): 100 MiB per upload, 512 MiB uncompressed, ratio 100 for
entries over 1 MiB, 64 entries. What they allow:

* a 10 s 12-lead ECG (120 kB) many hundred times over;
* a 24 h 3-lead Holter at 256 Hz: 100 MB in WFDB format 212 (fits as is); 133 MB in format
  16, which fits once zipped to under 75 % (a noisy synthetic record deflates to 66 %);
* the decoded record is bounded by `ReadLimits.max_values` (268 M samples, 1 GiB of float32);
  reading peaks at about 2.3x the decoded size (digital samples + float32 output + one
  float64 lead; measured: 50 MB for a 2 h 3-lead 256 Hz record of 22 MB), so a 24 h
  3-lead 256 Hz Holter (265 MB decoded) needs about 600 MB;
* a 24 h 12-lead 500 Hz Holter (1 GB raw, 2 GB as float32) is refused with a message that
  says so: cut it into shorter files, or raise the limits for a batch job.

The service also sets `ReadLimits.max_seconds` (ANALYZE_MAX_SECONDS): the upload is stored
whole and its files' sizes are checked against the header, but only its start is decoded
(damage further on goes unnoticed until a batch job reads it all), so memory follows that
bound rather than the recording's length or its compression (FLAC-coded WFDB packs ~6x more
samples than bytes, and a flat signal far more). See `benchmarks/long_upload.py`.
"""

from __future__ import annotations

import io
import posixpath
import stat
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from hearteye.errors import (
    UnsupportedFormatError,
    UploadRejectedError,
    UploadTooLargeError,
)
from hearteye.io._common import Member, ReadLimits
from hearteye.io.registry import HEAD_BYTES, Format, identify, readable_formats, stamped
from hearteye.record import Record

MiB = 1 << 20

Content = bytes | bytearray | memoryview | BinaryIO
UploadFile = tuple[str | bytes, Content]

_ARCHIVE_SUFFIXES = (
    ".zip",
    ".gz",
    ".tgz",
    ".tar",
    ".bz2",
    ".xz",
    ".7z",
    ".rar",
    ".zst",
    ".lz",
    ".lzma",
)
# Files that archivers add on their own (macOS resource forks, Finder and Explorer caches).
_JUNK_DIRS = ("__MACOSX/",)
_JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


@dataclass(frozen=True)
class UploadLimits:
    """Upload bounds; see the module docstring for what the defaults admit."""

    max_upload_bytes: int = 100 * MiB
    max_uncompressed_bytes: int = 512 * MiB
    max_compression_ratio: float = 100.0
    # Entries smaller than this are exempt from the ratio rule: a flat or padded file of a
    # few kB legitimately compresses 1000:1 and cannot inflate memory much.
    ratio_exempt_bytes: int = 1 * MiB
    max_entries: int = 64
    read: ReadLimits = field(default_factory=ReadLimits)


@dataclass
class _Entry:
    path: str  # relative, '/'-separated
    size: int
    info: zipfile.ZipInfo | None = None
    data: bytes | None = None

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.path)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)


# ---------------------------------------------------------------------------- public API


def parse_upload(
    files: Sequence[UploadFile] | UploadFile, limits: UploadLimits | None = None
) -> Record:
    """Turn an upload into a `Record`, or raise a typed `HeartEyeError`.

    ``files`` is a list of ``(file name, content)`` pairs (one pair is accepted too), where
    content is bytes or a binary stream (e.g. Flask's ``FileStorage.stream``). Streams are
    read in bounded chunks, never past ``limits.max_upload_bytes`` in total.
    """
    limits = limits or UploadLimits()
    pairs = _as_pairs(files)
    if not pairs:
        raise UploadRejectedError(
            "the upload holds no file; send one .zip, one .edf, or a .hea with its signal files",
            code="empty_upload",
        )
    _check_count(len(pairs), limits, "upload")
    entries = _read_pairs(pairs, limits)
    if len(entries) == 1 and _is_zip(entries[0]):
        return _parse_zip(entries[0], limits)
    if any(_is_zip(e) for e in entries):
        raise UploadRejectedError(
            "the upload mixes a .zip with other files; send either one .zip or the record's files",
            code="mixed_upload",
        )
    return _read_record(entries, limits, "upload")


# ------------------------------------------------------------------------- bare uploads


def _as_pairs(files) -> list[tuple]:
    if isinstance(files, tuple) and len(files) == 2 and isinstance(files[0], (str, bytes)):
        return [files]
    return list(files)


def _read_pairs(pairs: Iterable[tuple], limits: UploadLimits) -> list[_Entry]:
    budget = limits.max_upload_bytes
    entries: dict[str, _Entry] = {}
    for raw_name, content in pairs:
        path = _check_path(_decode_name(raw_name), "upload")
        data = _read_bounded(content, budget)
        if data is None:
            raise UploadTooLargeError(
                f"the upload exceeds {limits.max_upload_bytes >> 20} MiB; send a shorter "
                "recording or zip it",
                code="upload_too_large",
                details={"limit_bytes": limits.max_upload_bytes},
            )
        budget -= len(data)
        if path in entries:
            raise UploadRejectedError(
                f"the upload holds two files named {path}; send each file once",
                code="duplicate_entry",
            )
        entries[path] = _Entry(path=path, size=len(data), data=data)
    return list(entries.values())


def _read_bounded(content: Content, budget: int) -> bytes | None:
    """The content's bytes, or None if it holds more than ``budget`` bytes."""
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content) if len(content) <= budget else None
    chunks, total = [], 0
    while True:
        chunk = content.read(min(1 * MiB, budget - total + 1))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > budget:
            return None
        chunks.append(chunk)


def _decode_name(name) -> str:
    if isinstance(name, bytes):
        try:
            name = name.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad_name(repr(name), "is not valid UTF-8 text") from None
    if not isinstance(name, str) or not name.strip():
        raise _bad_name(repr(name), "is empty")
    try:
        name.encode("utf-8")  # lone surrogates from a non-UTF-8 file system
    except UnicodeEncodeError:
        raise _bad_name(ascii(name), "is not valid UTF-8 text") from None
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise _bad_name(ascii(name), "holds a control character")
    return name


def _bad_name(shown: str, problem: str) -> UploadRejectedError:
    return UploadRejectedError(
        f"the file name {shown} {problem}; rename the file with plain letters and digits",
        code="invalid_filename",
    )


def _check_path(name: str, where: str) -> str:
    """A relative '/'-separated path without '..' (Windows separators and drives too)."""
    path = name.replace("\\", "/")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise UploadRejectedError(
            f"the {where} holds an absolute path ({name}); archive the files with relative paths",
            code="absolute_path",
        )
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UploadRejectedError(
            f"the {where} holds a path that climbs out of its folder ({name}); archive the "
            "record's files without '..'",
            code="path_traversal",
        )
    return "/".join(parts)


def _check_count(n: int, limits: UploadLimits, where: str) -> None:
    if n > limits.max_entries:
        raise UploadRejectedError(
            f"the {where} holds {n} files; at most {limits.max_entries} are accepted. "
            "Send one record: its .hea and signal files, or one .edf",
            code="too_many_entries",
        )


def _is_zip(entry: _Entry) -> bool:
    fmt = identify(entry.name, entry.data[:HEAD_BYTES])
    return fmt is not None and fmt.archive


# -------------------------------------------------------------------------------- zips


def _parse_zip(upload: _Entry, limits: UploadLimits) -> Record:
    zf = _open_zip(upload)
    with zf:
        entries = _zip_entries(zf, upload, limits)
        return _read_record(entries, limits, "archive", zf)


def _open_zip(upload: _Entry) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(upload.data))
    except UnicodeDecodeError:
        raise UploadRejectedError(
            f"{upload.name} holds a file name that is not valid UTF-8; rename the files "
            "with plain letters and digits and zip them again",
            code="invalid_filename",
        ) from None
    except Exception:  # BadZipFile, and struct/ValueError/OverflowError on garbage
        raise UnsupportedFormatError(
            f"{upload.name} is not a readable zip archive; create it again with a standard "
            "zip tool, or send the record's files directly",
            code="corrupt_archive",
        ) from None


def _zip_entries(zf: zipfile.ZipFile, upload: _Entry, limits: UploadLimits) -> list[_Entry]:
    infos = zf.infolist()
    if not infos:
        raise UploadRejectedError(
            f"{upload.name} is empty; put the .hea and its signal files (or one .edf) in it",
            code="empty_archive",
        )
    _check_count(len(infos), limits, "archive")
    entries: dict[str, _Entry] = {}
    for info in infos:
        entry = _check_info(info, limits)
        if entry is None:
            continue
        if entry.path in entries:
            raise UploadRejectedError(
                f"the archive holds {entry.path} twice; zip each file once",
                code="duplicate_entry",
            )
        entries[entry.path] = entry
    _check_totals(list(entries.values()), upload, limits)
    if not entries:
        raise UploadRejectedError(
            f"{upload.name} holds only folders; put the record's files in it",
            code="empty_archive",
        )
    return list(entries.values())


def _check_info(info: zipfile.ZipInfo, limits: UploadLimits) -> _Entry | None:
    name = _decode_name(info.filename)
    path = _check_path(name, "archive")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UploadRejectedError(
            f"the archive entry {name} is a symbolic link; zip the real files instead",
            code="symlink_entry",
        )
    if info.flag_bits & 0x1:
        raise UploadRejectedError(
            f"the archive entry {name} is encrypted; zip the files without a password",
            code="encrypted_entry",
        )
    if info.is_dir() or not path:
        return None
    if path.lower().endswith(_ARCHIVE_SUFFIXES):
        raise UploadRejectedError(
            f"the archive holds another archive ({name}); put the record's files directly "
            "into one .zip",
            code="nested_archive",
        )
    size = info.file_size
    if size > limits.ratio_exempt_bytes and size > limits.max_compression_ratio * max(
        info.compress_size, 1
    ):
        raise UploadRejectedError(
            f"the archive entry {name} expands {size / max(info.compress_size, 1):.0f}-fold "
            f"(limit {limits.max_compression_ratio:g}); this looks like a zip bomb. "
            "Zip the record's files with ordinary compression",
            code="compression_ratio_exceeded",
        )
    return _Entry(path=path, size=size, info=info)


def _check_totals(entries: list[_Entry], upload: _Entry, limits: UploadLimits) -> None:
    total = sum(e.size for e in entries)
    if total > limits.max_uncompressed_bytes:
        raise UploadTooLargeError(
            f"the archive expands to {total >> 20} MiB; at most "
            f"{limits.max_uncompressed_bytes >> 20} MiB are accepted. Send a shorter recording",
            code="uncompressed_too_large",
            details={"uncompressed_bytes": total},
        )
    if total > limits.ratio_exempt_bytes and total > limits.max_compression_ratio * max(
        upload.size, 1
    ):
        raise UploadRejectedError(
            f"the archive expands {total / max(upload.size, 1):.0f}-fold; this looks like a "
            "zip bomb. Zip the record's files with ordinary compression",
            code="compression_ratio_exceeded",
        )


def _load(entry: _Entry, zf: zipfile.ZipFile | None) -> bytes:
    """An entry's bytes, decompressed through a read that stops at its declared size."""
    if entry.data is not None:
        return entry.data
    data = _read_entry(entry, zf, entry.size + 1)
    if len(data) != entry.size:
        raise UploadRejectedError(
            f"the archive entry {entry.path} holds a different amount of data than its "
            "header declares; create the archive again",
            code="entry_size_mismatch",
        )
    entry.data = data
    return data


def _head(entry: _Entry, zf: zipfile.ZipFile | None) -> bytes:
    """The first `HEAD_BYTES` of an entry (all the format table looks at)."""
    if entry.data is not None:
        return entry.data[:HEAD_BYTES]
    return _read_entry(entry, zf, HEAD_BYTES)


def _read_entry(entry: _Entry, zf: zipfile.ZipFile, n: int) -> bytes:
    try:
        with zf.open(entry.info) as fh:
            return fh.read(n)
    except NotImplementedError:
        raise UnsupportedFormatError(
            f"the archive entry {entry.path} uses a compression method HeartEye cannot read; "
            "zip it with ordinary deflate compression",
            code="unsupported_compression",
        ) from None
    except Exception:  # BadZipFile (CRC, header mismatch), zlib.error, EOFError, ...
        raise UnsupportedFormatError(
            f"the archive entry {entry.path} is damaged and cannot be decompressed; create "
            "the archive again",
            code="corrupt_archive",
        ) from None


# --------------------------------------------------------------------- record selection


def _read_record(
    entries: list[_Entry], limits: UploadLimits, where: str, zf: zipfile.ZipFile | None = None
) -> Record:
    entries = [e for e in entries if not _is_junk(e)]
    nested = [e for e in entries if e.path.lower().endswith(_ARCHIVE_SUFFIXES)]
    if nested:
        raise UploadRejectedError(
            f"the {where} holds an archive ({nested[0].path}) next to other files; send one "
            ".zip or the record's files",
            code="nested_archive",
        )
    records = _records(entries, where, zf)
    if not records:
        found = ", ".join(e.path for e in entries[:5]) or "nothing"
        raise UploadRejectedError(
            f"the {where} holds no .hea or .edf file, nor any other ECG record HeartEye reads "
            f"(found: {found}); send {readable_formats()}",
            code="no_record",
        )
    if len(records) > 1:
        raise UploadRejectedError(_several_records(records, where), code="multiple_records")
    entry, fmt = records[0]
    siblings = {e.name: _member(e, zf) for e in entries if e.folder == entry.folder}
    return stamped(fmt.read_member(_member(entry, zf), siblings, limits.read), fmt)


def _records(entries: list[_Entry], where: str, zf) -> list[tuple[_Entry, Format]]:
    """The entries the format table recognises as a record, each with its format."""
    out = []
    for entry in entries:
        fmt = identify(entry.name, _head(entry, zf))
        if fmt is not None and fmt.archive:
            raise UploadRejectedError(
                f"the {where} holds another archive ({entry.path}); put the record's files "
                "directly into one .zip",
                code="nested_archive",
            )
        if fmt is not None:
            out.append((entry, fmt))
    return out


def _member(entry: _Entry, zf: zipfile.ZipFile | None) -> Member:
    return Member(name=entry.name, size=entry.size, load=lambda: _load(entry, zf))


def _several_records(records: list[tuple[_Entry, Format]], where: str) -> str:
    kinds = {fmt.name for _, fmt in records}
    kind = f"{kinds.pop().upper()} records" if len(kinds) == 1 else "records"
    words = {2: "two", 3: "three", 4: "four"}
    count = words.get(len(records), str(len(records)))
    names = [entry.path for entry, _ in records[:6]]
    listed = ", ".join(names[:-1]) + " and " + names[-1]
    return f"the {where} holds {count} {kind}: {listed}; upload one"


def _is_junk(entry: _Entry) -> bool:
    return (
        entry.path.startswith(_JUNK_DIRS)
        or entry.name.startswith("._")
        or entry.name in _JUNK_NAMES
    )
