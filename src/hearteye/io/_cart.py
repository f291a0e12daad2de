"""What the readers of ECG-cart exports share (GE MUSE, Philips, HL7 aECG, DICOM, SCP-ECG).

The samples are decoded by `ecgdatakit` (Apache-2.0), pinned and proved on the real exports
staged in ``shared/data/formats`` (see each reader's tests: amplitudes equal to an independent
decoder where one exists: pydicom for DICOM, sierraecg for Philips XLI, a plain base64 decode
for MUSE). This module puts HeartEye's rules around it:

* bounds first: the document's size is checked before a byte is parsed, so a 2 GB "ECG" is
  refused unread; the decoded record then meets `ReadLimits` (rate, lead count, length);
* every lead must carry the same number of samples at the same rate: a file whose counts
  disagree with its data is refused, never padded or cut silently;
* samples become mV from the file's own resolution and unit (uV per LSB), never a guess;
* missing limb leads are derived (Einthoven III = II - I; Goldberger aVR = -(I + II)/2,
  aVL = I - II/2, aVF = II - I/2) when I and II are present (MUSE and many SCP carts store
  8 leads), and named in ``meta.extra["derived_leads"]``;
* the device's own findings (measurements, statements, confirmation status, program name
  and version) go to ``meta.device`` as they are written in the file: HeartEye does not
  correct them, so they can be compared with its own;
* patient fields (name, ID, birth date) are personal data: the name is kept in
  ``meta.patient_name`` (not in `repr`, not in `Record.summary`), nothing is logged, and no
  error message quotes the file's content or a server path.

Decoder errors become `InvalidRecordError` with a code per format (``corrupt_<format>``);
the readers check what they can cheaply before (entity declarations in XML, DICOM
waveform sizes, XLI expansion) so each attack gets its own code.
"""

from __future__ import annotations

import functools
import math
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hearteye.errors import HeartEyeError, InvalidRecordError
from hearteye.io._common import (
    ReadLimits,
    check_lead_count,
    check_length,
    check_rate,
    mv_scale,
    parse_age,
    parse_sex,
)
from hearteye.record import STANDARD_LEADS, Record, RecordMeta, normalise_lead_name

MiB = 1 << 20


@dataclass(frozen=True)
class CartFormat:
    """What the shared code needs to know about one cart format."""

    name: str  # the registry's format name
    label: str  # for messages ("GE MUSE XML")
    suffix: str  # for the private temporary file the decoder reads
    parser: Callable[[], object] | None  # returns an ecgdatakit parser instance
    decoders: tuple[str, ...] = ("ecgdatakit",)  # packages that decode it, for meta


def check_document_size(size: int, source: str, fmt: CartFormat, limits: ReadLimits) -> None:
    """Refuse a document larger than any 12-lead export (a 10 s one is 20 to 600 kB)."""
    if size > limits.max_document_bytes:
        raise InvalidRecordError(
            f"{source} is {size >> 20} MiB; a {fmt.label} file of a resting ECG is well under "
            f"1 MiB (limit {limits.max_document_bytes >> 20} MiB). Export one ECG per file",
            code="document_too_large",
            details={"bytes": size, "limit_bytes": limits.max_document_bytes},
        )


def decode(data: bytes, source: str, fmt: CartFormat, limits: ReadLimits):
    """Run the decoder on ``data`` (from a private temporary file: it reads paths only)."""
    from ecgdatakit.exceptions import ChecksumError

    check_document_size(len(data), source, fmt, limits)
    # One private file, removed on return (a folder per call cost 2 ms of mkdir and rmdir).
    with tempfile.NamedTemporaryFile(prefix="hearteye-cart-", suffix=fmt.suffix) as fh:
        fh.write(data)
        fh.flush()
        path, tmp = Path(fh.name), fh.name
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                parsed = fmt.parser().parse(path)
        except ChecksumError:
            raise _checksum_error(source, fmt) from None
        except Exception as err:  # ECGDataKitError, and LookupError, ValueError, ... that a
            # third-party decoder raises on hostile bytes: all are a damaged file here
            text = _clean(err, tmp)
            raise InvalidRecordError(
                f"{source}: the {fmt.label} file is damaged or not as its standard says "
                f"({text}); export it again from the cart or its system",
                code=_code_for(text, fmt),
            ) from None
    if any("CRC" in str(w.message) or "checksum" in str(w.message).lower() for w in caught):
        raise _checksum_error(source, fmt)
    return parsed


