"""An `Analysis` as a DICOM 12-Lead ECG Waveform Storage object (SOP class
1.2.840.10008.5.1.4.1.1.9.1.1), for PACS, written with pydicom.

Modules written (DICOM PS3.3 A.34.3): Patient, General Study, General Series, General
Equipment, Waveform Identification, Waveform, Acquisition Context (empty: HeartEye does not know
the electrode placement), Waveform Annotation (the measurements, statements and verdict as
unformatted text, so a PACS viewer shows them beside the traces) and SOP Common.

Samples: the analysed display signal (band-passed, 500 Hz) as signed 16-bit integers in
microvolts (channel sensitivity 1 uV, correction factor 1, baseline 0), one multiplex group of
all leads. 1 uV is finer than any resting-ECG cart records (LUDB: 0.5-1.5 uV per step), and
the service keeps its display copy at exactly this resolution, so nothing is lost (16 bits
hold +-32.767 mV; no ECG reaches that, and a sample beyond it, which the quality check
already flags as implausible_amplitude, is clipped). The IOD
allows at most 16,384 samples per channel (32.8 s at 500 Hz) and 13 channels: a longer
analysis is cut to its first 16,384 samples, and the `cut` attribute of the result says so.

Channel codes are those of DICOM CID 3001 "ECG Leads" (MDC 2:1 Lead I ... 2:64 aVF), taken
from pydicom's own copy of the DICOM code tables; a lead outside the table is written with
CID 3001's "Unspecified lead" and its name as the channel label. UIDs derive from
``record_id`` (pydicom's generate_uid with that entropy), so re-exporting a record gives the same
study, series and instance UIDs and PACS replaces rather than duplicates it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from hearteye.analyze import Analysis
from hearteye.errors import HeartEyeError
from hearteye.export._common import (
    KEY_MEASUREMENTS,
    Patient,
    interpretation_of,
    patient_of,
    statements_of,
    value_of,
    verdict_text,
)
from hearteye.version import __version__

TWELVE_LEAD_ECG_STORAGE = "1.2.840.10008.5.1.4.1.1.9.1.1"
MAX_SAMPLES = 16384  # per channel, 12-Lead ECG IOD (PS3.3 A.34.3.4.2)
MAX_CHANNELS = 13
_MIN_FS, _MAX_FS = 200.0, 1000.0  # sampling frequency range of the IOD
# CID 3001 keywords in pydicom's code dictionary, per HeartEye lead name.
_CID3001 = {
    "I": "LeadI",
    "II": "LeadII",
    "III": "LeadIII",
    "aVR": "AvrAugmentedVoltageRight",
    "aVL": "AvlAugmentedVoltageLeft",
    "aVF": "AvfAugmentedVoltageFoot",
    "V1": "LeadV1",
    "V2": "LeadV2",
    "V3": "LeadV3",
    "V4": "LeadV4",
    "V5": "LeadV5",
    "V6": "LeadV6",
}


@dataclass(frozen=True)
class DicomExport:
    data: bytes  # a DICOM Part 10 file
    n_samples: int  # per channel, as written
    cut: bool  # True when the analysis was longer than the IOD allows


def to_dicom(
    analysis: Analysis,
    *,
    record_id: str | None = None,
    patient: Mapping | None = None,
    acquired: datetime | None = None,
) -> DicomExport:
    """The DICOM file of ``analysis``. ``acquired`` dates the study and the acquisition
    (unknown: the study date is left empty, as the IOD allows)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    _check(analysis)
    n = min(analysis.signal.shape[1], MAX_SAMPLES)
    uid = _uids(record_id, generate_uid)
    ds = _base(uid)
    _patient_module(ds, patient_of(analysis, patient))
    _study_series(ds, uid, acquired, record_id)
    ds.WaveformSequence = [_multiplex(analysis, n)]
    ds.AcquisitionContextSequence = []
    ds.WaveformAnnotationSequence = _annotations(analysis)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = TWELVE_LEAD_ECG_STORAGE
    meta.MediaStorageSOPInstanceUID = uid["instance"]
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return DicomExport(buf.getvalue(), n, n < analysis.signal.shape[1])


def _check(analysis: Analysis) -> None:
    fs = float(analysis.fs)
    if not _MIN_FS <= fs <= _MAX_FS:
        raise HeartEyeError(
            f"a 12-lead ECG DICOM object needs 200-1000 Hz sampling; this analysis is at {fs:g} Hz",
            code="dicom_unsupported_rate",
        )
    if not 1 <= len(analysis.leads) <= MAX_CHANNELS or not analysis.signal.shape[1]:
        raise HeartEyeError(
            f"a 12-lead ECG DICOM object holds 1-13 leads with samples; this analysis has "
            f"{len(analysis.leads)} leads and {analysis.signal.shape[1]} samples",
            code="dicom_unsupported_leads",
        )


