"""HL7 v3 Annotated ECG (FDA aECG), recognised by its root element ``AnnotatedECG``.

The rhythm series' sequences hold each lead as ``origin + scale * digits`` (scale in uV) with
a time increment (0.002 s: 500 Hz); leads the file lacks among the limb leads are derived from
I and II. The annotations (global PR, QRS, QT, QTc, axes, fiducials of the representative
beat) go to ``meta.device``. Decoded by `ecgdatakit` (a defusedxml tree); every lead must
hold as many digits as the others; see `hearteye.io._cart`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hearteye.io._cart import CartFormat, decode, read_from_member, read_from_path, to_record
from hearteye.io._common import Member, ReadLimits
from hearteye.io._xml import check_xml, root_element
from hearteye.record import Record

FORMAT = "hl7_aecg"
_DEFAULT_LIMITS = ReadLimits()


def _parser():
    from ecgdatakit.parsing.parsers.hl7_aecg import HL7aECGParser

    return HL7aECGParser()


CART = CartFormat(FORMAT, "HL7 aECG", ".xml", _parser)


def looks_like_aecg(head: bytes) -> bool:
    return root_element(head) == "AnnotatedECG"


def read_aecg_bytes(
    data: bytes, source: str = "upload.xml", limits: ReadLimits = _DEFAULT_LIMITS
) -> Record:
    check_xml(data, source, CART.label)
    return to_record(decode(data, source, CART, limits), source, CART, limits)


def read_aecg(path: str | Path, limits: ReadLimits = _DEFAULT_LIMITS) -> Record:
    return read_from_path(path, limits, CART, read_aecg_bytes)


def read_aecg_member(main: Member, siblings: Mapping[str, Member], limits: ReadLimits) -> Record:
    return read_from_member(main, limits, CART, read_aecg_bytes)