# What the decoder's messages name, as HeartEye's codes (pinned decoder; the hostile corpus
# fails if a message changes, rather than a code silently widening).
_DECODER_CODES = (
    ("Base64", "invalid_base64"),
    ("LeadSampleCountTotal", "sample_count_mismatch"),
    ("LeadByteCountTotal", "sample_count_mismatch"),
    ("Malformed XML", "malformed_xml"),
    ("entity declarations", "xml_entity_declaration"),
)


def _code_for(message: str, fmt: CartFormat) -> str:
    return next((c for key, c in _DECODER_CODES if key in message), f"corrupt_{fmt.name}")


def _checksum_error(source: str, fmt: CartFormat) -> InvalidRecordError:
    return InvalidRecordError(
        f"{source}: the {fmt.label} file's checksum does not match its waveform data; the "
        "file was damaged after it was written. Export it again",
        code="checksum_mismatch",
    )


def _clean(err: Exception, tmp: str) -> str:
    """The decoder's message without the private temporary path, and short."""
    text = str(err).replace(tmp, "the file").replace(str(Path(tmp).parent), "")
    return text[:200]


# ------------------------------------------------------------------------------ samples


def to_record(parsed, source: str, fmt: CartFormat, limits: ReadLimits) -> Record:
    """The decoder's leads as a checked `Record` in mV, limb leads derived where missing."""
    leads = list(parsed.leads)
    if not leads:
        raise InvalidRecordError(
            f"{source}: the {fmt.label} file holds no rhythm waveform", code="no_signals"
        )
    check_lead_count(len(leads), limits, source)
    fs = _common_rate(leads, source)
    check_rate(fs, limits, source)
    n = _common_length(leads, source)
    check_length(len(leads), n, fs, limits, source)
    names = [normalise_lead_name(lead.label) for lead in leads]
    rows = [_in_mv(lead, source) for lead in leads]
    units = [lead.resolution_unit or lead.units for lead in leads]
    return assemble(names, rows, units, fs, parsed, source, fmt, limits)


def assemble(names, rows, units, fs, parsed, source, fmt: CartFormat, limits) -> Record:
    """A `Record` from checked leads (names, mV rows, file units), the decoder's findings."""
    _check_unique(names, source)
    unit_of = dict(zip(names, units, strict=True))
    signal, names, derived = _complete_limb_leads(np.vstack(rows), names)
    units = [unit_of.get(n, "mV") for n in names]
    n = signal.shape[1]
    if limits.max_seconds is not None and n > limits.max_seconds * fs:
        signal = signal[:, : max(1, math.ceil(limits.max_seconds * fs))]
    meta = _meta(parsed, source, fmt, tuple(units), fs, n, derived, signal.shape[1])
    return Record(signal=signal, fs=fs, leads=tuple(names), meta=meta)


def _common_rate(leads, source: str) -> float:
    rates = {float(lead.sampling_rate) for lead in leads}
    if len(rates) != 1:
        raise InvalidRecordError(
            f"{source}: the leads are sampled at different rates ({sorted(rates)} Hz)",
            code="lead_rates_differ",
        )
    return rates.pop()


def _common_length(leads, source: str) -> int:
    lengths = {len(lead.samples) for lead in leads}
    if len(lengths) != 1:
        raise InvalidRecordError(
            f"{source}: the leads hold different numbers of samples ({sorted(lengths)}); the "
            "file's sample counts disagree with its data",
            code="lead_lengths_differ",
        )
    return lengths.pop()


