"""GE MUSE RestingECG XML (MUSE v7 to v9 exports, ``restecg.dtd``), recognised by its root
element ``RestingECG``.

The rhythm waveform holds 8 leads (I, II, V1-V6) as base64 little-endian 16-bit samples with
``LeadAmplitudeUnitsPerBit`` (4.88 uV on MAC carts) and ``SampleBase`` (500 Hz); III, aVR, aVL
and aVF are derived (Einthoven, Goldberger) and named in ``meta.extra["derived_leads"]``.
The 12SL program's measurements (``RestingECGMeasurements``), the confirmed statements
(``Diagnosis``) and the device's own before overread (``OriginalDiagnosis``) go to
``meta.device``. Decoded by `ecgdatakit`, which checks each lead's byte and sample counts and
its CRC32 against the data (a mismatch is refused); see `hearteye.io._cart`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hearteye.io._cart import CartFormat, decode, read_from_member, read_from_path, to_record
from hearteye.io._common import Member, ReadLimits
from hearteye.io._xml import check_xml, root_element
from hearteye.record import Record

FORMAT = "ge_muse_xml"
_DEFAULT_LIMITS = ReadLimits()


def _parser():
    from ecgdatakit.parsing.parsers.ge_muse_xml import GEMuseXMLParser

    return GEMuseXMLParser()


CART = CartFormat(FORMAT, "GE MUSE XML", ".xml", _parser)


def looks_like_muse(head: bytes) -> bool:
    return root_element(head) == "RestingECG"


def read_muse_bytes(
    data: bytes, source: str = "upload.xml", limits: ReadLimits = _DEFAULT_LIMITS
) -> Record:
    check_xml(data, source, CART.label)
    return to_record(decode(data, source, CART, limits), source, CART, limits)


def read_muse(path: str | Path, limits: ReadLimits = _DEFAULT_LIMITS) -> Record:
    return read_from_path(path, limits, CART, read_muse_bytes)


def read_muse_member(main: Member, siblings: Mapping[str, Member], limits: ReadLimits) -> Record:
    return read_from_member(main, limits, CART, read_muse_bytes)