def _uids(record_id: str | None, generate_uid) -> dict[str, str]:
    def make(part: str) -> str:
        return generate_uid(entropy_srcs=[record_id, part]) if record_id else generate_uid()

    return {p: make(p) for p in ("study", "series", "instance")}


def _base(uid: dict[str, str]):
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: patient names in any script
    ds.SOPClassUID = TWELVE_LEAD_ECG_STORAGE
    ds.SOPInstanceUID = uid["instance"]
    ds.Modality = "ECG"
    ds.Manufacturer = "HeartEye"
    ds.ManufacturerModelName = "HeartEye analysis"
    ds.SoftwareVersions = __version__
    return ds


def _patient_module(ds, who: Patient) -> None:
    ds.PatientName = _person_name(who.name)
    ds.PatientID = (who.id or "")[:64]
    ds.PatientBirthDate = who.birth_date.strftime("%Y%m%d") if who.birth_date else ""
    ds.PatientSex = who.sex or ""
    if who.age is not None:
        ds.PatientAge = f"{min(who.age, 999):03d}Y"


def _person_name(name: str | None) -> str:
    # DICOM PN: family^given; a free-text name is kept whole as the family component, since
    # splitting "Jane van der Berg" by guesswork would be wrong more often than right.
    return (name or "").replace("^", " ").replace("\\", " ")[:64]


def _study_series(ds, uid: dict[str, str], acquired: datetime | None, record_id) -> None:
    ds.StudyInstanceUID = uid["study"]
    ds.SeriesInstanceUID = uid["series"]
    date = acquired.strftime("%Y%m%d") if acquired else ""
    time = acquired.strftime("%H%M%S") if acquired else ""
    ds.StudyDate, ds.StudyTime = date, time
    ds.ContentDate, ds.ContentTime = date, time
    if acquired:
        ds.AcquisitionDateTime = acquired.strftime("%Y%m%d%H%M%S")
    ds.ReferringPhysicianName = ""
    ds.StudyID = (record_id or "")[:16]
    ds.AccessionNumber = ""
    ds.StudyDescription = "Resting ECG"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1


def _multiplex(analysis: Analysis, n: int):
    from pydicom.dataset import Dataset

    uv = np.rint(np.asarray(analysis.signal[:, :n], dtype=np.float64) * 1000.0)
    samples = np.clip(uv, -32768, 32767).astype("<i2")
    group = Dataset()
    group.MultiplexGroupTimeOffset = 0.0
    group.WaveformOriginality = "DERIVED"  # band-passed and resampled by HeartEye
    group.NumberOfWaveformChannels = len(analysis.leads)
    group.NumberOfWaveformSamples = n
    group.SamplingFrequency = float(analysis.fs)
    group.MultiplexGroupLabel = "RHYTHM"
    group.ChannelDefinitionSequence = [_channel(lead) for lead in analysis.leads]
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    # Interleaved: sample 0 of every channel, then sample 1, ... (PS3.3 C.10.9.1.5).
    group.WaveformData = samples.T.tobytes()
    return group


def _channel(lead: str):
    from pydicom.dataset import Dataset
    from pydicom.sr.codedict import codes

    code = getattr(codes.CID3001, _CID3001.get(lead, "UnspecifiedLead"))
    source = Dataset()
    source.CodeValue = code.value
    source.CodingSchemeDesignator = code.scheme_designator
    source.CodeMeaning = code.meaning
    units = Dataset()
    units.CodeValue = "uV"
    units.CodingSchemeDesignator = "UCUM"
    units.CodeMeaning = "microvolt"
    ch = Dataset()
    ch.ChannelLabel = lead[:16]
    ch.ChannelSourceSequence = [source]
    ch.ChannelSensitivity = 1.0
    ch.ChannelSensitivityUnitsSequence = [units]
    ch.ChannelSensitivityCorrectionFactor = 1.0
    ch.ChannelBaseline = 0.0
    ch.ChannelSampleSkew = 0.0
    ch.WaveformBitsStored = 16
    return ch


def _annotations(analysis: Analysis) -> list:
    """The measurements and the interpretation as text annotations of the whole record."""
    from pydicom.dataset import Dataset

    lines = []
    for km in KEY_MEASUREMENTS:
        m = value_of(analysis, km.name)
        if m is not None:
            lines.append(f"{km.label}: {m['value']:.0f} {km.unit}")
    interp = interpretation_of(analysis)
    lines.append(str(interp["overall"]) if interp else verdict_text(analysis))
    lines += [str(s.get("text") or s.get("code")) for s in statements_of(analysis)]
    out = []
    for text in lines:
        item = Dataset()
        item.UnformattedTextValue = text[:10240]
        item.AnnotationGroupNumber = 0
        out.append(item)
    return out
