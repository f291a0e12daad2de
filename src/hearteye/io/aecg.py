"""HL7 v3 Annotated ECG (FDA aECG), recognised by its root element ``AnnotatedECG``.

The rhythm series' sequences hold each lead as ``origin + scale * digits`` (scale in uV) with
a time increment (0.002 s: 500 Hz); leads the file lacks among the limb leads are derived from
I and II. Every lead must hold as many digits as the others. The annotations (global PR, QRS,
QT, QTc, axes; per-lead ones; statements and who made them) go to ``meta.device``; see
`hearteye.io._cart`.

Read here, not by `ecgdatakit`: the library fails the staged real file on speed. Its reader
took 11.5-12.7 ms for the 505 kB HL7
example (a pure-Python defusedxml parse, then 60,000 digits split into strings and each
converted), 21-25x HeartEye's WFDB reader of the same signal (this module: 5.0 ms in the
README's run, on a busy machine, 2.4x `wfdb.rdrecord`, from 2.6x; 1.7-1.9 ms of it the parse
of ~1,460 elements, ~1.1 ms the 60,000 numbers with numpy's text reader, ~18 ns a number,
4x quicker than splitting, plus 0.4 ms checking the 300 kB of text were integers). This
module parses once (`parse_document`: defusedxml's rules, C speed), converts each lead's
digits by array operations over its bytes (`_integers`: checked and read in one pass of a
dozen array operations per lead, 1.2-1.6 against 1.6-1.9 ms for the 12 leads with the check,
best of 150, interleaved with main's; a lead's arrays kept small, as 300 kB arrays for all
leads at once cost more in fresh pages than the arithmetic; a whole read 4.3-4.4 against
4.6 ms; anything else, decimals included, goes through numpy's text reader or the exact
split-and-convert) and reads the fields HeartEye keeps with
ecgdatakit's rules, so the tests prove the same `Record` on the staged file: the first rhythm
series (a representative beat series is not one), HL7 timestamps, the time increment's unit,
each sequence's scale and origin units, annotation sets by their author (a person: an
overread, confirmed with a legal authenticator; none: the device), measurements by their
MDC codes and units (the overread's first), annotations restricted to one lead per lead. The
representative beats' samples are not read (HeartEye does not use them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.etree.ElementTree import Element

import numpy as np

from hearteye.errors import HeartEyeError
from hearteye.io._cart import (
    CartFormat,
    CartLead,
    Findings,
    Statements,
    check_document_size,
    damaged,
    device_record,
    finite_float,
    generic_program,
    global_measurements,
    iso,
    leads_to_record,
    library_label,
    library_labels,
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
)
from hearteye.io._xml import all_text, check_xml, local_names, parse_document, root_element
from hearteye.record import Record

FORMAT = "hl7_aecg"
_DEFAULT_LIMITS = ReadLimits()

CART = CartFormat(FORMAT, "HL7 aECG", ".xml", None, ("hearteye",))

_MEASURES = {
    "MDC_ECG_HEART_RATE": ("heart_rate", "rate"),
    "MDC_ECG_TIME_PD_RR": ("rr_interval", "time"),
    "MDC_ECG_TIME_PD_RR_GL": ("rr_interval", "time"),
    "MDC_ECG_TIME_PD_PR": ("pr_interval", "time"),
    "MDC_ECG_TIME_PD_PR_GL": ("pr_interval", "time"),
    "MDC_ECG_TIME_PD_QRS": ("qrs_duration", "time"),
    "MDC_ECG_TIME_PD_QRS_GL": ("qrs_duration", "time"),
    "MDC_ECG_TIME_PD_QT": ("qt_interval", "time"),
    "MDC_ECG_TIME_PD_QT_GL": ("qt_interval", "time"),
    "MDC_ECG_TIME_PD_QTcB": ("qtc_bazett", "time"),
    "MDC_ECG_TIME_PD_QTcF": ("qtc_fridericia", "time"),
    "MDC_ECG_ANGLE_P_FRONT": ("p_axis", "angle"),
    "MDC_ECG_ANGLE_P_FRONT_GL": ("p_axis", "angle"),
    "MDC_ECG_ANGLE_QRS_FRONT": ("qrs_axis", "angle"),
    "MDC_ECG_ANGLE_QRS_FRONT_GL": ("qrs_axis", "angle"),
    "MDC_ECG_ANGLE_T_FRONT": ("t_axis", "angle"),
    "MDC_ECG_ANGLE_T_FRONT_GL": ("t_axis", "angle"),
    "MDC_ECG_QRS_COUNT": ("qrs_count", "count"),
    "MINDRAY_ECG_P_AXIS": ("p_axis", "angle"),
    "MINDRAY_ECG_QRS_AXIS": ("qrs_axis", "angle"),
    "MINDRAY_ECG_T_AXIS": ("t_axis", "angle"),
}
_TO = {
    "time": {"ms": 1.0, "s": 1000.0, "us": 0.001, "\u00b5s": 0.001, "min": 60000.0},
    "rate": {
        "bpm": 1.0,
        "/min": 1.0,
        "1/min": 1.0,
        "{beats}/min": 1.0,
        "{beat}/min": 1.0,
        "Hz": 60.0,
        "/s": 60.0,
    },
    "angle": {"deg": 1.0, "rad": 180.0 / math.pi},
}
_INCREMENT_TO_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "\u00b5s": 1e-6}
_AGE_TO_YEARS = {"a": 1.0, "yr": 1.0, "mo": 1 / 12, "wk": 7 / 365.25, "d": 1 / 365.25}
_AGE_TO_YEARS["h"] = 1 / 8766
_STATEMENT_CODES = (
    "MDC_ECG_INTERPRETATION",
    "MDC_ECG_INTERPRETATION_STATEMENT",
    "MDC_ECG_INTERPRETATION_SUMMARY",
)
_QTC_KEYS = ("QTCorrected", "qtc_ms", "QTc Interval", "qtc", "MDC_ECG_TIME_PD_QTc")
_TO_UV = {"nV": 0.001, "uV": 1.0, "mV": 1_000.0, "V": 1_000_000.0}
_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d+))?([+-]\d{4})?$")


def looks_like_aecg(head: bytes) -> bool:
    return root_element(head) == "AnnotatedECG"


def read_aecg_bytes(
    data: bytes, source: str = "upload.xml", limits: ReadLimits = _DEFAULT_LIMITS
) -> Record:
    check_document_size(len(data), source, CART, limits)
    check_xml(data, source, CART.label)
    root = local_names(parse_document(data, source, CART.label))
    try:
        if root.tag != "AnnotatedECG":
            raise damaged(source, CART, "missing AnnotatedECG root element")
        rhythm, derived = _series(root, source)
        leads, time = _leads(rhythm, source)
        findings = _findings(root, rhythm, derived, leads, time)
    except HeartEyeError:
        raise
    except Exception as err:  # a value no rule expected (a number past every range)
        raise damaged(source, CART, type(err).__name__) from None
    return leads_to_record(leads, float(time["rate"]), findings, source, CART, limits)


def read_aecg(path: str | Path, limits: ReadLimits = _DEFAULT_LIMITS) -> Record:
    return read_from_path(path, limits, CART, read_aecg_bytes)


def read_aecg_member(main: Member, siblings: Mapping[str, Member], limits: ReadLimits) -> Record:
    return read_from_member(main, limits, CART, read_aecg_bytes)


# ---------------------------------------------------------------------------------- fields


def _attr(el: Element | None, name: str) -> str:
    return "" if el is None else (el.get(name) or "").strip()


def _child(el: Element | None, path: str) -> Element | None:
    return None if el is None else el.find(path)


def _children(el: Element | None, path: str) -> list[Element]:
    return [] if el is None else el.findall(path)


def _stamp(value: str | None, need_time: bool = False) -> datetime | None:
    """An HL7 TS (``YYYYMMDDHHMMSS.UUUU+ZZzz``): None when malformed, with less than a day,
    or (``need_time``) without minutes; a zone gives an aware datetime."""
    if not value:
        return None
    m = _TS.match(value.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, frac, tz = m.groups()
    if day is None or (need_time and minute is None):
        return None
    micro = int(frac[:6].ljust(6, "0")) if frac else 0
    zone = None
    if tz:
        sign = 1 if tz[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])))
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=zone,
        )
    except ValueError:
        return None


def _person(el: Element | None) -> tuple[str, str, str]:
    """(family, given, whole name) of a PN ``<name>``; the plain text when it has no parts."""
    if el is None:
        return "", "", ""
    family = " ".join(all_text(p) for p in el.findall("family") if all_text(p))
    given = " ".join(all_text(p) for p in el.findall("given") if all_text(p))
    if family or given:
        parts = [all_text(p) for p in el.findall("prefix")] + [given, family]
        parts += [all_text(p) for p in el.findall("suffix")]
        return family, given, " ".join(p for p in parts if p)
    return "", "", all_text(el)


def _code_text(value: Element | None) -> str:
    """What an annotation's value says: its text, else its display name, code or value (with
    its unit)."""
    if value is None:
        return ""
    text = all_text(value)
    if text:
        return text
    for attr in ("displayName", "code", "value"):
        if value.get(attr):
            unit = value.get("unit", "")
            v = value.get(attr).strip()
            return f"{v} {unit}".strip() if attr == "value" and unit not in ("", "1") else v
    return ""


def _lead_label(code: str) -> str | None:
    upper = code.upper()
    if "_ECG_LEAD_" not in upper:
        return None
    suffix = code[upper.index("_ECG_LEAD_") + len("_ECG_LEAD_") :]
    if not suffix:
        return None
    return "-aVR" if suffix.upper() == "AVRNEG" else library_label(suffix)


# -------------------------------------------------------------------------------- samples


def _series(root: Element, source: str) -> tuple[Element, Element | None]:
    """The first rhythm series and the first representative beat series."""
    rhythm, beats = [], []
    for series in root.findall("component/series"):
        code = _attr(_child(series, "code"), "code").upper()
        (beats if code == "REPRESENTATIVE_BEAT" else rhythm).append(series)
        for derived in series.findall("derivation/derivedSeries"):
            if _attr(_child(derived, "code"), "code").upper() in ("REPRESENTATIVE_BEAT", ""):
                beats.append(derived)
    if not rhythm:
        raise damaged(source, CART, "no rhythm series")
    return rhythm[0], (beats[0] if beats else None)


def _leads(series: Element, source: str) -> tuple[list[CartLead], dict]:
    """The first sequence set's leads (their digits, scale, origin and units) and its time
    sequence (the first: head, increment, rate)."""
    sets = series.findall("component/sequenceSet")
    time: dict = {}
    entries = []
    for seq in sets[0].findall("component/sequence") if sets else ():
        code = _attr(_child(seq, "code"), "code")
        value = _child(seq, "value")
        if code.upper().startswith("TIME_"):
            if not time:
                time = _time(code, value, source)
            continue
        label = _lead_label(code)
        if label is None:
            continue
        digits = _child(value, "digits")
        if digits is None or not (digits.text or "").strip():
            raise damaged(source, CART, f"lead {code[:30]} has no digits")
        entries.append((label, digits.text, code, value))
    if not entries:
        raise damaged(source, CART, "no ECG lead sequence in the rhythm series")
    if not time.get("rate"):
        raise damaged(source, CART, "no usable time increment in the rhythm series")
    samples = _digits([e[1] for e in entries], [e[2] for e in entries], source)
    labels = library_labels([e[0] for e in entries])
    leads = [_lead(label, x, e[3]) for label, x, e in zip(labels, samples, entries, strict=True)]
    return leads, time


def _digits(texts: list[str], codes: list[str], source: str) -> list[np.ndarray]:
    """Each lead's digits as numbers, as ``float(token)`` reads them.

    Fast path: when every token is an integer (ASCII digits, a sign only right before them
    and after white space) of at most 9 digits, `_integers` reads each text as 64-bit
    integers, exact as floats (below 2**53). Else, when every token is an integer, numpy's
    text reader (a wider token, exact while below 2**53). Anything else (decimals, exponents,
    stray characters) is split and converted token by token, and refused if a token is not
    a number."""
    fast = [_integers(t) for t in texts] if all(t.isascii() for t in texts) else [None]
    if all(v is not None for v in fast):
        return fast
    joined = " ".join(texts)
    if joined.isascii() and _integers_only(np.frombuffer(joined.encode("ascii"), np.uint8)):
        try:
            values = [np.fromstring(t, dtype=np.int64, sep=" ") for t in texts]
        except ValueError:
            values = []
        if values and all(v.size and np.abs(v).max() < 1 << 53 for v in values):
            return values
    out = []
    for text, code in zip(texts, codes, strict=True):
        try:
            out.append(np.array(text.split(), dtype=np.float64))
        except ValueError:
            raise damaged(source, CART, f"invalid digits in lead {code[:30]}") from None
    return out


_INTEGER_BYTES = b"0123456789+- \t\n\r"
_TENS = tuple(np.int32(10**k) for k in range(1, 9))  # 2 to 9 digits


def _integers(text: str) -> np.ndarray | None:
    """An ASCII text's tokens as 64-bit integers when each is an integer of at most 9 digits;
    else None (the caller's other routes decide).

    Array operations over the text's bytes, one lead at a time: a token ends at a digit
    followed by a non-digit; its value is summed from there backwards, a power of ten a step,
    each token's position moving back only while it still has digits (as many steps as the
    widest token has digits). The position left before each token is its sign or white space;
    a sign must have white space before it, and there must be no other sign (one not right
    before a digit). One lead's arrays (~25 kB) stay in the allocator's reused memory: all
    leads' text at once (300 kB arrays) took longer, fresh pages mapped and faulted in for
    every array."""
    raw = f" {text} ".encode("ascii")
    if raw.translate(None, _INTEGER_BYTES):
        return None
    b = np.frombuffer(raw, np.uint8)
    d = b - np.uint8(48)  # a digit's value; anything else wraps past 9
    digit = d < 10
    ends = np.flatnonzero(digit[:-1] > digit[1:])
    if not ends.size:
        return None
    value = d.take(ends).astype(np.int32)
    at = ends - 1
    more = digit.take(at)
    for scale in _TENS:
        if not more.any():
            break
        step = d.take(at).astype(np.int32)
        step *= scale
        np.add(value, step, out=value, where=more)
        at -= more
        more &= digit.take(at)
    if more.any():
        return None  # a 10th digit: past what int32 holds
    before = b.take(at)
    signed = before > 32
    if np.count_nonzero(signed) != np.count_nonzero(d > 250):  # "+" and "-" wrap past 250
        return None  # a sign not right before a digit
    if (signed & (b.take(at - 1) > 32)).any():
        return None  # a sign right after a digit or another sign
    np.negative(value, out=value, where=before == 45)
    return value.astype(np.int64)


def _integers_only(b: np.ndarray) -> bool:
    """Whether the bytes are white-space-separated integers: digits, white space, and signs
    each between white space (or the start) and a digit."""
    digit = (b - 48) < 10
    space = b <= 32
    sign = (b == 45) | (b == 43)
    if not (digit | space | sign).all() or sign[-1]:
        return False
    return not (sign[:-1] & ~digit[1:]).any() and not (sign[1:] & ~space[:-1]).any()


def _time(code: str, value: Element | None, source: str) -> dict:
    info = {
        "code": code,
        "head": _attr(_child(value, "head"), "value"),
        "rate": 0,
    }
    increment = _child(value, "increment")
    step = finite_float(_attr(increment, "value"))
    if not step or step <= 0:
        return info
    unit = _attr(increment, "unit")
    if unit not in _INCREMENT_TO_S:
        raise damaged(source, CART, f"time increment unit {unit[:10]!r} is not supported")
    rate = 1.0 / (step * _INCREMENT_TO_S[unit])
    info["exact"] = rate
    info["rate"] = int(round(rate))
    return info


def _lead(label: str, samples: np.ndarray, value: Element) -> CartLead:
    """A lead's digits with its scale (uV per digit) and origin (in its own unit)."""
    scale_el, origin_el = _child(value, "scale"), _child(value, "origin")
    scale = finite_float(_attr(scale_el, "value"))
    origin = finite_float(_attr(origin_el, "value")) or 0.0
    scale_unit = _attr(scale_el, "unit")
    origin_unit = voltage_unit(_attr(origin_el, "unit")) if _attr(origin_el, "unit") else None
    unit = voltage_unit(scale_unit) if scale_unit else None
    offset = origin
    if unit and origin_unit and origin_unit != unit:
        offset = origin * _TO_UV[origin_unit] / _TO_UV[unit]
    resolution = scale if scale is not None else 1.0
    return CartLead(label, samples, resolution, unit or "", offset)


