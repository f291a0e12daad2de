"""DICOM waveform ECG (12-lead, General and Ambulatory ECG Waveform Storage), recognised by
the DICOM preamble (``DICM`` at byte 128).

The dataset is checked before a sample is decoded: it must be an ECG waveform object with a
Waveform Sequence; each multiplex group's channel count, sample count and bits must fit
`ReadLimits`, and its Waveform Data must hold exactly channels x samples x bytes per sample
(a lying count is refused, not truncated). Samples are ``code x sensitivity x correction
factor + baseline`` per Channel Definition, in its Channel Sensitivity Units (uV); a trailing
run of the padding value is missing data. The device's measurements and statements (the
Waveform Annotation Sequence: coded measurements with units, free-text or coded statements),
the device and the patient go to ``meta.device`` and the meta; see `hearteye.io._cart`.

Read here, not by pydicom and ecgdatakit: the libraries fail the staged real files on speed.
pydicom turns every element into a
Python object as it reads (4-5 us each): 5.7 ms for the 1,246 elements of a Mortara 10 s
export before a sample is touched, and ecgdatakit's findings walk over the same objects took
as long again (12-16 ms a file, 7-8x `wfdb.rdrecord` of the same signal). This module walks
the elements once (0.5-0.9 ms for that file; the whole read 1.3-2.1 ms, same run) and
converts only the ~40 kinds it reads, as pydicom converts them (text split at backslashes
and stripped, ``DS`` as float, person names by component, the character set's codec,
pydicom's own decoder for ISO 2022 sets) and reads the
findings with ecgdatakit's rules (measurement codes of SCP-ECG, MDC and LOINC with their
units, a value for the whole group only as a global measurement, statements from free text
or coded concepts); the tests prove the same `Record` on every staged file. Transfer
syntaxes: implicit and explicit VR little endian, explicit big endian, deflated (inflated at
most to the document limit). Waveform Data is taken as pydicom takes it, little-endian words
whatever the transfer syntax.
"""

from __future__ import annotations

import re
import struct
import warnings
import zlib
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from hearteye.errors import HeartEyeError, InvalidRecordError
from hearteye.io._cart import (
    CartFormat,
    Findings,
    Statements,
    assemble,
    check_document_size,
    device_record,
    generic_program,
    global_measurements,
    iso,
    patient_fields,
    read_from_member,
    read_from_path,
    resolution_text,
    stated_number,
    voltage_unit,
)
from hearteye.io._common import (
    Member,
    ReadLimits,
    check_lead_count,
    check_length,
    check_rate,
    mv_scale,
)
from hearteye.record import Record, normalise_lead_name

FORMAT = "dicom_ecg"
_DEFAULT_LIMITS = ReadLimits()
# Waveform Storage SOP classes of ECGs: 12-lead, General, Ambulatory.
_ECG_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.9.1.1",
    "1.2.840.10008.5.1.4.1.1.9.1.2",
    "1.2.840.10008.5.1.4.1.1.9.1.3",
}
_BITS = {8: 1, 16: 2, 32: 4}
_INTERPRETATIONS = {8: ("SB", "UB", "MB", "AB"), 16: ("SS", "US"), 32: ("SL", "UL")}
_DTYPES = {  # pydicom's, little-endian whatever the transfer syntax (as pydicom reads them)
    (8, "SB"): "int8",
    (8, "UB"): "uint8",
    (8, "MB"): "uint8",
    (8, "AB"): "uint8",
    (16, "SS"): "int16",
    (16, "US"): "uint16",
    (32, "SL"): "int32",
    (32, "UL"): "uint32",
}
_MIN_PADDING_S = 0.1  # a trailing run of the padding value this long is padding

CART = CartFormat(FORMAT, "DICOM ECG", ".dcm", None, ("hearteye",))

# ------------------------------------------------------------------------ the elements read

