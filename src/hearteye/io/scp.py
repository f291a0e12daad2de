"""SCP-ECG (EN 1064, ISO 11073-91064), recognised by section 0's identifier ``SCPECG``
(bytes 16-21) or, failing that, by the ``.scp`` suffix.

Decoded by `ecgdatakit` (Huffman tables of section 2, first and second differences, the
reference-beat subtraction of sections 4-6, CRC-CCITT of the record and of each section).
Carts that store 8 leads (I, II, V1-V6: Welch Allyn CardioControl) get III, aVR, aVL and aVF
derived. The measurements of section 7 (per lead in section 10) and the statements of
section 8 go to ``meta.device``; see `hearteye.io._cart`.

Files that only look like SCP-ECG (the Healforce Prince 180D writes interleaved 10-bit
samples without Huffman coding and without the ``SCPECG`` identifier) are refused with
``scp_not_compliant``: decoding them needs the vendor's private layout, not the standard.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hearteye.errors import InvalidRecordError
from hearteye.io._cart import (
    CartFormat,
    check_document_size,
    decode,
    read_from_member,
    read_from_path,
    to_record,
)
from hearteye.io._common import Member, ReadLimits
from hearteye.record import Record

FORMAT = "scp_ecg"
_DEFAULT_LIMITS = ReadLimits()
_ID = b"SCPECG"


def _parser():
    from ecgdatakit.parsing.parsers.scp_ecg import SCPECGParser

    return SCPECGParser()


CART = CartFormat(FORMAT, "SCP-ECG", ".scp", _parser)


def looks_like_scp(head: bytes) -> bool:
    return head[8:10] == b"\x00\x00" and head[16:22] == _ID


def read_scp_bytes(
    data: bytes, source: str = "upload.scp", limits: ReadLimits = _DEFAULT_LIMITS
) -> Record:
    check_document_size(len(data), source, CART, limits)
    if not looks_like_scp(data):
        raise InvalidRecordError(
            f"{source} is named like an SCP-ECG file but does not follow EN 1064 (section 0 "
            "lacks the SCPECG identifier); some handheld recorders write a private layout "
            "under this name. Export the ECG from the device's software as standard "
            "SCP-ECG, DICOM or EDF",
            code="scp_not_compliant",
        )
    return to_record(decode(data, source, CART, limits), source, CART, limits)


def read_scp(path: str | Path, limits: ReadLimits = _DEFAULT_LIMITS) -> Record:
    return read_from_path(path, limits, CART, read_scp_bytes)


def read_scp_member(main: Member, siblings: Mapping[str, Member], limits: ReadLimits) -> Record:
    return read_from_member(main, limits, CART, read_scp_bytes)
