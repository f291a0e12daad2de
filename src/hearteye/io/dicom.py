"""DICOM waveform ECG (12-lead, General and Ambulatory ECG Waveform Storage), recognised by
the DICOM preamble (``DICM`` at byte 128).

The dataset is read with `pydicom` and checked before a sample is decoded: it must be an
ECG waveform object with a Waveform Sequence; each multiplex group's channel count, sample
count and bits must fit `ReadLimits`, and its Waveform Data must hold exactly channels x
samples x bytes per sample (a lying count is refused, not truncated: the decoder alone would
drop any excess). pydicom decodes the samples (``waveform_array``: channel sensitivity,
correction factor and baseline of each Channel Definition; the unit, e.g. uV, from its
Channel Sensitivity Units); `ecgdatakit` reads the device's measurements and statements
(Waveform Annotation Sequence) from the same parsed dataset into ``meta.device``; see
`hearteye.io._cart`.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hearteye.errors import HeartEyeError, InvalidRecordError
from hearteye.io._cart import (
    CartFormat,
    assemble,
    check_document_size,
    read_from_member,
    read_from_path,
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
_MIN_PADDING_S = 0.1  # a trailing run of the padding value this long is padding


CART = CartFormat(FORMAT, "DICOM ECG", ".dcm", None, ("pydicom", "ecgdatakit"))


def looks_like_dicom(head: bytes) -> bool:
    return head[128:132] == b"DICM"


def read_dicom_bytes(
    data: bytes, source: str = "upload.dcm", limits: ReadLimits = _DEFAULT_LIMITS
) -> Record:
    check_document_size(len(data), source, CART, limits)
    ds = _dataset(data, source)
    try:
        with warnings.catch_warnings():  # pydicom warns as it converts odd values; kept
            warnings.simplefilter("ignore")
            index = check_waveforms(ds, source, limits)
            names, rows, units, fs = _rhythm(ds, index, source)
            parsed = _findings(ds, source)
    except HeartEyeError:
        raise
    except Exception:  # pydicom converts elements lazily: a damaged one fails on first use
        raise InvalidRecordError(
            f"{source}: the DICOM ECG holds a damaged element; export it again",
            code="corrupt_dicom_ecg",
        ) from None
    return assemble(names, rows, units, fs, parsed, source, CART, limits)


def read_dicom(path: str | Path, limits: ReadLimits = _DEFAULT_LIMITS) -> Record:
    return read_from_path(path, limits, CART, read_dicom_bytes)


def read_dicom_member(main: Member, siblings: Mapping[str, Member], limits: ReadLimits) -> Record:
    return read_from_member(main, limits, CART, read_dicom_bytes)


def check_waveforms(ds, source: str, limits: ReadLimits) -> int:
    """Refuse a dataset that is not an ECG waveform, or whose waveform sizes lie; return the
    index of the rhythm group (the first one not labelled a median beat)."""
    sop = str(ds.get("SOPClassUID", ""))
    if sop not in _ECG_SOP_CLASSES:
        raise InvalidRecordError(
            f"{source} is a DICOM object but not an ECG waveform (SOP class {sop or 'none'}); "
            "export the ECG as DICOM 12-lead or General ECG Waveform",
            code="dicom_not_ecg",
        )
    groups = list(ds.get("WaveformSequence") or [])
    if not groups:
        raise InvalidRecordError(
            f"{source}: the DICOM ECG holds no Waveform Sequence (no samples)",
            code="dicom_no_waveform",
        )
    for i, group in enumerate(groups):
        _check_group(group, i, source, limits)
    labels = [str(g.get("MultiplexGroupLabel", "")).upper() for g in groups]
    return next((i for i, label in enumerate(labels) if "MEDIAN" not in label), 0)


def _rhythm(ds, index: int, source: str):
    """Lead names, mV rows, file units and rate of one multiplex group, decoded by pydicom
    (sensitivity, correction factor and baseline applied). Samples equal to the padding value
    count as missing (NaN) only in a run of at least 0.1 s at a channel's end, where padding
    belongs: a writer that declares 0 as padding (ECG Toolkit does) must not blank every true
    zero of the signal."""
    group = ds.WaveformSequence[index]
    values = ds.waveform_array(index).T
    raw = _raw_codes(group)
    pad = _padding(group)
    fs = float(group.SamplingFrequency)
    names, rows, units = [], [], []
    for ch, definition in enumerate(group.ChannelDefinitionSequence):
        unit = _unit(definition)
        scale = mv_scale(unit)
        if scale is None:
            raise InvalidRecordError(
                f"{source}: channel {ch + 1} gives no voltage unit ({unit or 'none'})",
                code="unknown_amplitude_unit",
            )
        row = values[ch].astype(np.float64) * scale
        if pad is not None:
            row[_trailing(raw[:, ch] == pad, int(fs * _MIN_PADDING_S))] = np.nan
        names.append(_lead_name(definition, ch))
        rows.append(row.astype(np.float32))
        units.append(unit)
    return names, rows, units, fs


def _raw_codes(group) -> np.ndarray:
    dtype = {8: "i1", 16: "<i2", 32: "<i4"}[int(group.WaveformBitsAllocated)]
    n_ch = int(group.NumberOfWaveformChannels)
    return np.frombuffer(group.WaveformData, dtype=dtype).reshape(-1, n_ch)


def _padding(group) -> int | None:
    pad = group.get("WaveformPaddingValue")
    if not isinstance(pad, (bytes, bytearray)) or not pad:
        return None
    size = {8: 1, 16: 2, 32: 4}[int(group.WaveformBitsAllocated)]
    return int.from_bytes(bytes(pad[:size]), "little", signed=True)


def _trailing(is_pad: np.ndarray, min_run: int) -> np.ndarray:
    """Mask of the run of True values at the end of ``is_pad``, if at least ``min_run`` long
    (a few trailing samples that equal the padding value are more likely values)."""
    out = np.zeros_like(is_pad)
    keep = np.flatnonzero(~is_pad)
    start = keep[-1] + 1 if keep.size else 0
    if is_pad.size - start >= min_run:
        out[start:] = True
    return out


def _unit(definition) -> str:
    seq = definition.get("ChannelSensitivityUnitsSequence") or []
    return str(seq[0].get("CodeValue", "")) if seq else ""


_PAREN = re.compile(r"\s*\(.*\)\s*$")


def _lead_name(definition, ch: int) -> str:
    seq = definition.get("ChannelSourceSequence") or []
    meaning = str(seq[0].get("CodeMeaning", "")) if seq else ""
    # "Lead I (Einthoven)" (SCP-ECG codes), "aVR, augmented voltage, right" (MDC codes)
    core = _PAREN.sub("", meaning).split(",")[0]
    return normalise_lead_name(core) if meaning else f"channel {ch + 1}"


def _findings(ds, source: str):
    """The device's findings (annotations, device, patient) through ecgdatakit's reading of
    the dataset pydicom already parsed (its dataset method: parsing the file twice doubled
    the reading time of an annotated 12-lead file)."""
    from ecgdatakit.exceptions import ECGDataKitError
    from ecgdatakit.parsing.parsers.dicom_waveform import DICOMWaveformParser

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return DICOMWaveformParser()._parse_dataset(ds, Path(source))
    except (ECGDataKitError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise InvalidRecordError(
            f"{source}: the DICOM ECG's annotations or channel definitions are damaged",
            code="corrupt_dicom_ecg",
        ) from None


def _dataset(data: bytes, source: str):
    import pydicom
    import pydicom.config

    # pydicom's read-time validation warns *and logs* each odd value, quoting it: a patient's
    # name among them. Values are kept as they are; nothing about them reaches a log.
    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE

    try:
        with warnings.catch_warnings():
            # pydicom warns about malformed UIDs (ECG Toolkit writes '..'); values are kept.
            warnings.simplefilter("ignore")
            return pydicom.dcmread(io.BytesIO(data))
    except Exception:  # InvalidDicomError, struct errors, EOF on a truncated element ...
        raise InvalidRecordError(
            f"{source}: the DICOM file is damaged (its elements cannot be read); export it again",
            code="corrupt_dicom_ecg",
        ) from None


def _check_group(group, index: int, source: str, limits: ReadLimits) -> None:
    try:
        channels = int(group.get("NumberOfWaveformChannels") or 0)
        samples = int(group.get("NumberOfWaveformSamples") or 0)
        bits = int(group.get("WaveformBitsAllocated") or 0)
        fs = float(group.get("SamplingFrequency") or 0)
    except (TypeError, ValueError):
        raise InvalidRecordError(
            f"{source}: waveform group {index + 1} has an unreadable size field",
            code="dicom_bad_waveform_attributes",
        ) from None
    where = f"{source} (waveform group {index + 1})"
    check_lead_count(channels, limits, where)
    check_rate(fs, limits, where)
    check_length(channels, samples, fs, limits, where)
    if str(group.get("WaveformSampleInterpretation", "SS")) not in _INTERPRETATIONS.get(bits, ()):
        raise InvalidRecordError(
            f"{where}: {bits}-bit samples interpreted as "
            f"{group.get('WaveformSampleInterpretation')!s:.8}; DICOM defines SS/US (16 bit), "
            "SB/UB/MB/AB (8 bit), SL/UL (32 bit)",
            code="dicom_bad_waveform_attributes",
        )
    if bits not in _BITS:
        raise InvalidRecordError(
            f"{where}: {bits} bits per sample; DICOM ECGs use 8, 16 or 32",
            code="dicom_bad_waveform_attributes",
        )
    expected = channels * samples * _BITS[bits]
    actual = len(group.get("WaveformData") or b"")
    if actual != expected:
        raise InvalidRecordError(
            f"{where}: Waveform Data holds {actual} bytes, but {channels} channels x {samples} "
            f"samples x {bits} bits need {expected}; the counts disagree with the data",
            code="dicom_waveform_size_mismatch",
            details={"expected_bytes": expected, "actual_bytes": actual},
        )