_TAGS = {
    "SpecificCharacterSet": (0x00080005, "CS"),
    "SOPClassUID": (0x00080016, "UI"),
    "Manufacturer": (0x00080070, "LO"),
    "ManufacturerModelName": (0x00081090, "LO"),
    "SoftwareVersions": (0x00181020, "LO"),
    "PatientName": (0x00100010, "PN"),
    "PatientSex": (0x00100040, "CS"),
    "PatientBirthDate": (0x00100030, "DA"),
    "PatientAge": (0x00101010, "AS"),
    "AcquisitionDateTime": (0x0008002A, "DT"),
    "AcquisitionDate": (0x00080022, "DA"),
    "AcquisitionTime": (0x00080032, "TM"),
    "ContentDate": (0x00080023, "DA"),
    "ContentTime": (0x00080033, "TM"),
    "StudyDate": (0x00080020, "DA"),
    "StudyTime": (0x00080030, "TM"),
    "TimezoneOffsetFromUTC": (0x00080201, "SH"),
    "WaveformSequence": (0x54000100, "SQ"),
    "MultiplexGroupLabel": (0x003A0020, "SH"),
    "NumberOfWaveformChannels": (0x003A0005, "US"),
    "NumberOfWaveformSamples": (0x003A0010, "UL"),
    "SamplingFrequency": (0x003A001A, "DS"),
    "WaveformBitsAllocated": (0x54001004, "US"),
    "WaveformSampleInterpretation": (0x54001006, "CS"),
    "WaveformPaddingValue": (0x5400100A, "OB"),
    "WaveformData": (0x54001010, "OB"),
    "ChannelDefinitionSequence": (0x003A0200, "SQ"),
    "ChannelSourceSequence": (0x003A0208, "SQ"),
    "ChannelSensitivity": (0x003A0210, "DS"),
    "ChannelSensitivityUnitsSequence": (0x003A0211, "SQ"),
    "ChannelSensitivityCorrectionFactor": (0x003A0212, "DS"),
    "ChannelBaseline": (0x003A0213, "DS"),
    "CodeValue": (0x00080100, "SH"),
    "LongCodeValue": (0x00080119, "UC"),
    "CodingSchemeDesignator": (0x00080102, "SH"),
    "CodeMeaning": (0x00080104, "LO"),
    "WaveformAnnotationSequence": (0x0040B020, "SQ"),
    "ConceptNameCodeSequence": (0x0040A043, "SQ"),
    "ConceptCodeSequence": (0x0040A168, "SQ"),
    "UnformattedTextValue": (0x00700006, "ST"),
    "NumericValue": (0x0040A30A, "DS"),
    "MeasurementUnitsCodeSequence": (0x004008EA, "SQ"),
    "ReferencedWaveformChannels": (0x0040A0B0, "US"),
    "ReferencedSamplePositions": (0x0040A132, "UL"),
    "ReferencedTimeOffsets": (0x0040A138, "DS"),
    "ReferencedDateTime": (0x0040A13A, "DT"),
}
_TAG = {name: tag for name, (tag, _) in _TAGS.items()}
_VR = {tag: vr for tag, vr in _TAGS.values()}
# Sequences as the dictionary knows them (implicit VR says nothing): those read, and the other
# sequences an ECG export carries, so their items are walked rather than taken for values.
_SEQUENCES = {tag for tag, vr in _TAGS.values() if vr == "SQ"} | {
    0x00400555,  # Acquisition Context Sequence
    0x00081032,  # Procedure Code Sequence
    0x00081111,  # Referenced Performed Procedure Step Sequence
    0x00081110,  # Referenced Study Sequence
    0x00081140,  # Referenced Image Sequence
    0x00400260,  # Performed Protocol Code Sequence
    0x0040A170,  # Purpose of Reference Code Sequence
    0x0040A730,  # Content Sequence
}
_LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
_TEXT_VRS = {"SH", "LO", "UC", "PN"}  # decoded with the character set, split at backslashes
_SINGLE_VRS = {"ST", "LT", "UT"}  # decoded with the character set, never split
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_MAX_DEPTH = 16
_IMPLICIT = "1.2.840.10008.1.2"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_DEFLATED = "1.2.840.10008.1.2.1.99"


def looks_like_dicom(head: bytes) -> bool:
    return head[128:132] == b"DICM"


def read_dicom_bytes(
    data: bytes, source: str = "upload.dcm", limits: ReadLimits = _DEFAULT_LIMITS
) -> Record:
    check_document_size(len(data), source, CART, limits)
    try:
        ds = _Dataset.read(data, limits)
        index = check_waveforms(ds, source, limits)
        names, rows, units, fs = _rhythm(ds, index, source)
        findings = _findings(ds, index)
    except HeartEyeError:
        raise
    except _Inflated:
        raise InvalidRecordError(
            f"{source}: the deflated DICOM dataset inflates past "
            f"{limits.max_document_bytes >> 20} MiB; a resting ECG is well under 1 MiB",
            code="document_too_large",
            details={"limit_bytes": limits.max_document_bytes},
        ) from None
    except Exception:  # a truncated element, a value no rule expected: a damaged file
        raise InvalidRecordError(
            f"{source}: the DICOM file is damaged (its elements cannot be read); export it again",
            code="corrupt_dicom_ecg",
        ) from None
    return assemble(names, rows, units, fs, findings, source, CART, limits)


def read_dicom(path: str | Path, limits: ReadLimits = _DEFAULT_LIMITS) -> Record:
    return read_from_path(path, limits, CART, read_dicom_bytes)


def read_dicom_member(main: Member, siblings: Mapping[str, Member], limits: ReadLimits) -> Record:
    return read_from_member(main, limits, CART, read_dicom_bytes)


# --------------------------------------------------------------------------- the dataset


class _Damaged(Exception):
    """The elements do not fit the bytes (truncated, lengths past the end, too deep)."""


class _Inflated(Exception):
    """A deflated dataset that inflates past the document limit."""