# ------------------------------------------------------------------------------- findings


class _Sink:
    """What the annotation sets of one kind of author (device or person) state."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, str]] = []
        self.severity = ""
        self.author = ""
        self.date: datetime | None = None
        self.confirmed = False
        self.measurements: dict[str, int] = {}
        self.extra: dict[str, str] = {}
        self.lead_measurements: dict[str, dict[str, str]] = {}


def _findings(root, rhythm, derived, leads: list[CartLead], time: dict) -> Findings:
    acquired = _acquired(root, rhythm, time)
    author = _child(rhythm, "author/seriesAuthor")
    device = _child(author, "manufacturedSeriesDevice")
    model = all_text(_child(device, "manufacturerModelName")) if device is not None else ""
    software = all_text(_child(device, "softwareName")) if device is not None else ""
    manufacturer = all_text(_child(author, "manufacturerOrganization/name"))
    machine, expert = _annotations(rhythm, derived)
    values: dict[str, int] = {}
    for sink in (expert, machine):
        for name, value in sink.measurements.items():
            values.setdefault(name, value)
    stated = {**machine.extra, **expert.extra}
    qtc = next(
        (v for v in (stated_number(stated.get(k)) for k in _QTC_KEYS) if v is not None), None
    )
    per_lead = {**machine.lead_measurements, **expert.lead_measurements}
    record = device_record(
        manufacturer=manufacturer,
        model=model,
        software_version=software,
        program=generic_program(manufacturer, model, software),
        measurements=global_measurements(values, qtc),
        per_lead=per_lead or None,
        statements=_statements(machine, expert),
    )
    first, last, age, sex = _patient(root, acquired)
    res = {float(lead.resolution) for lead in leads if lead.is_raw}
    return Findings(
        device=record,
        acquired_at=iso(acquired),
        resolution=resolution_text(res, leads[0].unit),
        **patient_fields(first, last, age, sex),
    )


def _acquired(root: Element, rhythm: Element, time: dict) -> datetime | None:
    """The document's effective time (else the rhythm series'), else an absolute time
    sequence's head; never a time without minutes."""
    for node in (_child(root, "effectiveTime"), _child(rhythm, "effectiveTime")):
        if node is None:
            continue
        low = _attr(_child(node, "low"), "value") or _attr(_child(node, "center"), "value")
        if low:
            found = _stamp(low, need_time=True)
            if found is not None:
                return found
    if time.get("code", "").upper() == "TIME_ABSOLUTE":
        return _stamp(time.get("head"), need_time=True)
    return None


