"""The one table of input formats HeartEye reads, and how a file is matched to one.

Each `Format` names its reader and says how a file of that format is recognised: by its
first bytes (a magic number, the DICOM preamble, the root element of an XML document) and by
the suffix of its name. Content decides first: a file is what its bytes say, whatever it is
called (an EDF file renamed ``.dat`` is read as EDF, a zip sent as ``.bin`` is unpacked as a
zip). The suffix decides only when no format recognises the bytes and it names exactly one
format, so a damaged ``.edf`` reaches the EDF reader and gets its specific error rather than a
generic one (``.xml`` names three formats and decides nothing). A file that
neither recognises is not a format HeartEye reads.

`hearteye.io.read_record` (files on disk), `hearteye.io.upload.parse_upload` (bytes from the
network, bare or zipped) and the API all ask this table, and every `Record` names the format
it was read as in ``meta.format`` (the `Format.name`), so nothing downstream guesses from a
file name.

Adding a format is one reader module in ``hearteye.io`` (its ``FORMAT`` name, a content test
on the first `HEAD_BYTES`, a reader from a path and one from an upload `Member`) and one line
in `FORMATS`, plus its tests.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from hearteye.io import aecg, dicom, edf, muse, philips, scp, wfdb
from hearteye.io._common import Member, ReadLimits
from hearteye.record import Record

# Bytes of a file's start that recognition looks at: magic numbers sit in the first few
# bytes, DICOM's at 128, and an XML root element after its declaration and doctype.
HEAD_BYTES = 8192

ReadPath = Callable[[Path, ReadLimits], Record]
ReadMember = Callable[[Member, Mapping[str, Member], ReadLimits], Record]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass(frozen=True)
class Format:
    """One input format: its name, how it is recognised, and its readers.

    ``read_path`` reads the file on disk, ``read_member`` the same file from an upload (with
    the other files of its folder, for formats spread over several files). An archive has
    neither: the upload parser unpacks it and looks for one record inside.
    """

    name: str  # `RecordMeta.format`; the API stores it (16 characters at most)
    label: str  # how a person knows it, for messages
    suffixes: tuple[str, ...]
    looks_like: Callable[[bytes], bool]  # a content test on the first HEAD_BYTES
    read_path: ReadPath | None = None
    read_member: ReadMember | None = None
    archive: bool = False


def _looks_like_zip(head: bytes) -> bool:
    return head[:4] in _ZIP_MAGIC


FORMATS: tuple[Format, ...] = (
    Format("zip", "a .zip archive holding one record", (".zip",), _looks_like_zip, archive=True),
    Format(
        edf.FORMAT,
        "EDF/EDF+ or BDF (.edf, .bdf)",
        (".edf", ".bdf"),
        edf.looks_like_edf,
        edf.read_edf,
        edf.read_edf_member,
    ),
    Format(
        dicom.FORMAT,
        "DICOM ECG waveform (.dcm)",
        (".dcm",),
        dicom.looks_like_dicom,
        dicom.read_dicom,
        dicom.read_dicom_member,
    ),
    Format(
        scp.FORMAT,
        "SCP-ECG (.scp)",
        (".scp",),
        scp.looks_like_scp,
        scp.read_scp,
        scp.read_scp_member,
    ),
    # XML formats: .xml names three of them, so only the root element tells them apart.
    Format(
        muse.FORMAT,
        "GE MUSE XML",
        (".xml",),
        muse.looks_like_muse,
        muse.read_muse,
        muse.read_muse_member,
    ),
    Format(
        philips.FORMAT,
        "Philips XML",
        (".xml",),
        philips.looks_like_philips,
        philips.read_philips,
        philips.read_philips_member,
    ),
    Format(
        aecg.FORMAT,
        "HL7 aECG XML",
        (".xml",),
        aecg.looks_like_aecg,
        aecg.read_aecg,
        aecg.read_aecg_member,
    ),
    # Last: its content test (a text line) is the loosest.
    Format(
        wfdb.FORMAT,
        "WFDB (.hea with its signal files)",
        (".hea",),
        wfdb.looks_like_wfdb_header,
        wfdb.read_wfdb,
        wfdb.read_wfdb_member,
    ),
)

_BY_NAME = {f.name: f for f in FORMATS}
assert len(_BY_NAME) == len(FORMATS), "format names must be unique"


def identify(name: str, head: bytes) -> Format | None:
    """The format of a file called ``name`` whose first bytes are ``head`` (at least
    `HEAD_BYTES` of them, or the whole file if shorter): by content, else by suffix, else
    None."""
    for fmt in FORMATS:
        if fmt.looks_like(head):
            return fmt
    suffix = posixpath.splitext(name.replace("\\", "/"))[1].lower()
    named = [f for f in FORMATS if suffix in f.suffixes]
    return named[0] if len(named) == 1 else None  # ".xml" names three: no guess


def record_suffixes() -> tuple[str, ...]:
    """Every suffix a file of the table usually has (for walking folders: a WFDB signal
    file is not a record, its header is)."""
    return tuple(dict.fromkeys(s for f in FORMATS for s in f.suffixes))


def format_named(name: str) -> Format:
    """The table's entry for ``name`` (KeyError if there is none)."""
    return _BY_NAME[name]


def readable_formats() -> str:
    """The formats HeartEye reads, for messages: "WFDB (...), EDF/EDF+ (...) and ..."."""
    labels = [f.label for f in FORMATS if not f.archive] + [f.label for f in FORMATS if f.archive]
    return ", ".join(labels[:-1]) + " or " + labels[-1]


def stamped(record: Record, fmt: Format) -> Record:
    """``record`` with ``meta.format`` set to the table's name for the format it was read as."""
    if record.meta.format == fmt.name:
        return record
    return replace(record, meta=replace(record.meta, format=fmt.name))


def head_of(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(HEAD_BYTES)