class _Dataset:
    """One dataset or sequence item: raw elements by tag (``(vr, bytes)``, a sequence as a
    list of `_Dataset`), converted to values only when read, with the character set in
    force (an item keeps its parent's unless it names its own)."""

    __slots__ = ("elements", "charset", "little")

    def __init__(self, elements: dict, charset: tuple[str, ...], little: bool = True):
        self.elements = elements
        self.charset = charset
        self.little = little

    @classmethod
    def read(cls, data: bytes, limits: ReadLimits) -> _Dataset:
        if data[128:132] != b"DICM":
            raise _Damaged
        meta, pos = _Walker(data, explicit=True, little=True).meta(132)
        syntax = _clean(meta.get(0x00020010, b"").decode("latin-1"))
        if not syntax:  # no transfer syntax stated: the first element's VR field tells
            vr = data[pos + 4 : pos + 6]
            syntax = _IMPLICIT if not (vr.isalpha() and vr.isupper()) else ""
        if syntax == _DEFLATED:
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            body = inflater.decompress(data[pos:], limits.max_document_bytes)
            if inflater.unconsumed_tail:
                raise _Inflated
            data, pos = body, 0
        walker = _Walker(data, explicit=syntax != _IMPLICIT, little=syntax != _BIG_ENDIAN)
        return walker.dataset(pos, len(data), 0, ())

    def raw(self, name: str):
        return self.elements.get(_TAG[name])

    def has(self, name: str) -> bool:
        return _TAG[name] in self.elements

    def items(self, name: str) -> list[_Dataset]:
        el = self.elements.get(_TAG[name])
        return el if isinstance(el, list) else []

    def first(self, name: str) -> _Dataset | None:
        items = self.items(name)
        return items[0] if items else None

    # pydicom's value for the element (None when absent), as ecgdatakit then reads it

    def value(self, name: str):
        el = self.elements.get(_TAG[name])
        if el is None or isinstance(el, list):
            return el
        vr, raw = el
        vr = vr if vr not in (None, "UN") else _VR[_TAG[name]]
        return _convert(vr, raw, self.charset, self.little)

    def text(self, name: str) -> str:
        """ecgdatakit's ``_text``: a value stripped, several joined with "; "."""
        return _text(self.value(name))

    def number(self, name: str) -> float | None:
        """ecgdatakit's ``_float``: None when absent, empty or several values."""
        value = self.value(name)
        if value is None or isinstance(value, list) or str(value).strip() == "":
            return None
        return float(value)

    def integer(self, name: str) -> int:
        """A count (US, UL): 0 when absent; several values are not a count."""
        value = self.value(name)
        if isinstance(value, list):
            raise ValueError("several values for a count")
        return int(value or 0)


def _clean(text: str) -> str:
    return text.rstrip("\0 ")


class _Walker:
    """Data elements to `_Dataset` (PS3.5 section 7): explicit or implicit VR, either byte
    order; undefined lengths closed by their delimiters; every length checked against the
    bytes that remain; nesting at most 16 deep."""

    def __init__(self, data: bytes, explicit: bool, little: bool):
        self.data, self.explicit, self.little = data, explicit, little
        order = "<" if little else ">"
        self.tag_vr_short = struct.Struct(order + "HH2sH").unpack_from
        self.tag_long = struct.Struct(order + "HHI").unpack_from
        self.long = struct.Struct(order + "I").unpack_from
        self.item = struct.Struct("<HHI").unpack_from if little else self.tag_long

    def meta(self, pos: int) -> tuple[dict, int]:
        """Group 2 (always explicit VR little endian): raw values by tag, and where the
        dataset starts."""
        data, found = self.data, {}
        while pos + 8 <= len(data):
            group, elem, vr, length = self.tag_vr_short(data, pos)
            if group != 2:
                break
            vr = vr.decode("latin-1")
            if vr in _LONG_VRS:
                length, pos = self.long(data, pos + 8)[0], pos + 12
            else:
                pos += 8
            if length == _UNDEFINED or pos + length > len(data):
                raise _Damaged
            found[(group << 16) | elem] = data[pos : pos + length]
            pos += length
        return found, pos

    def dataset(self, pos: int, end: int, depth: int, charset: tuple[str, ...]) -> _Dataset:
        elements: dict = {}
        ds = _Dataset(elements, charset, self.little)
        self._elements(ds, pos, end, depth)
        return ds

    def _elements(self, ds: _Dataset, pos: int, end: int, depth: int) -> int:
        """Read elements into ``ds`` up to ``end`` or an item delimiter; where it stopped."""
        if depth > _MAX_DEPTH:
            raise _Damaged
        data, elements, explicit = self.data, ds.elements, self.explicit
        while pos < end:
            if pos + 8 > end:
                raise _Damaged
            if explicit:
                group, elem, vr, length = self.tag_vr_short(data, pos)
                if group == 0xFFFE:
                    vr, length = None, self.long(data, pos + 4)[0]
                    pos += 8
                else:
                    vr = vr.decode("latin-1")
                    if vr in _LONG_VRS:
                        if pos + 12 > end:
                            raise _Damaged
                        length, pos = self.long(data, pos + 8)[0], pos + 12
                    else:
                        pos += 8
            else:
                group, elem, length = self.tag_long(data, pos)
                vr, pos = None, pos + 8
            tag = (group << 16) | elem
            if tag == _ITEM_END:
                return pos
            if vr == "SQ" or length == _UNDEFINED or (vr is None and tag in _SEQUENCES):
                implicit_items = vr == "UN"  # UN of undefined length: implicit VR LE inside
                elements[tag], pos = self._sequence(pos, end, length, depth, ds, implicit_items)
                continue
            if pos + length > end:
                raise _Damaged
            elements[tag] = (vr, data[pos : pos + length])
            pos += length
            if tag == 0x00080005:  # the character set of this dataset and its items
                ds.charset = _charset(data[pos - length : pos])
        return pos

    def _sequence(self, pos, end, length, depth, parent: _Dataset, implicit_items: bool):
        stop = end if length == _UNDEFINED else pos + length
        if stop > end:
            raise _Damaged
        walker = self
        if implicit_items and self.explicit:
            walker = _Walker(self.data, explicit=False, little=True)
        items = []
        while pos < stop:
            if pos + 8 > stop:
                raise _Damaged
            group, elem, item_length = self.item(self.data, pos)
            tag = (group << 16) | elem
            pos += 8
            if tag == _SEQUENCE_END:
                return items, pos
            if tag != _ITEM:
                raise _Damaged
            ds = _Dataset({}, parent.charset, walker.little)
            if item_length == _UNDEFINED:
                pos = walker._elements(ds, pos, stop, depth + 1)
            else:
                if pos + item_length > stop:
                    raise _Damaged
                walker._elements(ds, pos, pos + item_length, depth + 1)
                pos += item_length
            items.append(ds)
        if length == _UNDEFINED:
            raise _Damaged  # no sequence delimiter before the end
        return items, pos