def _patient(root: Element, acquired: datetime | None):
    """First and last name, age (a stated age observation, else from the birth date), sex."""
    subject = _child(
        root, "componentOf/timepointEvent/componentOf/subjectAssignment/subject/trialSubject"
    )
    person = _child(subject, "subjectDemographicPerson")
    first = last = sex = ""
    birth = None
    if person is not None:
        family, given, full = _person(_child(person, "name"))
        last, first = (family, given) if family or given else (full, "")
        gender = _attr(_child(person, "administrativeGenderCode"), "code").upper()
        if gender:
            sex = gender if gender in ("M", "F") else "U"
        birth = _stamp(_attr(_child(person, "birthTime"), "value"))
    age = None
    for obs in root.findall("controlVariable/relatedObservation"):
        if _attr(_child(obs, "code"), "code") == "21612-7":  # LOINC: reported age
            value = _child(obs, "value")
            years = finite_float(_attr(value, "value"))
            factor = _AGE_TO_YEARS.get(_attr(value, "unit") or "a")
            if years is not None and factor:
                age = int(years * factor)
    if age is None and birth is not None and acquired is not None:
        a, b = acquired.date(), birth.date()
        age = a.year - b.year - ((a.month, a.day) < (b.month, b.day))
    return first, last, age, sex


