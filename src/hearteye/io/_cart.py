"""What the readers of ECG-cart exports share (GE MUSE, Philips, HL7 aECG, DICOM, SCP-ECG).

Two ways in. SCP-ECG is decoded by `ecgdatakit` (Apache-2.0, pinned): `decode` runs it on a
private temporary file and `to_record` turns its record into HeartEye's. The XML readers
(MUSE, Philips, aECG) and DICOM read their files themselves, for speed (each module says what
the library cost on the staged files), and hand `assemble` their leads and a `Findings`
(MUSE and aECG through `leads_to_record`, which checks and scales their `CartLead`s); the
tests prove on every staged file that they give the same `Record` as the library path
(`findings_of` is that path's `Findings`). This module puts HeartEye's rules around both:

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True)
class Statements:
    """The interpretation a file states, in the terms every cart format shares."""

    lines: tuple[tuple[str, str], ...] = ()  # (statement, reason or qualifier)
    source: str = ""  # "machine", "overread" or "confirmed" ("" when the file says nothing)
    stated_status: str = ""  # the file's own status field ("CONFIRMED", "Unconfirmed")
    interpreter: str = ""
    interpreted_at: datetime | None = None
    severity: str = ""
    edited: bool | None = None
    before_overread: tuple[str, ...] | None = None  # the device's lines when edited


@dataclass(frozen=True)
class Findings:
    """What a cart file says beside its samples: the device's findings (``meta.device``) and
    the patient fields HeartEye keeps."""

    device: dict
    patient_name: str | None = None
    age: float | None = None
    sex: str | None = None
    acquired_at: str | None = None
    resolution: str | None = None  # "4.88 uV": the one resolution of all the leads read


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
            raise damaged(source, fmt, _clean(err, tmp)) from None
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


def damaged(source: str, fmt: CartFormat, text: str) -> InvalidRecordError:
    """The error for a file that breaks its format's rules (``text`` says which; its words
    choose the code, as for the library's messages)."""
    return InvalidRecordError(
        f"{source}: the {fmt.label} file is damaged or not as its standard says "
        f"({text[:200]}); export it again from the cart or its system",
        code=_code_for(text, fmt),
    )


def checksum_error(source: str, fmt: CartFormat) -> InvalidRecordError:
    return _checksum_error(source, fmt)


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
    n = _common_length([len(lead.samples) for lead in leads], source)
    check_length(len(leads), n, fs, limits, source)
    names = [normalise_lead_name(lead.label) for lead in leads]
    rows = [_in_mv(lead, source) for lead in leads]
    units = [lead.resolution_unit or lead.units for lead in leads]
    return assemble(names, rows, units, fs, findings_of(parsed), source, fmt, limits)


class CartLead:
    """One lead as an XML reader found it: its label, its samples as stored, the stated
    resolution, origin (``offset``) and unit. ``is_raw``: the samples are counts to scale, not
    values already in ``unit`` (a resolution of 1 with no origin and a known unit)."""

    __slots__ = ("label", "counts", "resolution", "unit", "offset")

    def __init__(self, label, counts, resolution, unit, offset=0.0):
        self.label, self.counts, self.resolution = label, counts, resolution
        self.unit, self.offset = unit, offset

    @property
    def is_raw(self) -> bool:
        return not (self.unit and self.resolution == 1.0 and self.offset == 0.0)


def leads_to_record(
    leads: list[CartLead], fs: float, findings: Findings, source, fmt: CartFormat, limits
) -> Record:
    """A checked `Record` from an XML reader's own leads (MUSE, aECG): bounds, one common
    length, a voltage unit on every lead, mV, then `assemble`."""
    check_lead_count(len(leads), limits, source)
    check_rate(fs, limits, source)
    n = _common_length([lead.counts.size for lead in leads], source)
    check_length(len(leads), n, fs, limits, source)
    steps = []
    for lead in leads:
        scale = mv_scale(lead.unit)
        if scale is None:
            raise InvalidRecordError(
                f"{source}: lead {lead.label} gives no voltage unit for its samples (found "
                f"{lead.unit or 'none'}); HeartEye does not guess an amplitude scale",
                code="unknown_amplitude_unit",
            )
        steps.append(((lead.resolution, lead.offset) if lead.is_raw else None, scale))
    if len(set(steps)) == 1:  # the usual file: one scale for every lead, converted at once
        rows = counts_to_mv([lead.counts for lead in leads], *steps[0])
    else:
        rows = [counts_to_mv(lead.counts, *step) for lead, step in zip(leads, steps, strict=True)]
    names = lead_names([lead.label for lead in leads])
    return assemble(names, rows, [lead.unit for lead in leads], fs, findings, source, fmt, limits)