def _charset(raw: bytes) -> tuple[str, ...]:
    text = raw.decode("latin-1").rstrip(" \0")
    return tuple(t.strip() for t in text.split("\\"))


# -------------------------------------------------------------- values, as pydicom gives them


def _decode(raw: bytes, charset: tuple[str, ...]) -> str:
    """Text in the dataset's character set. ASCII-compatible single-byte sets and UTF-8 are
    decoded here; ISO 2022 code extensions (escape sequences) by pydicom's own decoder."""
    if not charset or charset[0] in ("", "ISO_IR 6", "ISO_IR 100"):
        if len(charset) <= 1:
            return raw.decode("latin-1")
    if charset == ("ISO_IR 192",):
        return raw.decode("utf-8", errors="replace")
    from pydicom.charset import convert_encodings, decode_bytes
    from pydicom.values import TEXT_VR_DELIMS

    with warnings.catch_warnings():  # an unknown set: pydicom warns (no value quoted), decodes
        warnings.simplefilter("ignore")
        return decode_bytes(raw, convert_encodings(list(charset)), TEXT_VR_DELIMS)


class _Name(str):
    """A person name (PN): the text, and its alphabetic group's components."""

    @property
    def parts(self) -> list[str]:
        return self.split("=")[0].split("^")


def _convert(vr: str, raw: bytes, charset: tuple[str, ...], little: bool = True):
    """pydicom's value: str, int, float or a list of them (several values), None for an
    empty numeric element; bytes for OB and OW, as stored (pydicom swaps no waveform word)."""
    if not raw:
        return (
            ""
            if vr in _TEXT_VRS | _SINGLE_VRS | {"AE", "AS", "CS", "DA", "DT", "TM", "UI"}
            else None
        )
    if vr in ("US", "SS", "UL", "SL", "FL", "FD"):
        code = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}[vr]
        size = struct.calcsize(code)
        order = "<" if little else ">"
        count = len(raw) // size
        values = list(struct.unpack(f"{order}{count}{code}", raw[: count * size]))
        return values[0] if len(values) == 1 else values
    if vr in _SINGLE_VRS:
        return _decode(raw, charset).rstrip("\0 ")
    if vr in _TEXT_VRS:
        if vr == "PN":
            parts = _decode(raw.rstrip(b"\x00 "), charset).split("\\")
            names = [_Name(p) for p in parts]
            return names[0] if len(names) == 1 else names
        parts = [p.rstrip("\0 ") for p in _decode(raw, charset).split("\\")]
        return parts[0] if len(parts) == 1 else parts
    if vr in ("DS", "IS"):
        items = raw.decode("latin-1").strip().rstrip(" \x00").split("\\")
        values = [_ds(i) if vr == "DS" else _is(i) for i in items]
        return values[0] if len(values) == 1 else values
    if vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
        return raw
    if vr not in ("AE", "AS", "CS", "DA", "DT", "TM", "UI", "UR"):
        raise ValueError(f"unknown value representation {vr!r}")
    items = raw.decode("latin-1").rstrip(" \x00").split("\\")
    return items[0] if len(items) == 1 else items