def _annotations(rhythm: Element, derived: Element | None) -> tuple[_Sink, _Sink]:
    machine, expert = _Sink(), _Sink()
    for series in (rhythm, derived):
        for aset in _children(series, "subjectOf/annotationSet"):
            sink = _author(aset, machine, expert)
            for ann in _subs(aset):
                _walk(ann, sink, in_beat=False)
    return machine, expert


def _author(aset: Element, machine: _Sink, expert: _Sink) -> _Sink:
    """A set authored by a person is an overread (confirmed with a legal authenticator);
    one without is the device's."""
    entity = _child(aset, "author/assignedEntity")
    person = _child(entity, "assignedAuthorType/assignedPerson")
    activity = _stamp(_attr(_child(aset, "activityTime"), "value"), need_time=True)
    if person is None:
        if activity and machine.date is None:
            machine.date = activity
        return machine
    if not expert.author:
        expert.author = _person(_child(person, "name"))[2] or _attr(
            _child(entity, "id"), "extension"
        )
    if activity and expert.date is None:
        expert.date = activity
    if _child(aset, "legalAuthenticator") is not None or (
        _child(entity, "legalAuthenticator") is not None
    ):
        expert.confirmed = True
    return expert


def _subs(el: Element) -> list[Element]:
    """``el.findall("component/annotation")`` by single-name lookups (C speed, same order)."""
    return [a for c in el.findall("component") for a in c.findall("annotation")]