def assemble(names, rows, units, fs, findings: Findings, source, fmt: CartFormat, limits) -> Record:
    """A `Record` from checked leads (names, mV rows, file units) and the file's findings."""
    _check_unique(names, source)
    unit_of = dict(zip(names, units, strict=True))
    stacked = rows if isinstance(rows, np.ndarray) else np.vstack(rows)  # one array: as it is
    signal, names, derived = _complete_limb_leads(stacked, names)
    units = [unit_of.get(n, "mV") for n in names]
    n = signal.shape[1]
    if limits.max_seconds is not None and n > limits.max_seconds * fs:
        signal = signal[:, : max(1, math.ceil(limits.max_seconds * fs))]
    meta = _meta(findings, source, fmt, tuple(units), fs, n, derived, signal.shape[1])
    return Record(signal=signal, fs=fs, leads=tuple(names), meta=meta)


def _common_rate(leads, source: str) -> float:
    rates = {float(lead.sampling_rate) for lead in leads}
    if len(rates) != 1:
        raise InvalidRecordError(
            f"{source}: the leads are sampled at different rates ({sorted(rates)} Hz)",
            code="lead_rates_differ",
        )
    return rates.pop()


def _common_length(counts: list[int], source: str) -> int:
    lengths = set(counts)
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
    resolution = (float(lead.resolution), float(lead.offset)) if lead.is_raw else None
    return counts_to_mv(lead.samples, resolution, scale)


def counts_to_mv(samples, resolution: tuple[float, float] | None, scale: float) -> np.ndarray:
    """Samples in the file's unit (``x * resolution + offset`` when they are counts) times
    ``scale`` (mV per unit), as float32: one sequence of operations for every reader, so two
    readers of the same file give the same bits. ``samples``: one array, or a list of rows
    (stacked here).

    The float64 copy is made once and worked on in place (the same roundings as ``x * r + o``):
    a fresh 480 kB array per step (12 x 5,000 samples) cost more than the step, its pages
    mapped and faulted in on every read."""
    if isinstance(samples, list):
        x = np.vstack(samples, dtype=np.float64)
    else:
        x = np.array(samples, dtype=np.float64)
    if resolution is not None:
        x *= resolution[0]
        x += resolution[1]
    x *= scale
    return x.astype(np.float32)


def _check_unique(names: list[str], source: str) -> None:
    if len(set(names)) != len(names):
        raise InvalidRecordError(
            f"{source}: a lead appears twice ({', '.join(names)})", code="duplicate_lead"
        )


_LABELS = {
    n.lower(): n
    for n in STANDARD_LEADS
    + ("V7", "V8", "V9", "V3R", "V4R", "V5R", "V6R", "V7R", "V8R", "V9R", "X", "Y", "Z", "-aVR")
}


def library_label(label: str) -> str:
    """A lead label in the library's spelling: "ECG Lead avr" -> "aVR"; unknown ones
    stripped."""
    text = label.strip()
    key = text.lower()
    for prefix in ("ecg lead ", "ecg ", "lead "):
        if key.startswith(prefix):
            key = key[len(prefix) :].strip()
            break
    return _LABELS.get(key, text)


def library_labels(labels: list[str]) -> list[str]:
    """The labels spelled as the library spells them, a repeated one suffixed ("II_2")."""
    spelled = [library_label(label) for label in labels]
    used: set[str] = set()
    counts: dict[str, int] = {}
    unique = []
    for label in spelled:
        name = label
        if name in used:
            k = counts.get(label, 1)
            while name in used or name in spelled:
                k += 1
                name = f"{label}_{k}"
            counts[label] = k
        used.add(name)
        unique.append(name)
    return unique


def lead_names(labels: list[str]) -> list[str]:
    """HeartEye's lead names for a file's labels, as the library path gives them
    (`library_labels`, then `normalise_lead_name`)."""
    return [normalise_lead_name(n) for n in library_labels(labels)]