def _ds(text: str):
    return text if text.strip() == "" else float(text)


def _is(text: str):
    return text if text.strip() == "" else int(float(text))


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(v).strip() for v in value if str(v).strip())
    return str(value).strip()


# ------------------------------------------------------------------------------ waveforms


def check_waveforms(ds: _Dataset, source: str, limits: ReadLimits) -> int:
    """Refuse a dataset that is not an ECG waveform, or whose waveform sizes lie; return the
    index of the rhythm group (the first one not labelled a median beat)."""
    sop = ds.value("SOPClassUID")
    sop = "" if sop is None else str(sop)
    if sop not in _ECG_SOP_CLASSES:
        raise InvalidRecordError(
            f"{source} is a DICOM object but not an ECG waveform (SOP class {sop or 'none'}); "
            "export the ECG as DICOM 12-lead or General ECG Waveform",
            code="dicom_not_ecg",
        )
    groups = ds.items("WaveformSequence")
    if not groups:
        raise InvalidRecordError(
            f"{source}: the DICOM ECG holds no Waveform Sequence (no samples)",
            code="dicom_no_waveform",
        )
    for i, group in enumerate(groups):
        _check_group(group, i, source, limits)
    labels = [_text(g.value("MultiplexGroupLabel")).upper() for g in groups]
    return next((i for i, label in enumerate(labels) if "MEDIAN" not in label), 0)


def _check_group(group: _Dataset, index: int, source: str, limits: ReadLimits) -> None:
    try:
        channels = group.integer("NumberOfWaveformChannels")
        samples = group.integer("NumberOfWaveformSamples")
        bits = group.integer("WaveformBitsAllocated")
        fs = float(group.value("SamplingFrequency") or 0)
    except (TypeError, ValueError):
        raise InvalidRecordError(
            f"{source}: waveform group {index + 1} has an unreadable size field",
            code="dicom_bad_waveform_attributes",
        ) from None
    where = f"{source} (waveform group {index + 1})"
    check_lead_count(channels, limits, where)
    check_rate(fs, limits, where)
    check_length(channels, samples, fs, limits, where)
    interpretation = (
        group.value("WaveformSampleInterpretation")
        if group.has("WaveformSampleInterpretation")
        else "SS"
    )
    if str(interpretation) not in _INTERPRETATIONS.get(bits, ()):
        raise InvalidRecordError(
            f"{where}: {bits}-bit samples interpreted as {str(interpretation):.8}; DICOM "
            "defines SS/US (16 bit), SB/UB/MB/AB (8 bit), SL/UL (32 bit)",
            code="dicom_bad_waveform_attributes",
        )
    if bits not in _BITS:
        raise InvalidRecordError(
            f"{where}: {bits} bits per sample; DICOM ECGs use 8, 16 or 32",
            code="dicom_bad_waveform_attributes",
        )
    expected = channels * samples * _BITS[bits]
    actual = len(group.value("WaveformData") or b"")
    if actual != expected:
        raise InvalidRecordError(
            f"{where}: Waveform Data holds {actual} bytes, but {channels} channels x {samples} "
            f"samples x {bits} bits need {expected}; the counts disagree with the data",
            code="dicom_waveform_size_mismatch",
            details={"expected_bytes": expected, "actual_bytes": actual},
        )


def _rhythm(ds: _Dataset, index: int, source: str):
    """Lead names, mV rows, file units and rate of one multiplex group (code x sensitivity x
    correction factor + baseline, as pydicom's ``waveform_array``). Samples equal to the
    padding value count as missing (NaN) only in a run of at least 0.1 s at a channel's end,
    where padding belongs: a writer that declares 0 as padding (ECG Toolkit does) must not
    blank every true zero of the signal."""
    group = ds.items("WaveformSequence")[index]
    bits = group.integer("WaveformBitsAllocated")
    n_ch = group.integer("NumberOfWaveformChannels")
    n = group.integer("NumberOfWaveformSamples")
    data = group.value("WaveformData")
    dtype = _DTYPES[(bits, str(group.value("WaveformSampleInterpretation")))]
    codes = np.frombuffer(data, dtype=dtype).reshape(n, n_ch)
    raw = np.frombuffer(data, dtype={8: "i1", 16: "<i2", 32: "<i4"}[bits]).reshape(-1, n_ch)
    pad = _padding(group, bits)
    fs = group.number("SamplingFrequency")
    names, rows, units = [], [], []
    for ch, definition in enumerate(group.items("ChannelDefinitionSequence")):
        unit = _unit(definition)
        scale = mv_scale(unit)
        if scale is None:
            raise InvalidRecordError(
                f"{source}: channel {ch + 1} gives no voltage unit ({unit or 'none'})",
                code="unknown_amplitude_unit",
            )
        sensitivity = _scaling(definition, "ChannelSensitivity", 1.0)
        correction = _scaling(definition, "ChannelSensitivityCorrectionFactor", 1.0)
        baseline = _scaling(definition, "ChannelBaseline", 0.0)
        row = (codes[:, ch].astype(np.float64) * sensitivity * correction + baseline) * scale
        if pad is not None:
            row[_trailing(raw[:, ch] == pad, int(fs * _MIN_PADDING_S))] = np.nan
        names.append(_lead_name(definition, ch))
        rows.append(row.astype(np.float32))
        units.append(unit)
    return names, rows, units, fs