def _in_mv(lead, source: str) -> np.ndarray:
    unit = lead.resolution_unit if lead.is_raw else lead.units
    scale = mv_scale(unit)
    if scale is None:
        raise InvalidRecordError(
            f"{source}: lead {lead.label} gives no voltage unit for its samples (found "
            f"{unit or 'none'}); HeartEye does not guess an amplitude scale",
            code="unknown_amplitude_unit",
        )
    x = np.asarray(lead.samples, dtype=np.float64)
    if lead.is_raw:
        x = x * float(lead.resolution) + float(lead.offset)
    return (x * scale).astype(np.float32)


def _check_unique(names: list[str], source: str) -> None:
    if len(set(names)) != len(names):
        raise InvalidRecordError(
            f"{source}: a lead appears twice ({', '.join(names)})", code="duplicate_lead"
        )


def _complete_limb_leads(signal: np.ndarray, names: list[str]):
    """Add III, aVR, aVL, aVF from I and II where the file lacks them; standard order."""
    have = {n: signal[i] for i, n in enumerate(names)}
    derived = []
    if "I" in have and "II" in have:
        i, ii = have["I"].astype(np.float64), have["II"].astype(np.float64)
        formulas = {"III": ii - i, "aVR": -(i + ii) / 2, "aVL": i - ii / 2, "aVF": ii - i / 2}
        for name, values in formulas.items():
            if name not in have:
                have[name] = values.astype(np.float32)
                derived.append(name)
    order = [n for n in STANDARD_LEADS if n in have] + [n for n in names if n not in have]
    order += [n for n in have if n not in order]
    return np.vstack([have[n] for n in order]), order, derived


# --------------------------------------------------------------------------------- meta


def _meta(parsed, source, fmt, units, fs, n, derived, n_kept) -> RecordMeta:
    patient = parsed.patient
    extra: dict = {"decoder": _decoder_versions(fmt.decoders)}
    if derived:
        extra["derived_leads"] = derived
    res = {float(lead.resolution) for lead in parsed.leads if lead.is_raw}
    if len(res) == 1:
        extra["resolution_per_lsb"] = f"{res.pop():g} {parsed.leads[0].resolution_unit}"
    name = " ".join(p for p in (patient.first_name, patient.last_name) if p and p.strip("-"))
    return RecordMeta(
        age=parse_age(str(patient.age)) if patient.age is not None else None,
        sex=parse_sex(patient.sex),
        source=source,
        record_name=Path(source).stem,
        original_units=units,
        original_fs=fs,
        recording_duration_s=n / fs if n_kept < n else None,
        format=fmt.name,
        acquired_at=_iso(parsed.recording.date),
        device=device_findings(parsed),
        patient_name=name or None,
        extra=extra,
    )


@functools.cache
def _decoder_versions(packages: tuple[str, ...]) -> str:
    from importlib.metadata import version

    return ", ".join(f"{p} {version(p)}" for p in packages)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


_GLOBAL = {
    "heart_rate": ("heart_rate", "bpm"),
    "rr_interval": ("rr_interval", "ms"),
    "pr_interval": ("pr_interval", "ms"),
    "qrs_duration": ("qrs_duration", "ms"),
    "qt_interval": ("qt_interval", "ms"),
    "qtc_bazett": ("qtc_bazett", "ms"),
    "qtc_fridericia": ("qtc_fridericia", "ms"),
    "p_axis": ("p_axis", "deg"),
    "qrs_axis": ("qrs_axis", "deg"),
    "t_axis": ("t_axis", "deg"),
}