def _complete_limb_leads(signal: np.ndarray, names: list[str]):
    """Add III, aVR, aVL, aVF from I and II where the file lacks them; standard order."""
    have = {n: signal[i] for i, n in enumerate(names)}
    derived = [n for n in _LIMB_FORMULAS if n not in have] if {"I", "II"} <= set(have) else []
    if derived:  # computed only for the leads missing (none in a 12-lead file)
        i, ii = have["I"].astype(np.float64), have["II"].astype(np.float64)
        for name in derived:
            have[name] = _LIMB_FORMULAS[name](i, ii).astype(np.float32)
    order = [n for n in STANDARD_LEADS if n in have] + [n for n in names if n not in have]
    order += [n for n in have if n not in order]
    if order == names:  # already complete and in standard order: no copy
        return signal, order, derived
    return np.vstack([have[n] for n in order]), order, derived


_LIMB_FORMULAS = {
    "III": lambda i, ii: ii - i,
    "aVR": lambda i, ii: -(i + ii) / 2,
    "aVL": lambda i, ii: i - ii / 2,
    "aVF": lambda i, ii: ii - i / 2,
}


# --------------------------------------------------------------------------------- meta


def _meta(findings: Findings, source, fmt, units, fs, n, derived, n_kept) -> RecordMeta:
    extra: dict = {"decoder": _decoder_versions(fmt.decoders)}
    if derived:
        extra["derived_leads"] = derived
    if findings.resolution is not None:
        extra["resolution_per_lsb"] = findings.resolution
    return RecordMeta(
        age=findings.age,
        sex=findings.sex,
        source=source,
        record_name=Path(source).stem,
        original_units=units,
        original_fs=fs,
        recording_duration_s=n / fs if n_kept < n else None,
        format=fmt.name,
        acquired_at=findings.acquired_at,
        device=findings.device,
        patient_name=findings.patient_name,
        extra=extra,
    )


@functools.cache
def _decoder_versions(packages: tuple[str, ...]) -> str:
    from importlib.metadata import version

    return ", ".join(f"{p} {version(p)}" for p in packages)


def iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def patient_fields(first: str, last: str, age, sex) -> dict:
    """``Findings`` keywords for the patient: the name as "first last" (parts that are empty
    or only dashes left out), the age in years, the sex as "M", "F" or None."""
    name = " ".join(p for p in (first, last) if p and p.strip("-"))
    return {
        "patient_name": name or None,
        "age": parse_age(str(age)) if age is not None else None,
        "sex": parse_sex(sex),
    }


def finite_float(text) -> float | None:
    """``text`` as a finite float: None when absent, malformed, infinite or NaN."""
    if text is None:
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


# Voltage units as the files spell them, to HeartEye's names.
VOLTAGE_UNITS = {
    "uV": "uV", "uv": "uV", "\u00b5V": "uV", "\u00b5v": "uV", "\u03bcV": "uV", "\u03bcv": "uV",
    "microvolt": "uV", "microvolts": "uV",
    "mV": "mV", "mv": "mV", "millivolt": "mV", "millivolts": "mV",
    "V": "V", "v": "V", "volt": "V", "volts": "V",
    "nV": "nV", "nv": "nV", "nanovolt": "nV", "nanovolts": "nV",
}  # fmt: skip


def voltage_unit(unit: str) -> str | None:
    """HeartEye's name of a voltage unit as a file spells it (`VOLTAGE_UNITS`), or None."""
    return VOLTAGE_UNITS.get(unit) or VOLTAGE_UNITS.get(unit.strip().lower())


def resolution_text(resolutions: set[float], unit: str) -> str | None:
    """``"4.88 uV"`` when every lead read as counts has one resolution, else None."""
    return f"{resolutions.pop():g} {unit}" if len(resolutions) == 1 else None


# The global measurements HeartEye reports, in order, with their units.
GLOBAL_UNITS = {
    "heart_rate": "bpm",
    "rr_interval": "ms",
    "pr_interval": "ms",
    "qrs_duration": "ms",
    "qt_interval": "ms",
    "qtc_bazett": "ms",
    "qtc_fridericia": "ms",
    "p_axis": "deg",
    "qrs_axis": "deg",
    "t_axis": "deg",
}


def global_measurements(values: Mapping[str, int | None], stated_qtc: float | None) -> dict:
    """The device's global measurements as ``{name: {"value", "unit"}}``; a QTc whose formula
    the file does not name is kept apart (``"qtc"``), only when no named one is there."""
    found = {
        key: {"value": values[key], "unit": unit}
        for key, unit in GLOBAL_UNITS.items()
        if values.get(key) is not None
    }
    if stated_qtc is not None and not {"qtc_bazett", "qtc_fridericia"} & set(found):
        found["qtc"] = {"value": stated_qtc, "unit": "ms", "formula": "not stated in the file"}
    return found