def _scaling(definition: _Dataset, name: str, default: float) -> float:
    """A channel's sensitivity, correction factor or baseline as pydicom's waveform_array
    uses it: the default when absent; an empty or multi-valued one is not a number."""
    if not definition.has(name):
        return default
    value = definition.value(name)
    if value is None or isinstance(value, (list, str)):
        raise ValueError(f"{name} is not one number")
    return value


def _padding(group: _Dataset, bits: int) -> int | None:
    pad = group.value("WaveformPaddingValue")
    if not isinstance(pad, bytes) or not pad:
        return None
    return int.from_bytes(pad[: _BITS[bits]], "little", signed=True)


def _trailing(is_pad: np.ndarray, min_run: int) -> np.ndarray:
    """Mask of the run of True values at the end of ``is_pad``, if at least ``min_run`` long
    (a few trailing samples that equal the padding value are more likely values)."""
    out = np.zeros_like(is_pad)
    keep = np.flatnonzero(~is_pad)
    start = keep[-1] + 1 if keep.size else 0
    if is_pad.size - start >= min_run:
        out[start:] = True
    return out


def _unit(definition: _Dataset) -> str:
    item = definition.first("ChannelSensitivityUnitsSequence")
    return str(item.value("CodeValue") or "") if item is not None else ""


_PAREN = re.compile(r"\s*\(.*\)\s*$")


def _lead_name(definition: _Dataset, ch: int) -> str:
    item = definition.first("ChannelSourceSequence")
    meaning = str(item.value("CodeMeaning") or "") if item is not None else ""
    # "Lead I (Einthoven)" (SCP-ECG codes), "aVR, augmented voltage, right" (MDC codes)
    core = _PAREN.sub("", meaning).split(",")[0]
    return normalise_lead_name(core) if meaning else f"channel {ch + 1}"


# ------------------------------------------------------------------------------- findings

# Global measurement codes: PS3.16 CID 3227-3229 MDC codes, their MDC reference ids, LOINC
# heart rate, and the SCP-ECG codes carts write (ecgdatakit's table).
_MEASUREMENT_CODES = {
    "2:16770": "heart_rate",
    "8867-4": "heart_rate",
    "MDC_ECG_HEART_RATE": "heart_rate",
    "2:16168": "rr_interval",
    "MDC_ECG_TIME_PD_RR": "rr_interval",
    "MDC_ECG_TIME_PD_RR_GL": "rr_interval",
    "2:15872": "pr_interval",
    "MDC_ECG_TIME_PD_PR": "pr_interval",
    "MDC_ECG_TIME_PD_PR_GL": "pr_interval",
    "2:16156": "qrs_duration",
    "MDC_ECG_TIME_PD_QRS": "qrs_duration",
    "MDC_ECG_TIME_PD_QRS_GL": "qrs_duration",
    "2:16160": "qt_interval",
    "MDC_ECG_TIME_PD_QT": "qt_interval",
    "MDC_ECG_TIME_PD_QT_GL": "qt_interval",
    "2:15880": "qtc_bazett",
    "MDC_ECG_TIME_PD_QTcB": "qtc_bazett",
    "2:15892": "qtc_fridericia",
    "MDC_ECG_TIME_PD_QTcF": "qtc_fridericia",
    "2:16128": "p_axis",
    "MDC_ECG_ANGLE_P_FRONT": "p_axis",
    "2:16132": "qrs_axis",
    "MDC_ECG_ANGLE_QRS_FRONT": "qrs_axis",
    "2:16136": "t_axis",
    "MDC_ECG_ANGLE_T_FRONT": "t_axis",
    "5.10.2.1-3": "rr_interval",
    "5.13.5-7": "pr_interval",
    "5.13.5-9": "qrs_duration",
    "5.13.5-11": "qt_interval",
    "5.10.3-11": "p_axis",
    "5.10.3-13": "qrs_axis",
    "5.10.3-15": "t_axis",
}
_QTC_KEYS = ("QTCorrected", "qtc_ms", "QTc Interval", "qtc", "MDC_ECG_TIME_PD_QTc")
_POSITIONS = ("ReferencedSamplePositions", "ReferencedTimeOffsets", "ReferencedDateTime")