def device_findings(parsed) -> dict:
    """The device's measurements, statements, confirmation status and program, as written."""
    dev = parsed.recording.device
    interp = parsed.interpretation
    program = _program(parsed)
    measurements = {
        key: {"value": getattr(parsed.measurements, attr), "unit": unit}
        for key, (attr, unit) in _GLOBAL.items()
        if getattr(parsed.measurements, attr) is not None
    }
    if parsed.source_format == "ge_muse_xml" and "qtc_fridericia" in measurements:
        # MUSE writes QTCorrected without naming its formula (12SL's is configurable).
        measurements.pop("qtc_fridericia")
    qtc = _stated_qtc(parsed)
    if qtc is not None and not {"qtc_bazett", "qtc_fridericia"} & set(measurements):
        measurements["qtc"] = {"value": qtc, "unit": "ms", "formula": "not stated in the file"}
    per_lead = parsed.raw_metadata.get("lead_measurements")
    statements = [{"text": a, "reason": b or None} for a, b in interp.statements]
    original = parsed.annotations.get("machine_interpretation")
    return {
        "manufacturer": dev.manufacturer or None,
        "model": dev.model or None,
        "software_version": dev.software_version or None,
        "program": program,
        "measurements": {
            "program": program,
            "global": measurements,
            "per_lead": per_lead if isinstance(per_lead, dict) else None,
        },
        "statements": {
            "program": program,
            "status": _status(parsed) if statements else None,
            "confirmed_by": interp.interpreter or None,
            "interpreted_at": _iso(interp.interpretation_date),
            "severity": interp.severity or None,
            "edited": _edited(parsed),
            "statements": statements,
            "device_statements_before_overread": original.splitlines() if original else None,
        },
    }


def _program(parsed) -> dict:
    meta, ann = parsed.raw_metadata, parsed.annotations
    fmt = parsed.source_format
    if fmt == "ge_muse_xml":
        return {
            "name": "GE 12SL (MUSE)",
            "version": meta.get("AnalysisSoftwareVersion"),
            "system_version": parsed.file_format.version or None,
        }
    if fmt == "sierra_xml":
        version = ann.get("criteriaversion")
        when = ann.get("criteriaversiondate")
        return {
            "name": "Philips 12-lead algorithm",
            "version": f"{version} ({when})" if when else version,
        }
    dev = parsed.recording.device
    return {
        "name": " ".join(p for p in (dev.manufacturer, dev.model) if p) or None,
        "version": dev.software_version or None,
    }


def _stated_qtc(parsed) -> float | None:
    for key in ("QTCorrected", "qtc_ms", "QTc Interval", "qtc", "MDC_ECG_TIME_PD_QTc"):
        value = parsed.annotations.get(key, parsed.raw_metadata.get(key))
        if value is None:
            continue
        try:
            return float(str(value).split()[0])
        except ValueError:
            continue
    return None


def _status(parsed) -> str:
    meta = parsed.raw_metadata
    stated = str(meta.get("Status") or meta.get("status") or "").lower()
    if parsed.interpretation.source in ("confirmed", "overread") or stated.startswith("confirm"):
        return "confirmed"
    return "unconfirmed"


def _edited(parsed) -> bool | None:
    stmts = parsed.raw_metadata.get("statements")
    if isinstance(stmts, list):
        flags = [str(s.get("edited")).lower() == "true" for s in stmts if isinstance(s, dict)]
        return any(flags)
    original = parsed.annotations.get("machine_interpretation")
    if original:  # the device's statements beside the confirmed ones: edited if they differ
        return original.splitlines() != [a for a, _ in parsed.interpretation.statements]
    return None


# ------------------------------------------------------------------------- entry points


def read_from_path(path, limits: ReadLimits, fmt: CartFormat, read_bytes) -> Record:
    """Check the file's size on disk before reading it, then ``read_bytes(data, name)``."""
    path = Path(path)
    if not path.is_file():
        raise HeartEyeError(f"no {fmt.label} file at {path.name}", code="file_not_found")
    check_document_size(path.stat().st_size, path.name, fmt, limits)
    return read_bytes(path.read_bytes(), path.name, limits)


def read_from_member(main, limits: ReadLimits, fmt: CartFormat, read_bytes) -> Record:
    """Check an upload member's size before it is decompressed, then read it."""
    check_document_size(main.size, main.name, fmt, limits)
    return read_bytes(main.load(), main.name, limits)
