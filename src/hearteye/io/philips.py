"""Philips XML (SierraECG 1.03, PhilipsECG 1.04: PageWriter, HeartStart, TraceMasterVue,
IntelliSpace ECG), recognised by its root element ``restingecgdata`` (UTF-8 or UTF-16).

The waveforms are base64 text, usually XLI-compressed (`hearteye.io._xli`: per lead an LZW
stream of second differences, bounded before it expands); XLI also stores III, aVR, aVL and
aVF as residuals that are rebuilt from I and II. Uncompressed base64 and plain-text samples
are read too. The measurements (global and per lead), statements (with their edited flags),
the confirmation status and the program's criteria version go to ``meta.device``; see
`hearteye.io._cart`.

Read here, not by `ecgdatakit`: the library fails the staged real files on speed. Its
reader took 26-29 ms for a 10 s 12-lead file (18 ms in its pure-Python LZW, 4-6 ms in an
xmltodict parse and its repeated whole-document searches), 45-50x HeartEye's WFDB reader of
the same signal (this module: 4.0-4.5 ms in the README's run, on a busy machine where
`wfdb.rdrecord` took 1.95 ms: 2.0-2.3x it, from 2.4-2.8x; ~1.1 ms of it the parse of a file's
~1,050 elements, ~1.7 ms XLI, ~0.2 ms the ~620 per-lead measurements). This module parses
once (`parse_document`: defusedxml's rules, C speed) and reads the fields HeartEye keeps with
ecgdatakit's rules, on the element tree as xmltodict would see it (names as written, the
first of repeated elements, an empty element as nothing), so the tests prove the same
`Record` on every staged file: the rate and duration of ``parsedwaveforms`` (else the signal
characteristics), lead labels from ``leadlabels`` (else the lead set), the resolution (uV
per count) and the zero offset; measurements from the interpretation, then the internal
measurements (the first stated wins); statements as left and right parts; confirmed by
``status="Confirmed"`` or a confirming clinician (else the signature line), overread when
edited. The representative beats are not read (HeartEye does not use them).
"""

from __future__ import annotations

import binascii
import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from xml.etree.ElementTree import Element

import numpy as np

from hearteye.errors import HeartEyeError, InvalidRecordError
from hearteye.io import _xli
from hearteye.io._cart import (
    CartFormat,
    Findings,
    Statements,
    assemble,
    check_document_size,
    counts_to_mv,
    damaged,
    device_record,
    finite_float,
    global_measurements,
    iso,
    lead_names,
    library_label,
    library_labels,
    patient_fields,
    philips_program,
    read_from_member,
    read_from_path,
    resolution_text,
    stated_number,
)
from hearteye.io._common import Member, ReadLimits, check_lead_count, check_length, check_rate
from hearteye.io._xml import check_xml, direct_text, parse_document, root_element
from hearteye.record import STANDARD_LEADS, Record

FORMAT = "philips_xml"
_DEFAULT_LIMITS = ReadLimits()

CART = CartFormat(FORMAT, "Philips XML", ".xml", None, ("hearteye",))

_TYPES = {"SierraECG", "PhilipsECG"}
_VERSIONS = {"1.03", "1.04", "1.04.01", "1.04.02"}
_SEVERITY = {"NM": "NORMAL", "ON": "OTHERWISE NORMAL", "BL": "BORDERLINE", "BO": "BORDERLINE"}
_SEVERITY["AB"] = "ABNORMAL"
_SEX = {"male": "M", "m": "M", "female": "F", "f": "F"}
_MEASURED = {
    "heart_rate": ("heartrate", "meanventrate"),
    "rr_interval": ("rrint",),
    "pr_interval": ("print", "meanprint"),
    "qrs_duration": ("qrsdur", "meanqrsdur"),
    "qt_interval": ("qtint", "meanqtint"),
    "qtc_bazett": ("qtcb",),
    "qtc_fridericia": ("qtcf",),
    "p_axis": ("pfrontaxis",),
    "qrs_axis": ("qrsfrontaxis",),
    "t_axis": ("tfrontaxis",),
    "qrs_count": ("numberofcomplexes",),
}
_BOUNDARIES = {
    "ponset": "median_p_onset",
    "poffset": "median_p_offset",
    "qonset": "median_q_onset",
    "qoffset": "median_q_offset",
    "tonset": "median_t_onset",
    "toffset": "median_t_offset",
}
_QTC_KEYS = ("QTCorrected", "qtc_ms", "QTc Interval", "qtc", "MDC_ECG_TIME_PD_QTc")
_PLACEHOLDER = re.compile(r"\*+(?:\.\*+)?")
_SIGNATURE_DATE = re.compile(
    r"\s+(\d{1,2}-[A-Za-z]{3}-\d{4}\s+\d{1,2}:\d{2}(?::\d{2})?"
    r"|\d{1,2}/\d{1,2}/\d{4}\s+\d{1,2}:\d{2}(?::\d{2})?)\s*$"
)
_STAMP = re.compile(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)", re.ASCII)