def _path(el: Element, *names: str) -> list[Element]:
    """``el.findall("a/b/c")`` by single-name lookups (C speed, same order)."""
    found = [el]
    for name in names:
        found = [child for parent in found for child in parent.findall(name)]
    return found


def _walk(ann: Element, sink: _Sink, in_beat: bool) -> None:
    code = _attr(ann.find("code"), "code")
    value = ann.find("value")
    upper = code.upper()
    if upper == "MDC_ECG_BEAT":
        for sub in _subs(ann):
            _walk(sub, sink, in_beat=True)
        return
    lead = _lead_roi(ann)
    if lead:
        store = sink.lead_measurements.setdefault(_lead_label(lead) or lead, {})
        for sub in ann.iter("annotation"):  # itself, then ".//annotation" in order
            sub_code = _attr(_child(sub, "code"), "code")
            text = _code_text(_child(sub, "value"))
            if sub_code and text:
                store[sub_code] = text
        return
    if upper == "MDC_ECG_INTERPRETATION_SEVERITY":
        sink.severity = (_attr(value, "code") or _code_text(value)).upper()
    elif upper in _STATEMENT_CODES:
        text = _code_text(value)
        if text and (text, "") not in sink.statements:
            sink.statements.append((text, ""))
    elif upper == "MDC_ECG_RHY":
        text = _code_text(value)
        if text:
            sink.extra.setdefault("rhythm", text)
    elif upper in ("MDC_ECG_INTERPRETATION_COMMENT", "MDC_ECG_WAVC", "MDC_ECG_WAVC_TYPE"):
        pass  # comments and wave boundaries: not among the findings HeartEye keeps
    elif code in _MEASURES and value is not None and _attr(value, "value"):
        field, quantity = _MEASURES[code]
        converted = _convert(_attr(value, "value"), _attr(value, "unit"), quantity)
        if converted is not None and not in_beat:
            sink.measurements.setdefault(field, int(round(converted)))
    elif value is not None and finite_float(_attr(value, "value")) is not None and not in_beat:
        sink.extra.setdefault(code, _code_text(value))
    for sub in _subs(ann):
        _walk(sub, sink, in_beat)


