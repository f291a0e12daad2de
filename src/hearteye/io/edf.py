"""EDF / EDF+ (and BDF) reader, from disk or from memory.

The fixed header is parsed and checked here before pyedflib sees the file: the data-record
count and sizes must add up to the file's length exactly, so a lying header is refused with
`InvalidRecordError` instead of reaching the C library. Annotation signals are skipped,
channels not measured in a voltage unit (respiration, SpO2, ...) are dropped, and leads at
lower rates are brought to the fastest lead's rate by polyphase resampling.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyedflib

from hearteye.errors import HeartEyeError, InvalidRecordError, UnsupportedFormatError
from hearteye.io._common import (
    Member,
    ReadLimits,
    check_lead_count,
    check_length,
    check_rate,
    mv_scale,
    parse_age,
    parse_sex,
    resample_to,
)
from hearteye.record import Record, RecordMeta, normalise_lead_name

FORMAT = "edf"
_DEFAULT_LIMITS = ReadLimits()
_EDF_MAGIC = b"0       "
_BDF_MAGIC = b"\xffBIOSEMI"
_MAX_SIGNALS = 512  # header entries, annotation signals included
_ANNOTATION_LABELS = {"edf annotations", "bdf annotations"}


@dataclass
class EdfSignal:
    label: str
    unit: str
    phys_min: float
    phys_max: float
    dig_min: int
    dig_max: int
    samples_per_record: int

    @property
    def is_annotation(self) -> bool:
        return self.label.strip().lower() in _ANNOTATION_LABELS


@dataclass
class EdfHeader:
    patient: str
    start_date: str
    reserved: str
    n_records: int
    record_duration: float
    signals: list[EdfSignal]


# ---------------------------------------------------------------------------- public API


def looks_like_edf(head: bytes) -> bool:
    """EDF's version field (``0`` and seven spaces) or BDF's (``0xFF BIOSEMI``)."""
    return head[:8] in (_EDF_MAGIC, _BDF_MAGIC)


def read_edf_member(main: Member, siblings: Mapping[str, Member], limits: ReadLimits) -> Record:
    """Read an EDF file that arrived in an upload (it needs no other file)."""
    return read_edf_bytes(main.load(), main.name, limits)


def read_edf(path: str | Path, limits: ReadLimits = _DEFAULT_LIMITS) -> Record:
    """Read an EDF/EDF+ file from disk."""
    path = Path(path)
    if not path.is_file():
        raise HeartEyeError(f"no EDF file at {path.name}", code="file_not_found")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(256 * (_MAX_SIGNALS + 1))
    hdr = parse_edf_header(head, size, path.name, limits)
    return _decode(path, hdr, path.name, limits)


def read_edf_bytes(
    data: bytes, name: str = "upload.edf", limits: ReadLimits = _DEFAULT_LIMITS
) -> Record:
    """Read an EDF/EDF+ file held in memory (via a private temporary file: pyedflib reads
    paths only)."""
    hdr = parse_edf_header(data[: 256 * (_MAX_SIGNALS + 1)], len(data), name, limits)
    with tempfile.TemporaryDirectory(prefix="hearteye-edf-") as tmp:
        path = Path(tmp) / "record.edf"
        path.write_bytes(data)
        return _decode(path, hdr, name, limits)


def parse_edf_header(
    head: bytes, file_size: int, source: str, limits: ReadLimits = _DEFAULT_LIMITS
) -> EdfHeader:
    """Parse and check the header; ``head`` must hold at least the whole header."""
    if len(head) < 256 or head[:8] not in (_EDF_MAGIC, _BDF_MAGIC):
        raise UnsupportedFormatError(
            f"{source} is not an EDF file (no EDF header); export the ECG as EDF/EDF+ or WFDB",
            code="not_edf",
        )
    sample_bytes = 3 if head[:8] == _BDF_MAGIC else 2
    n_sig = _int_field(head, 252, 256, "number of signals", source)
    if n_sig > min(_MAX_SIGNALS, limits.max_leads * 2):
        check_lead_count(n_sig, ReadLimits(max_leads=min(_MAX_SIGNALS, limits.max_leads)), source)
    if n_sig < 1:
        raise InvalidRecordError(f"{source}: the EDF header lists no signals", code="no_signals")
    header_bytes = _int_field(head, 184, 192, "header size", source)
    if header_bytes != 256 * (n_sig + 1) or len(head) < header_bytes:
        raise InvalidRecordError(
            f"{source}: the EDF header claims {header_bytes} header bytes for {n_sig} signals "
            f"(must be {256 * (n_sig + 1)}); the file is damaged or not EDF",
            code="edf_header_mismatch",
        )
    hdr = EdfHeader(
        patient=_text(head[8:88]),
        start_date=_text(head[168:176]),
        reserved=_text(head[192:236]),
        n_records=_int_field(head, 236, 244, "number of data records", source),
        record_duration=_float_field(head, 244, 252, "data record duration", source),
        signals=_parse_signals(head, n_sig, source),
    )
    _check_header(hdr, file_size, header_bytes, sample_bytes, source, limits)
    return hdr


# ------------------------------------------------------------------------ header checks


def _text(raw: bytes) -> str:
    return raw.decode("latin-1").strip()


def _int_field(head: bytes, a: int, b: int, what: str, source: str) -> int:
    value = _float_field(head, a, b, what, source)
    if value != int(value):
        _bad_field(what, head[a:b], source)
    return int(value)


def _float_field(head: bytes, a: int, b: int, what: str, source: str) -> float:
    try:
        value = float(_text(head[a:b]))
    except ValueError:
        _bad_field(what, head[a:b], source)
    if not math.isfinite(value):
        _bad_field(what, head[a:b], source)
    return value


def _bad_field(what: str, raw: bytes, source: str):
    raise InvalidRecordError(
        f"{source}: the EDF header's {what} field ({_text(raw)!r}) is not a number; "
        "the file is damaged",
        code="edf_header_mismatch",
    )


def _parse_signals(head: bytes, n: int, source: str) -> list[EdfSignal]:
    # Signal fields are stored column by column: n labels, then n transducers, and so on.
    widths = [16, 80, 8, 8, 8, 8, 8, 80, 8, 32]
    starts = [256]
    for w in widths[:-1]:
        starts.append(starts[-1] + w * n)

    def col(k: int, i: int) -> bytes:
        a = starts[k] + widths[k] * i
        return head[a : a + widths[k]]

    out = []
    for i in range(n):
        label = _text(col(0, i))
        out.append(
            EdfSignal(
                label=label,
                unit=_text(col(2, i)),
                phys_min=_float_bytes(col(3, i), f"physical minimum of {label}", source),
                phys_max=_float_bytes(col(4, i), f"physical maximum of {label}", source),
                dig_min=int(_float_bytes(col(5, i), f"digital minimum of {label}", source)),
                dig_max=int(_float_bytes(col(6, i), f"digital maximum of {label}", source)),
                samples_per_record=int(
                    _float_bytes(col(8, i), f"samples per record of {label}", source)
                ),
            )
        )
    return out


def _float_bytes(raw: bytes, what: str, source: str) -> float:
    try:
        value = float(_text(raw))
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        _bad_field(what, raw, source)
    return value


def _check_header(
    hdr: EdfHeader,
    file_size: int,
    header_bytes: int,
    sample_bytes: int,
    source: str,
    limits: ReadLimits,
) -> None:
    if hdr.n_records < 1 or hdr.record_duration <= 0:
        raise InvalidRecordError(
            f"{source}: the EDF header declares {hdr.n_records} data records of "
            f"{hdr.record_duration:g} s; the file holds no signal",
            code="empty_record",
        )
    if hdr.reserved.startswith("EDF+D"):
        raise InvalidRecordError(
            f"{source} is a discontinuous EDF+ (EDF+D) file; its gaps would be read as "
            "continuous signal. Export the continuous part (EDF+C)",
            code="unsupported_edf_feature",
        )
    for sig in hdr.signals:
        if sig.samples_per_record < 1:
            raise InvalidRecordError(
                f"{source}: signal {sig.label!r} declares {sig.samples_per_record} samples per "
                "data record",
                code="edf_header_mismatch",
            )
    record_bytes = sum(s.samples_per_record for s in hdr.signals) * sample_bytes
    expected = header_bytes + hdr.n_records * record_bytes
    if file_size != expected:
        raise InvalidRecordError(
            f"{source}: the EDF header promises {hdr.n_records} data records of "
            f"{record_bytes} bytes ({expected} bytes in all) but the file holds {file_size} "
            "bytes; the file is truncated or its header is wrong",
            code="edf_header_mismatch",
            details={"expected_bytes": expected, "actual_bytes": file_size},
        )
    ecg = [s for s in hdr.signals if _is_lead(s)]
    if not ecg:
        raise InvalidRecordError(
            f"{source}: no signal is in a voltage unit (found "
            f"{', '.join(repr(s.unit) for s in hdr.signals if not s.is_annotation)}); "
            "ECG leads must be in uV, mV or V",
            code="no_ecg_channels",
        )
    check_lead_count(len(ecg), limits, source)
    for sig in ecg:
        check_rate(sig.samples_per_record / hdr.record_duration, limits, source)
        if sig.dig_max <= sig.dig_min or sig.phys_max == sig.phys_min:
            raise InvalidRecordError(
                f"{source}: signal {sig.label!r} has digital range {sig.dig_min}..{sig.dig_max} "
                f"and physical range {sig.phys_min:g}..{sig.phys_max:g}; a zero range makes "
                "its gain undefined",
                code="invalid_gain",
            )
    n_out = hdr.n_records * max(s.samples_per_record for s in ecg)
    check_length(len(ecg), n_out, n_out / (hdr.n_records * hdr.record_duration), limits, source)


def _is_lead(sig: EdfSignal) -> bool:
    # Channels in other units (respiration in %, SpO2, temperature) are not ECG leads.
    return not sig.is_annotation and mv_scale(sig.unit) is not None


# -------------------------------------------------------------------------------- decode


def _decode(path: Path, hdr: EdfHeader, source: str, limits: ReadLimits) -> Record:
    keep = [i for i, s in enumerate(hdr.signals) if _is_lead(s)]
    dropped = [s.label for s in hdr.signals if not s.is_annotation and not _is_lead(s)]
    spr_max = max(hdr.signals[i].samples_per_record for i in keep)
    n_records = hdr.n_records  # data records decoded: all, or the first max_seconds' worth
    if limits.max_seconds is not None:
        n_records = min(n_records, max(1, math.ceil(limits.max_seconds / hdr.record_duration)))
    n_out = n_records * spr_max
    out = np.empty((len(keep), n_out), dtype=np.float32)
    try:
        with pyedflib.EdfReader(str(path)) as reader:
            for row, i in enumerate(keep):
                n = n_records * hdr.signals[i].samples_per_record
                out[row] = _lead(reader.readSignal(i, 0, n), hdr.signals[i], spr_max)[:n_out]
            info = _header_info(reader)
    except HeartEyeError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # pyedflib raises OSError and friends for anything it dislikes
        raise InvalidRecordError(
            f"{source}: the EDF file could not be decoded ({type(exc).__name__}: {exc})",
            code="unreadable_signal",
        ) from None
    fs = spr_max / hdr.record_duration
    return Record(
        signal=out,
        fs=fs,
        leads=tuple(normalise_lead_name(hdr.signals[i].label) for i in keep),
        meta=replace(
            _meta(hdr, info, source, keep, dropped),
            recording_duration_s=(
                hdr.n_records * hdr.record_duration if n_records < hdr.n_records else None
            ),
        ),
    )


def _lead(x: np.ndarray, sig: EdfSignal, spr_max: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    scale = mv_scale(sig.unit)
    if scale != 1.0:
        x = x * scale
    if sig.samples_per_record != spr_max:
        x = resample_to(x, spr_max, sig.samples_per_record)
    return x


def _header_info(reader: pyedflib.EdfReader) -> dict:
    # pyedflib parses EDF+ patient subfields; dates may be anonymised ('X') or malformed.
    try:
        return reader.getHeader()
    except Exception:
        return {}


_AGE_FIELD = re.compile(r"\bage[\s_:=-]*(\d+(?:\.\d+)?)", re.IGNORECASE)


def _meta(hdr: EdfHeader, info: dict, source: str, keep: list[int], dropped: list[str]):
    sex = parse_sex(info.get("sex") or info.get("gender"))
    age = _age(hdr.patient, info)
    extra: dict = {"variant": "EDF+" if hdr.reserved.startswith("EDF+") else "EDF"}
    if dropped:
        extra["dropped_channels"] = dropped
    rates = sorted({hdr.signals[i].samples_per_record / hdr.record_duration for i in keep})
    if len(rates) > 1:
        extra["resampled_from_hz"] = rates
    return RecordMeta(
        age=age,
        sex=sex,
        source=source,
        record_name=Path(source).stem,
        original_units=tuple(hdr.signals[i].unit for i in keep),
        original_fs=rates[-1],
        format=FORMAT,
        extra=extra,
    )


def _age(patient_field: str, info: dict) -> float | None:
    """Age from an ``age_26``-style token, else from the EDF+ birth date and start date."""
    m = _AGE_FIELD.search(patient_field)
    if m:
        return parse_age(m.group(1))
    birth, start = info.get("birthdate"), info.get("startdate")
    if isinstance(birth, str):
        try:
            birth = datetime.strptime(birth, "%d %b %Y").date()
        except ValueError:
            return None
    if isinstance(birth, datetime):
        birth = birth.date()
    if isinstance(birth, date) and isinstance(start, datetime):
        years = (start.date() - birth).days / 365.25
        return parse_age(f"{math.floor(years)}")
    return None