def looks_like_philips(head: bytes) -> bool:
    return root_element(head) == "restingecgdata"


def read_philips_bytes(
    data: bytes, source: str = "upload.xml", limits: ReadLimits = _DEFAULT_LIMITS
) -> Record:
    check_document_size(len(data), source, CART, limits)
    check_xml(data, source, CART.label)
    try:
        root = parse_document(data, source, CART.label)
    except InvalidRecordError as err:
        if err.code == "malformed_xml":
            _check_raw_waveform(data, source, limits)  # its own code, if the waveform lies
        raise
    try:
        if root.tag != "restingecgdata":
            raise damaged(source, CART, "missing <restingecgdata> root element")
        waves = _waveform(root, source)
        _check_version(root, source)
        leads = _Leads(root, waves, source, limits)
        findings = _findings(root, leads)
    except HeartEyeError:
        raise
    except Exception as err:  # a value no rule expected (a number past every range)
        raise damaged(source, CART, type(err).__name__) from None
    return leads.record(findings, source, limits)


def read_philips(path: str | Path, limits: ReadLimits = _DEFAULT_LIMITS) -> Record:
    return read_from_path(path, limits, CART, read_philips_bytes)


def read_philips_member(main: Member, siblings: Mapping[str, Member], limits: ReadLimits) -> Record:
    return read_from_member(main, limits, CART, read_philips_bytes)


_RAW_WAVES = re.compile(r"<parsedwaveforms\b([^>]*)>([^<]*)<", re.IGNORECASE)
_RAW_ATTR = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


def _check_raw_waveform(data: bytes, source: str, limits: ReadLimits) -> None:
    """For a document the parser refused: its XLI waveform text, found without parsing, gets
    the checks it would have had (base64, chunks, lead count, expansion), so a broken waveform
    is named as such rather than as malformed XML."""
    text = data.decode(
        "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8", "replace"
    )
    found = _RAW_WAVES.search(text)
    if found is None:
        return
    attrs = {k.lower(): v for k, v in _RAW_ATTR.findall(found.group(1))}
    if (attrs.get("compression") or attrs.get("compressmethod") or "").upper() != "XLI":
        return
    chunks = _xli.split_chunks(_base64(found.group(2), source), source, limits)
    declared = attrs.get("numberofleads", "")
    if declared.isdigit() and len(chunks) < int(declared):
        raise _lead_count_mismatch(source, declared, len(chunks))
    seconds = (_positive(attrs.get("durationperchannel")) or 0.0) / 1000
    rate = _positive(attrs.get("samplespersecond")) or 1000.0
    _xli.bounded_streams(chunks, int(seconds * rate * 2), source, limits)


def _positive(text: str | None) -> float | None:
    value = finite_float(text or "")
    return value if value is not None and 0 < value < 1e7 else None


def _lead_count_mismatch(source: str, declared: str, found: int) -> InvalidRecordError:
    return InvalidRecordError(
        f"{source}: the waveform declares {declared} leads but its XLI data holds "
        f"{found}; the lead count disagrees with the data",
        code="lead_count_mismatch",
    )


# ------------------------------------------------------- the tree as xmltodict would see it
# A node is an element, a list of same-named elements, or None (absent, or empty: no
# attribute, no child, no text).


def _node(el: Element | None) -> Element | None:
    if el is None or (not el.attrib and len(el) == 0 and not (el.text or "").strip()):
        return None
    return el


def _first(node):
    if isinstance(node, list):
        return node[0] if node else None
    return node


