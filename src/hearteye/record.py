"""The `Record`: the one in-memory ECG every reader returns and every step takes.

Array convention, everywhere in HeartEye: ``signal[lead, sample]``, float32, millivolts.
Readers convert to this at the boundary; nothing downstream re-checks units or axis order.
Training arrays on disk (``X_data.npy``) are the one exception: they keep the original
team's ``(window, sample, lead)`` layout, and `hearteye.data.prepare` transposes when it
writes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

STANDARD_LEADS: tuple[str, ...] = (
    "I",
    "II",
    "III",
    "aVR",
    "aVL",
    "aVF",
    "V1",
    "V2",
    "V3",
    "V4",
    "V5",
    "V6",
)

_CANONICAL = {name.lower(): name for name in STANDARD_LEADS}
# Prefixes and suffixes that devices and converters wrap around a lead name ("ECG I",
# "Lead II", "EKG V1-REF", "I-Ref"); stripped before matching the standard 12.
_PREFIX = re.compile(r"^(?:ecg|ekg|lead|ableitung|derivation)[\s_.:-]*", re.IGNORECASE)
_SUFFIX = re.compile(r"[\s_.:-]*(?:ref|avg)$", re.IGNORECASE)
_ROMAN = {"1": "I", "2": "II", "3": "III"}


def normalise_lead_name(name: str) -> str:
    """Map a device's lead label to the standard 12 (``'ecg ii'`` -> ``'II'``).

    Unknown labels (``'MLII'``, ``'Pleth'``) come back as given, stripped of whitespace, so
    nothing is silently relabelled as a lead it is not.
    """
    raw = name.strip()
    core = _SUFFIX.sub("", _PREFIX.sub("", raw)).strip()
    key = core.lower().replace(" ", "")
    key = _ROMAN.get(key, key)
    return _CANONICAL.get(key.lower(), raw)


@dataclass(frozen=True)
class RecordMeta:
    """What the file says about the patient and the recording. Every field may be unknown."""

    age: float | None = None
    sex: str | None = None  # "M", "F" or None
    diagnoses: tuple[str, ...] = ()
    source: str | None = None  # file name the record was read from (never a server path)
    record_name: str | None = None
    original_units: tuple[str, ...] = ()  # per lead, as the file gave them (uV, mV, V)
    original_fs: float | None = None  # before any resampling done while reading
    # The whole recording's length when the reader decoded only its start
    # (`ReadLimits.max_seconds`); None when the signal holds all of it.
    recording_duration_s: float | None = None
    # The name of the format the reader decoded ("wfdb", "edf", ...: `hearteye.io.registry`),
    # so nothing downstream guesses it from a file name.
    format: str | None = None
    acquired_at: str | None = None  # ISO 8601, as the file states it
    # The recording device's own findings, as the file states them (cart exports): program
    # name and version, "measurements" and "statements" (with confirmation status).
    device: dict | None = None
    # Personal data: kept for the one use that needs it (the API fills an empty patient name
    # from it), never in repr (so never in a log line) and never in `Record.summary`.
    patient_name: str | None = field(default=None, repr=False)
    # Leads whose file gives no amplitude calibration (WFDB gain 0 or missing): read with the
    # format's default gain, so their amplitudes are not to be trusted (intervals are).
    uncalibrated_leads: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Record:
    """A multi-lead ECG: ``signal[lead, sample]`` in mV (float32), sampled at ``fs`` Hz."""

    signal: np.ndarray
    fs: float
    leads: tuple[str, ...]
    meta: RecordMeta = field(default_factory=RecordMeta)
    units: str = "mV"

    def __post_init__(self) -> None:
        sig = np.asarray(self.signal)
        if sig.ndim != 2:
            raise ValueError(f"signal must be 2-D [lead, sample], got shape {sig.shape}")
        if sig.dtype != np.float32:
            sig = sig.astype(np.float32)
        object.__setattr__(self, "signal", sig)
        object.__setattr__(self, "leads", tuple(self.leads))
        if len(self.leads) != sig.shape[0]:
            raise ValueError(f"{len(self.leads)} lead names for {sig.shape[0]} signal rows")
        if not (np.isfinite(self.fs) and self.fs > 0):
            raise ValueError(f"sampling rate must be positive, got {self.fs}")
        if self.units != "mV":
            raise ValueError("Record signals are always in mV; convert in the reader")

    @property
    def n_leads(self) -> int:
        return self.signal.shape[0]

    @property
    def n_samples(self) -> int:
        return self.signal.shape[1]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.n_samples / self.fs

    @property
    def recording_duration(self) -> float:
        """Length in seconds of the whole recording (longer than `duration` when only its
        start was read)."""
        return self.meta.recording_duration_s or self.duration

    def lead(self, name: str) -> np.ndarray:
        """One lead's samples, by standard or given name."""
        try:
            return self.signal[self.leads.index(normalise_lead_name(name))]
        except ValueError:
            raise KeyError(f"no lead {name!r}; this record has {', '.join(self.leads)}") from None

    def head(self, seconds: float) -> Record:
        """The first ``seconds`` of the record, copied (so the whole one can be freed); like a
        reader told `ReadLimits.max_seconds`, it remembers the whole recording's length."""
        n = max(0, int(round(seconds * self.fs)))
        if n >= self.n_samples:
            return self
        meta = replace(self.meta, recording_duration_s=self.recording_duration)
        return replace(self, signal=self.signal[:, :n].copy(), meta=meta)

    def with_signal(self, signal: np.ndarray, fs: float | None = None) -> Record:
        """A copy with new samples (same leads and metadata), e.g. after filtering."""
        return replace(self, signal=signal, fs=self.fs if fs is None else fs)

    def summary(self) -> dict:
        """JSON-ready description (no samples)."""
        m = self.meta
        return {
            "record_name": m.record_name,
            "source": m.source,
            "format": m.format,
            "fs": float(self.fs),
            "original_fs": m.original_fs,
            "n_leads": self.n_leads,
            "leads": list(self.leads),
            "n_samples": self.n_samples,
            "duration_s": round(self.duration, 6),
            "recording_duration_s": round(self.recording_duration, 6),
            "units": self.units,
            "original_units": list(m.original_units),
            "age": m.age,
            "sex": m.sex,
            "diagnoses": list(m.diagnoses),
            "acquired_at": m.acquired_at,
            "device": _device_summary(m.device),
            "device_measurements": (m.device or {}).get("measurements"),
            "device_statements": (m.device or {}).get("statements"),
            "uncalibrated_leads": list(m.uncalibrated_leads),
        }


def _device_summary(device: dict | None) -> dict | None:
    if not device:
        return None
    return {k: device.get(k) for k in ("manufacturer", "model", "software_version", "program")}