def stated_number(text) -> float | None:
    """The leading number of a stated value ("443 ms" -> 443.0), None when there is none."""
    if text is None:
        return None
    try:
        return float(str(text).split()[0])
    except (ValueError, IndexError):
        return None


def device_record(
    *,
    manufacturer: str,
    model: str,
    software_version: str,
    program: dict,
    measurements: dict,
    per_lead: dict | None,
    statements: Statements,
) -> dict:
    """``meta.device``: the device, its program, its measurements and its statements."""
    lines = [{"text": a, "reason": b or None} for a, b in statements.lines]
    confirmed = statements.source in ("confirmed", "overread") or (
        statements.stated_status.lower().startswith("confirm")
    )
    before = statements.before_overread
    return {
        "manufacturer": manufacturer or None,
        "model": model or None,
        "software_version": software_version or None,
        "program": program,
        "measurements": {"program": program, "global": measurements, "per_lead": per_lead},
        "statements": {
            "program": program,
            "status": ("confirmed" if confirmed else "unconfirmed") if lines else None,
            "confirmed_by": statements.interpreter or None,
            "interpreted_at": iso(statements.interpreted_at),
            "severity": statements.severity or None,
            "edited": statements.edited,
            "statements": lines,
            "device_statements_before_overread": list(before) if before else None,
        },
    }


def generic_program(manufacturer: str, model: str, software_version: str) -> dict:
    """The program of a file that does not name one: the device and its software."""
    return {
        "name": " ".join(p for p in (manufacturer, model) if p) or None,
        "version": software_version or None,
    }


# ----------------------------------------------------------- findings of an ecgdatakit record


_STATED_QTC_KEYS = ("QTCorrected", "qtc_ms", "QTc Interval", "qtc", "MDC_ECG_TIME_PD_QTc")


def findings_of(parsed) -> Findings:
    """The `Findings` of a record decoded by `ecgdatakit` (SCP-ECG; the other formats' tests
    compare their own reading with this one)."""
    patient = parsed.patient
    res = {float(lead.resolution) for lead in parsed.leads if lead.is_raw}
    unit = parsed.leads[0].resolution_unit if parsed.leads else ""
    return Findings(
        device=device_findings(parsed),
        acquired_at=iso(parsed.recording.date),
        resolution=resolution_text(res, unit),
        **patient_fields(patient.first_name, patient.last_name, patient.age, patient.sex),
    )


def device_findings(parsed) -> dict:
    """The device's measurements, statements, confirmation status and program, as written."""
    dev = parsed.recording.device
    interp = parsed.interpretation
    values = {key: getattr(parsed.measurements, key) for key in GLOBAL_UNITS}
    if parsed.source_format == "ge_muse_xml":
        # MUSE writes QTCorrected without naming its formula (12SL's is configurable).
        values["qtc_fridericia"] = None
    per_lead = parsed.raw_metadata.get("lead_measurements")
    original = parsed.annotations.get("machine_interpretation")
    meta = parsed.raw_metadata
    statements = Statements(
        lines=tuple(interp.statements),
        source=interp.source,
        stated_status=str(meta.get("Status") or meta.get("status") or ""),
        interpreter=interp.interpreter,
        interpreted_at=interp.interpretation_date,
        severity=interp.severity,
        edited=_edited(parsed),
        before_overread=tuple(original.splitlines()) if original else None,
    )
    return device_record(
        manufacturer=dev.manufacturer,
        model=dev.model,
        software_version=dev.software_version,
        program=_program(parsed),
        measurements=global_measurements(values, _stated_qtc(parsed)),
        per_lead=per_lead if isinstance(per_lead, dict) else None,
        statements=statements,
    )


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
        return philips_program(ann.get("criteriaversion"), ann.get("criteriaversiondate"))
    dev = parsed.recording.device
    return generic_program(dev.manufacturer, dev.model, dev.software_version)


def philips_program(version: str | None, when: str | None) -> dict:
    return {
        "name": "Philips 12-lead algorithm",
        "version": f"{version} ({when})" if when else version,
    }


def _stated_qtc(parsed) -> float | None:
    for key in _STATED_QTC_KEYS:
        value = stated_number(parsed.annotations.get(key, parsed.raw_metadata.get(key)))
        if value is not None:
            return value
    return None


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