def _get(node, *path: str):
    """Follow child names, the first of repeated ones at each step."""
    for key in path:
        node = _first(node)
        if node is None:
            return None
        found = node.findall(key)
        if not found:
            return None
        node = _node(found[0]) if len(found) == 1 else [_node(e) for e in found]
    return node


def _as_list(node) -> list:
    if node is None:
        return []
    return node if isinstance(node, list) else [node]


def _text(node) -> str:
    return direct_text(_first(node))


def _value(node) -> str:
    """Like `_text`, with Philips' placeholder ``---`` as nothing."""
    text = _text(node)
    return "" if text.strip("- ") == "" else text


def _attr(node, name: str) -> str:
    node = _first(node)
    if node is None:
        return ""
    value = node.get(name)
    return value.strip() if value is not None else ""


def _groups(el: Element) -> dict[str, list[Element]]:
    """Children by name, in order of first appearance (xmltodict's order)."""
    groups: dict[str, list[Element]] = {}
    for child in el:
        groups.setdefault(child.tag, []).append(child)
    return groups


def _find_tag(el: Element, tag: str):
    """Every element named ``tag`` (any case) below ``el``, not looking inside a match, as
    xmltodict's ``find_tag`` returns them: one group of same-parent matches (a node, or a
    list of nodes), several groups as a list of them, or None.

    The usual case is found at C speed: the name written in one case only, all matches
    children of one parent; anything else takes the grouped walk."""
    matches = list(el.iter(tag))
    if matches and matches[0] is not el:
        parent = _parent(el, matches[0], tag)
        if parent is not None and parent.findall(tag) == matches and _one_case(el, tag):
            return _node(matches[0]) if len(matches) == 1 else [_node(m) for m in matches]
    elif not matches and _one_case(el, tag):
        return None
    results: list = []

    def collect(node: Element) -> None:
        for name, items in _groups(node).items():
            if name.lower() == tag:
                results.append(_node(items[0]) if len(items) == 1 else [_node(e) for e in items])
            else:
                for item in items:
                    collect(item)

    collect(el)
    if not results:
        return None
    return results[0] if len(results) == 1 else results


def _parent(root: Element, target: Element, tag: str) -> Element | None:
    """The parent of ``target`` (an element named ``tag``), found by descending through the
    child whose subtree holds it."""
    node = root
    while True:
        for child in node:
            if child is target:
                return node
            if any(m is target for m in child.iter(tag)):
                node = child
                break
        else:
            return None


def _one_case(el: Element, tag: str) -> bool:
    """Whether no element below ``el`` is named ``tag`` in another case."""
    names = {e.tag for e in el.iter()}
    return all(name == tag for name in names if name.lower() == tag)