def _findings(ds: _Dataset, index: int) -> Findings:
    acquired = _acquired(ds)
    manufacturer = ds.text("Manufacturer")
    model = ds.text("ManufacturerModelName")
    software = ds.text("SoftwareVersions")
    values, stated, lines = _annotations(ds)
    qtc = next(
        (v for v in (stated_number(stated.get(k)) for k in _QTC_KEYS) if v is not None), None
    )
    device = device_record(
        manufacturer=manufacturer,
        model=model,
        software_version=software,
        program=generic_program(manufacturer, model, software),
        measurements=global_measurements(values, qtc),
        per_lead=None,
        statements=Statements(lines=tuple(lines), source="machine" if lines else ""),
    )
    first, last, age, sex = _patient(ds, acquired)
    return Findings(
        device=device,
        acquired_at=iso(acquired),
        resolution=_resolution(ds.items("WaveformSequence")[index]),
        **patient_fields(first, last, age, sex),
    )


def _code(item: _Dataset | None) -> tuple[str, str]:
    """(value, meaning) of a code sequence item."""
    if item is None:
        return "", ""
    return item.text("CodeValue") or item.text("LongCodeValue"), item.text("CodeMeaning")


def _measurement_unit(item: _Dataset) -> str:
    """A measurement's unit: its code, else the code's meaning."""
    value, meaning = _code(item.first("MeasurementUnitsCodeSequence"))
    return value or meaning


def _annotations(ds: _Dataset) -> tuple[dict, dict, list]:
    """Global measurements (a numeric value for a whole multiplex group under a known code,
    in a known unit; the first one wins), the other stated values by name (a QTc without a
    named formula among them), and the statements (free text, else the coded concept). Texts
    are converted only where they are used (a text conversion cannot fail); numbers always,
    so a damaged one refuses the file as before."""
    items = list(ds.items("WaveformAnnotationSequence"))
    for group in ds.items("WaveformSequence"):
        items.extend(group.items("WaveformAnnotationSequence"))
    measurements: dict[str, int] = {}
    stated: dict[str, str] = {}
    fiducials: dict[str, list[str]] = {}
    lines: list[tuple[str, str]] = []
    for item in items:
        code, name = _code(item.first("ConceptNameCodeSequence"))
        numeric = item.number("NumericValue")
        channels, whole = _channels(item)
        if any(item.value(p) is not None for p in _POSITIONS):
            if numeric is not None:  # a fiducial's own value, kept by its concept's name
                concept = _code(item.first("ConceptCodeSequence"))[1]
                text = concept or name or item.text("UnformattedTextValue") or code
                base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
                if channels and channels != ["group 1"]:
                    base += "_" + "_".join(c.replace(" ", "") for c in channels)
                fiducials.setdefault(base, []).append(
                    f"{numeric:g} {_measurement_unit(item)}".strip()
                )
            continue
        if numeric is not None:
            unit = _measurement_unit(item)
            field = _measurement_field(code, name) if whole else None
            converted = _convert_measurement(field, numeric, unit)
            if field and converted is not None and field not in measurements:
                measurements[field] = converted
            else:
                key = name or code or "measurement"
                if channels and not whole:
                    key = f"{key} ({', '.join(channels)})"
                stated[key] = f"{numeric:g} {unit}".strip()
            continue
        line = item.text("UnformattedTextValue") or _code(item.first("ConceptCodeSequence"))[1]
        if line or name:
            lines.append((line or name, ""))
    for key, found in fiducials.items():
        stated.setdefault(key, ", ".join(found))
    return measurements, stated, lines


def _channels(item: _Dataset) -> tuple[list[str], bool]:
    """The referenced (group, channel) pairs, and whether they all name whole groups
    (channel 0, or no reference: a global value). A channel is named only as far as the
    names tell whole groups from channels."""
    refs = item.value("ReferencedWaveformChannels")
    if refs is None:
        return [], True
    values = refs if isinstance(refs, list) else [refs]
    names, whole = [], True
    for i in range(0, len(values) - 1, 2):
        group, channel = int(values[i]), int(values[i + 1])
        if channel == 0:
            names.append(f"group {group}")
        else:
            whole = False
            names.append(f"group {group} channel {channel}")
    return names, whole


def _measurement_field(code: str, meaning: str) -> str | None:
    lower = meaning.lower()
    if "framingham" in lower or "hodges" in lower:
        return None
    if "bazett" in lower:
        return "qtc_bazett"
    if "fridericia" in lower or "fredericia" in lower:
        return "qtc_fridericia"
    return _MEASUREMENT_CODES.get(code) or _MEASUREMENT_CODES.get(meaning)


def _convert_measurement(field: str | None, value: float, unit: str) -> int | None:
    """In the field's unit (ms, bpm, deg), or None when the stated unit is not one of its."""
    if field is None:
        return None
    unit = unit.strip()
    if field.endswith("_axis"):
        if unit == "rad":
            value = float(np.degrees(value))
        elif unit not in ("deg", "\u00b0", "degree", "degrees"):
            return None
    elif field == "heart_rate":
        if unit not in ("/min", "{beats}/min", "{beat}/min", "1/min", "bpm", "beats/min"):
            return None
    else:
        factors = {"ms": 1.0, "s": 1000.0, "us": 0.001}
        if unit not in factors:
            return None
        value *= factors[unit]
    return int(round(value))