def _lead_roi(ann: Element) -> str:
    """The lead code when the annotation is restricted to one lead."""
    if ann.find("support") is None:
        return ""
    for boundary in _path(ann, "support", "supportingROI", "component", "boundary"):
        code = _attr(_child(boundary, "code"), "code")
        if "_ECG_LEAD_" in code.upper():
            return code
    return ""


def _convert(value: str, unit: str, quantity: str) -> float | None:
    v = finite_float(value)
    if v is None or quantity == "count" or not unit:
        return v
    factor = _TO[quantity].get(unit)
    return None if factor is None else v * factor


def _statements(machine: _Sink, expert: _Sink) -> Statements:
    """The overread's statements when there are any (the device's kept apart), else the
    device's."""
    if expert.statements or expert.severity:
        before = None
        if machine.statements:
            before = tuple("\n".join(s for s, _ in machine.statements).splitlines())
        return Statements(
            lines=tuple(expert.statements),
            source="confirmed" if expert.confirmed else "overread",
            interpreter=expert.author,
            interpreted_at=expert.date,
            severity=expert.severity,
            edited=list(before) != [s for s, _ in expert.statements] if before else None,
            before_overread=before,
        )
    if machine.statements or machine.severity:
        return Statements(
            lines=tuple(machine.statements),
            source="machine",
            interpreted_at=machine.date,
            severity=machine.severity,
        )
    return Statements()