def _flatten(node, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Attributes and single, childless child elements' texts as ``{name: text}``."""
    node = _first(node)
    result: dict[str, str] = {}
    if not isinstance(node, Element) or (not node.attrib and len(node) == 0):
        return result
    for key, value in node.attrib.items():
        if key not in skip and key != "xmlns" and value.strip():
            result[key] = value.strip()
    children = list(node)
    tags = [child.tag for child in children]
    left_out = set(skip) if len(set(tags)) == len(tags) else _repeated(tags).union(skip)
    result.update(  # document order (xmltodict's); one comprehension, not a loop per child
        (key, text)
        for key, child in zip(tags, children, strict=True)
        if key not in left_out and not len(child) and (text := (child.text or "").strip())
    )
    return result


def _repeated(tags: list[str]) -> set[str]:
    counts = Counter(tags)
    return {tag for tag, count in counts.items() if count > 1}


def _int(text: str) -> int | None:
    value = finite_float(text)
    return None if value is None else int(round(value))


def _bool(text: str) -> bool | None:
    key = text.strip().lower()
    if key in ("true", "yes", "t", "1"):
        return True
    if key in ("false", "no", "f", "0"):
        return False
    return None


def _stamp(day: str, time: str) -> datetime | None:
    if not day or not time:
        return None
    text = f"{day} {time}"
    m = _STAMP.fullmatch(text)  # the usual layout, without strptime's locale checks
    if m:
        try:
            return datetime(*(int(g) for g in m.groups()))
        except ValueError:
            pass
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def _day(text: str) -> datetime | None:
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


# ------------------------------------------------------------------------------ waveform


def _waveform(root: Element, source: str) -> Element:
    waves = _get(root, "waveforms", "parsedwaveforms")
    if waves is None:
        waves = _find_tag(root, "parsedwaveforms")
    waves = _first(waves)
    if waves is None:
        raise damaged(source, CART, "no parsedwaveforms element")
    return waves


def _check_version(root: Element, source: str) -> None:
    info = _get(root, "documentinfo")
    kind, version = _text(_get(info, "documenttype")), _text(_get(info, "documentversion"))
    if info is None or not kind or not version:
        raise damaged(source, CART, "documentinfo names no document type and version")
    if kind not in _TYPES or version not in _VERSIONS:
        raise damaged(source, CART, f"files of type {kind[:20]} {version[:10]} are unsupported")


def _compression(waves) -> str:
    flag = _attr(waves, "compressflag")
    method = _attr(waves, "compression") or _attr(waves, "compressmethod")
    if flag and _bool(flag) is False:
        return ""
    return "" if method.lower() in ("", "uncompressed", "none") else method


class _Leads:
    """The rhythm leads as counts, their labels, rate and resolution."""

    def __init__(self, root: Element, waves: Element, source: str, limits: ReadLimits):
        signal = _get(root, "dataacquisition", "signalcharacteristics")
        compression = _compression(waves)
        encoding = _attr(waves, "dataencoding")
        raw = None
        if compression.upper() == "XLI" and encoding == "Base64":
            raw = _base64(_text(waves), source)
            chunks = _xli.split_chunks(raw, source, limits)
            declared = _attr(waves, "numberofleads")
            if declared.isdigit() and len(chunks) < int(declared):
                raise _lead_count_mismatch(source, declared, len(chunks))
            streams = _xli.bounded_streams(chunks, _lead_bytes(waves, signal), source, limits)
        rate = _int(_attr(waves, "samplespersecond")) or _int(_text(_get(signal, "samplingrate")))
        if not rate or rate <= 0:
            raise damaged(source, CART, "missing or invalid sampling rate")
        duration = finite_float(_attr(waves, "durationperchannel"))
        if duration is None or duration <= 0:
            raise damaged(source, CART, "missing or invalid durationperchannel")
        n = int(round(duration * rate / 1000))
        self.labels = _labels(waves, signal, source)
        self.rate = rate
        if compression:
            if compression.upper() != "XLI" or encoding != "Base64":
                raise damaged(source, CART, f"compression {compression[:20]} is unsupported")
            self.counts = _xli_leads(chunks, streams, self.labels, n, source)
        else:
            signed = _bool(_attr(waves, "signalsigned") or _text(_get(signal, "signalsigned")))
            self.counts = _plain_leads(
                waves, encoding, signed is not False, len(self.labels), n, source
            )
        self.resolution = next(
            (
                v
                for v in (
                    finite_float(_attr(waves, "resolution")),
                    finite_float(_text(_get(signal, "resolution"))),
                    finite_float(_text(_get(signal, "signalresolution"))),
                )
                if v is not None and v > 0
            ),
            None,
        )
        zero = _int(_attr(waves, "signaloffset") or _text(_get(signal, "signaloffset"))) or 0
        self.offset = -zero * self.resolution if self.resolution is not None else 0.0

    @property
    def is_raw(self) -> bool:
        return self.resolution is not None and not (self.resolution == 1.0 and self.offset == 0.0)

    def record(self, findings: Findings, source: str, limits: ReadLimits) -> Record:
        fs = float(self.rate)
        check_lead_count(len(self.counts), limits, source)
        check_rate(fs, limits, source)
        check_length(len(self.counts), len(self.counts[0]), fs, limits, source)
        if self.resolution is None:
            raise InvalidRecordError(
                f"{source}: lead {self.labels[0]} gives no voltage unit for its samples (found "
                "none); HeartEye does not guess an amplitude scale",
                code="unknown_amplitude_unit",
            )
        scaling = (self.resolution, self.offset) if self.is_raw else None
        rows = counts_to_mv(list(self.counts), scaling, 1e-3)  # one scale: all at once
        names = lead_names(self.labels)  # library spelling already: HeartEye's names
        units = ["uV"] * len(rows)
        return assemble(names, rows, units, fs, findings, source, CART, limits)


def _lead_bytes(waves, signal) -> int:
    """Bytes one lead's 16-bit samples take, from the declared duration and rate (1 kHz, the
    highest a Philips cart records, when no rate is stated)."""
    seconds = (_positive(_attr(waves, "durationperchannel")) or 0.0) / 1000
    rate = _positive(_attr(waves, "samplespersecond")) or _positive(
        _text(_get(signal, "samplingrate"))
    )
    return int(seconds * (rate or 1000.0) * 2)


def _labels(waves, signal, source: str) -> list[str]:
    names = _attr(waves, "leadlabels").split()
    if names:
        count = _int(_attr(waves, "numberofleads"))
        if count is not None and 0 < count < len(names):
            names = names[:count]
        return names
    count = _int(_text(_get(signal, "numberchannelsallocated")))
    if count is None:
        count = _int(_text(_get(signal, "numberchannelsvalid")))
    if count is None or count <= 0:
        raise damaged(source, CART, "no lead labels and no channel count")
    lead_set = _text(_get(signal, "acquisitiontype")) or _text(_get(signal, "leadset"))
    standard = lead_set in ("STD-12", "10-WIRE")
    names = [STANDARD_LEADS[k] if standard and k < 12 else f"Channel {k + 1}" for k in range(count)]
    return library_labels(names)


def _base64(text: str, source: str) -> bytes:
    try:
        raw = binascii.a2b_base64("".join(text.split()).encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError):
        raise InvalidRecordError(
            f"{source}: the waveform's base64 text is broken (truncated or with foreign "
            "characters); export the file again",
            code="invalid_base64",
        ) from None
    if not raw:
        raise damaged(source, CART, "parsedwaveforms holds no waveform data")
    return raw


def _xli_leads(chunks, streams, labels, n: int, source) -> list[np.ndarray]:
    if len(chunks) < len(labels):
        raise damaged(source, CART, f"XLI data holds {len(chunks)} leads, {len(labels)} expected")
    decoded = _xli.decode(streams, [start for _, start in chunks], len(labels), source)
    counts = []
    for label, samples in zip(labels, decoded, strict=False):
        if samples.size < n:
            raise damaged(source, CART, f"lead {label[:10]}: {samples.size} samples, {n} expected")
        counts.append(samples[:n].astype(np.int32, copy=False))  # a view: copied once, in mV
    if labels[:6] == list(STANDARD_LEADS[:6]):
        # III, aVR, aVL, aVF are stored as residuals of what I and II predict.
        i, ii = counts[0], counts[1]
        iii = ii - i - counts[2]
        counts[2] = iii
        counts[3] = -counts[3] - (i + ii) // 2
        counts[4] = (i - iii) // 2 - counts[4]
        counts[5] = (ii + iii) // 2 - counts[5]
    return counts


def _plain_leads(waves, encoding: str, signed: bool, n_leads: int, n: int, source):
    text = _text(waves)
    if encoding == "Base64":
        raw = _base64(text, source)
        if len(raw) < n_leads * n * 2:
            raise damaged(source, CART, f"parsedwaveforms holds {len(raw)} bytes")
        values = np.frombuffer(raw, dtype="<i2" if signed else "<u2", count=n_leads * n)
    elif encoding == "Plain":
        try:
            values = np.array([int(v) for v in text.split()], dtype=np.int32)
        except ValueError:
            raise damaged(source, CART, "invalid plain sample value") from None
        if values.size < n_leads * n:
            raise damaged(source, CART, f"parsedwaveforms holds {values.size} samples")
    else:
        raise damaged(source, CART, f"waveform data encoding {encoding[:20]} is unsupported")
    values = values[: n_leads * n].astype(np.int32)
    return [values[k * n : (k + 1) * n] for k in range(n_leads)]


# ------------------------------------------------------------------------------ findings


def _findings(root: Element, leads: _Leads) -> Findings:
    acquisition = _get(root, "dataacquisition")
    acquired = _stamp(_attr(acquisition, "date"), _attr(acquisition, "time"))
    interps = _as_list(_get(root, "interpretations", "interpretation"))
    if not interps:
        interps = _as_list(_find_tag(root, "interpretation"))
    interp = interps[0] if interps else None
    meas = _get(root, "internalmeasurements") or _get(root, "measurements")
    values, used, mean_qtc = _measurements(interp, meas)
    statements, machine = _statements(root, interp, interps)
    stated = _annotations(interp, used)
    if mean_qtc is not None:
        stated["qtc"] = f"{mean_qtc} ms (formula not stated)"
    qtc = next(
        (v for v in (stated_number(stated.get(k)) for k in _QTC_KEYS) if v is not None), None
    )
    manufacturer, model, software = _device(acquisition)
    device = device_record(
        manufacturer=manufacturer,
        model=model,
        software_version=software,
        program=philips_program(
            _attr(interp, "criteriaversion") or None, _attr(interp, "criteriaversiondate") or None
        ),
        measurements=global_measurements(values, qtc),
        per_lead=_lead_measurements(root),
        statements=statements,
    )
    first, last, age, sex = _patient(root, acquired)
    res = {float(leads.resolution)} if leads.is_raw else set()
    return Findings(
        device=device,
        acquired_at=iso(acquired),
        resolution=resolution_text(res, "uV"),
        **patient_fields(first, last, age, sex),
    )


def _device(acquisition) -> tuple[str, str, str]:
    """Manufacturer, model and software version (``detaildescription`` is
    "manufacturer:product number:software version")."""
    machine = _get(acquisition, "machine")
    model = _value(machine)
    parts = [p.strip() for p in _attr(machine, "detaildescription").split(":")]
    manufacturer = parts[0]
    software = ":".join(parts[2:]) if len(parts) >= 3 and parts[2] else ""
    if not model and len(parts) >= 2:
        model = parts[1]
    return manufacturer, model, software


def _patient(root: Element, acquired: datetime | None):
    data = _get(root, "patient", "generalpatientdata")
    if data is None:
        return "", "", None, ""
    name = _get(data, "name")
    first = _value(_get(name, "firstname")) or _value(_get(data, "firstname"))
    last = _value(_get(name, "lastname")) or _value(_get(data, "lastname"))
    age = _get(data, "age")
    dob = _value(_get(age, "dateofbirth")) or _value(_get(data, "dateofbirth"))
    birth = _day(dob) if dob else None
    years = _int(_value(_get(age, "years")))
    if years is None and birth is not None and acquired is not None:
        a, b = acquired.date(), birth.date()
        years = a.year - b.year - ((a.month, a.day) < (b.month, b.day))
    sex = _value(_get(data, "sex"))
    return first, last, years, _SEX.get(sex.lower(), "U") if sex else ""


def _measurements(interp, meas) -> tuple[dict, set, int | None]:
    """Global measurements: each from the first source that states it (the interpretation's
    global and interpretation measurements, then the cross-lead and global ones of the
    internal measurements); which (source, name) pairs were used; the 1.03 mean QTc."""
    sources = [
        _get(interp, "globalmeasurements"),
        _get(interp, "interpretationmeasurements"),
        _get(meas, "crossleadmeasurements"),
        _get(meas, "globalmeasurements"),
    ]
    used: set = set()

    def pick(*keys: str) -> int | None:
        for node in sources:
            for key in keys:
                value = _int(_text(_get(node, key)))
                if value is not None:
                    used.add((id(_first(node)), key))
                    return value
        return None

    values = {name: pick(*keys) for name, keys in _MEASURED.items()}
    return values, used, pick("meanqtc")


def _annotations(interp, used: set) -> dict[str, str]:
    """What the interpretation states beside the measurements read (a QTc among them)."""
    found: dict[str, str] = {}
    if interp is None:
        return found
    for node in (_get(interp, "globalmeasurements"), _get(interp, "interpretationmeasurements")):
        node_id = id(_first(node))
        for key, value in _flatten(node).items():
            if key not in ("editedflag", "arrhyflag") and (node_id, key) not in used:
                found.setdefault(_BOUNDARIES.get(key, key), value)
    return found


def _lead_measurements(root: Element) -> dict | None:
    result: dict[str, dict[str, str]] = {}
    for item in _as_list(_find_tag(root, "leadmeasurement")):
        name = _attr(item, "leadname")
        if name:
            skip = ("leadname", "pacepulses", "leadqualitystates")
            result[library_label(name)] = _flatten(item, skip=skip)
    return result or None


def _statements(root: Element, interp, interps: list) -> tuple[Statements, list[str]]:
    """The final statements (left, right), who confirmed them and when, whether they were
    edited, and the device's own (rendered from its coded components) when they differ."""
    if interp is None:
        return Statements(), []
    final, edited = [], False
    for stmt in _as_list(_get(interp, "statement")):
        left, right = _text(_get(stmt, "leftstatement")), _text(_get(stmt, "rightstatement"))
        edited |= bool(_bool(_attr(stmt, "editedflag")))
        if left or right:
            final.append((left, right))
    machine = []
    components = _first(_get(interp, "interpretationdatastructure", "statementcomponents"))
    if components is not None:
        for items in _groups(components).values():
            for comp in (_node(e) for e in items):
                source = _attr(comp, "source").lower()
                if source == "editor" or _bool(_attr(comp, "deleted")):
                    edited = True
                if source != "editor":
                    left, right = _render(comp)
                    if left or right:
                        machine.append((left, right))
    if not machine and not edited:
        machine = list(final)
    severity_node = _get(interp, "severity")
    severity = _SEVERITY.get(_attr(severity_node, "code").upper(), "") or (
        _text(severity_node).strip("- ").strip()
    )
    status = root.get("status") or ""  # as written: the status field HeartEye reports
    confirmer = _get(interp, "confirmingclinician")
    signature = _text(_get(interp, "mdsignatureline"))
    if status.strip().lower() == "confirmed" or _value(confirmer):
        source = "confirmed"
        who = _value(confirmer)
        when = _stamp(_attr(confirmer, "date"), _attr(confirmer, "time"))
        if signature and (not who or when is None):
            name, signed = _signature(signature)
            who, when = who or name, when or signed
    elif edited:
        source = "overread"
        editor = _get(root, "documentinfo", "editor")
        who, when = _value(editor), _stamp(_attr(editor, "date"), _attr(editor, "time"))
    else:
        source, who = "machine", ""
        when = _stamp(_attr(interp, "date"), _attr(interp, "time"))
    lines = [f"{a} | {b}" if b else a for a, b in machine]
    before = tuple("\n".join(lines).splitlines()) if lines and source != "machine" else None
    flags = [
        _bool(_attr(stmt, "editedflag")) is True
        for node in interps
        for stmt in _as_list(_get(node, "statement"))
    ]
    if flags:
        was_edited = any(flags)
    elif before:
        was_edited = list(before) != [a for a, _ in final]
    else:
        was_edited = None
    return (
        Statements(
            lines=tuple(final),
            source=source,
            stated_status=status,
            interpreter=who,
            interpreted_at=when,
            severity=severity,
            edited=was_edited,
            before_overread=before,
        ),
        lines,
    )


def _render(component) -> tuple[str, str]:
    """A coded statement: its template with the lead list and numbers filled in."""
    unparsed = _get(component, "unparsedstatement")
    if unparsed is None:
        return _text(component), ""
    variables = _get(component, "variables")
    numbers = [_text(v) for v in _as_list(_get(variables, "numericvalue"))]
    leads = " ".join(_text(v) for v in _as_list(_get(variables, "listofECGlead")))

    def fill(template: str) -> str:
        if leads:
            template = template.replace("*LEAD*", leads)
        values = iter(numbers)

        def sub(match: re.Match) -> str:
            value = next(values, None)
            return match.group(0) if value is None else value

        return " ".join(_PLACEHOLDER.sub(sub, template).split())

    modifiers = " ".join(
        _text(m) for m in _as_list(_get(component, "modifiers", "modifier")) if _text(m)
    )
    left = fill(_text(_get(unparsed, "lhsstatement")))
    right = fill(_text(_get(unparsed, "rhsstatement")))
    if modifiers:
        left = f"{modifiers} {left}".strip()
    return left, right


def _signature(signature: str) -> tuple[str, datetime | None]:
    """``"Confirmed by: NAME 24-Dec-2008 07:15:13"`` as the name and the date."""
    text = signature
    prefix, sep, rest = signature.partition(":")
    if sep and not any(c.isdigit() for c in prefix):
        text = rest.strip()
    signed = None
    match = _SIGNATURE_DATE.search(text)
    if match:
        stamp = " ".join(match.group(1).split())
        for fmt in ("%d-%b-%Y %H:%M:%S", "%d-%b-%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M"):
            try:
                signed = datetime.strptime(stamp, fmt)
                break
            except ValueError:
                continue
        text = text[: match.start()].strip()
    return text, signed