def _resolution(group: _Dataset) -> str | None:
    """The one resolution (sensitivity x correction factor, in the channels' voltage unit)
    of the group's channels read as counts."""
    defs = group.items("ChannelDefinitionSequence")
    found, units = set(), []
    for ch in range(group.integer("NumberOfWaveformChannels")):
        resolution, unit, offset = 1.0, "", 0.0
        if ch < len(defs):
            d = defs[ch]
            sensitivity = d.number("ChannelSensitivity")
            correction = d.number("ChannelSensitivityCorrectionFactor")
            baseline = d.number("ChannelBaseline")
            value, meaning = _code(d.first("ChannelSensitivityUnitsSequence"))
            norm = next((voltage_unit(c) for c in (value, meaning) if c and voltage_unit(c)), None)
            if sensitivity is not None and norm is not None:
                resolution = sensitivity * (correction if correction is not None else 1.0)
                unit, offset = norm, baseline or 0.0
        units.append(unit)
        if not (unit and resolution == 1.0 and offset == 0.0):
            found.add(float(resolution))
    return resolution_text(found, units[0]) if units else None


def _patient(ds: _Dataset, acquired: datetime | None):
    """First and last name, age in years (the stated age, else from the birth date at
    acquisition), sex ("M", "F", else "U")."""
    name = ds.value("PatientName")
    first = last = ""
    if name is not None:
        if isinstance(name, _Name):
            parts = name.parts
            last, first = parts[0].strip(), (parts[1] if len(parts) > 1 else "").strip()
        if not last and not first:  # several names: pydicom's text of the list
            text = f"[{', '.join(name)}]" if isinstance(name, list) else str(name)
            last = text.strip()
    sex = ds.text("PatientSex").upper()
    dob = _parse_da(ds.value("PatientBirthDate"))
    age = ds.text("PatientAge").upper()
    years = None
    if len(age) == 4 and age[:3].isdigit() and age[3] in "DWMY":
        n = int(age[:3])
        years = {"Y": n, "M": n // 12, "W": n // 52, "D": n // 365}[age[3]]
    elif dob is not None and acquired is not None:
        y = acquired.year - dob.year - ((acquired.month, acquired.day) < (dob.month, dob.day))
        years = y if y >= 0 else None
    return first, last, years, sex if sex in ("M", "F") else "U"


def _acquired(ds: _Dataset) -> datetime | None:
    """Acquisition date and time (else content, else study), in the stated time zone; never
    a date without its time of day."""
    tz = _parse_tz(ds.value("TimezoneOffsetFromUTC"))
    stamp = _parse_dt(ds.value("AcquisitionDateTime"), tz)
    if stamp is not None:
        return stamp
    for day_name, time_name in (
        ("AcquisitionDate", "AcquisitionTime"),
        ("ContentDate", "ContentTime"),
        ("StudyDate", "StudyTime"),
    ):
        day, tm = _parse_da(ds.value(day_name)), _parse_tm(ds.value(time_name))
        if day is not None and tm is not None:
            return datetime(day.year, day.month, day.day, *tm, tzinfo=tz)
    return None


def _parse_da(value) -> date | None:
    text = _text(value)
    if len(text) >= 8 and text[:8].isdigit():
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        except ValueError:
            return None
    return None


def _parse_tm(value) -> tuple[int, int, int, int] | None:
    """A DICOM TM (``HHMMSS.FFFFFF``, minutes and seconds optional)."""
    text = _text(value).replace(":", "")
    if len(text) < 2 or not text[:2].isdigit():
        return None
    main, _, frac = text.partition(".")
    try:
        hour = int(main[0:2])
        minute = int(main[2:4]) if len(main) >= 4 else 0
        second = int(main[4:6]) if len(main) >= 6 else 0
        micro = int((frac + "000000")[:6]) if frac.isdigit() else 0
        datetime(2000, 1, 1, hour, minute, min(second, 59), micro)
    except ValueError:
        return None
    return hour, minute, min(second, 59), micro


def _parse_tz(value) -> timezone | None:
    text = _text(value)
    if len(text) == 5 and text[0] in "+-" and text[1:].isdigit():
        delta = timedelta(hours=int(text[1:3]), minutes=int(text[3:5]))
        return timezone(-delta if text[0] == "-" else delta)
    return None


def _parse_dt(value, default_tz: timezone | None) -> datetime | None:
    """A DICOM DT; None when it carries no time of day."""
    text = _text(value)
    if len(text) < 10 or not text[:8].isdigit():
        return None
    tz = default_tz
    for sign in "+-":
        idx = text.find(sign, 8)
        if idx != -1:
            tz = _parse_tz(text[idx:]) or tz
            text = text[:idx]
            break
    day = _parse_da(text[:8])
    tm = _parse_tm(text[8:])
    if day is None or tm is None:
        return None
    return datetime(day.year, day.month, day.day, *tm, tzinfo=tz)
