"""What every reader shares: read limits, unit conversion, resampling, patient fields.

Readers check a file's claims (lead count, rate, length) against `ReadLimits` *before* they
decode a single sample, so a lying header is refused with a typed error instead of being
trusted with an allocation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from hearteye.errors import InvalidRecordError

# Factor from a file's voltage unit to mV. Anything not listed is not a voltage (mmHg, %, NU):
# such channels are not ECG leads and readers drop them rather than guess a scale.
_TO_MV = {"mv": 1.0, "uv": 1e-3, "v": 1e3, "nv": 1e-6}


@dataclass(frozen=True)
class ReadLimits:
    """Bounds a record must respect before it is decoded.

    The defaults admit every real ECG we know of, up to a 24 h Holter: 3 leads at 1 kHz or
    12 leads at 250 Hz for 24 h is about 260 M samples, 1 GiB as float32
    (``max_values``). Larger recordings must be cut before reading; raise the limit
    deliberately for batch jobs on big machines.
    """

    max_leads: int = 64
    min_fs: float = 50.0  # below this a QRS complex is not resolved
    max_fs: float = 20_000.0
    max_values: int = 268_435_456  # leads x samples after reading (1 GiB of float32)
    min_duration_s: float = 0.5
    max_header_bytes: int = 1_048_576
    # One cart export (XML, DICOM, SCP-ECG): a 10 s 12-lead file is 20 to 600 kB; 16 MiB
    # admits a 5 min full-disclosure export and refuses a document bomb unread.
    max_document_bytes: int = 16 * 1_048_576
    # Decompressed waveform bytes per document (Philips XLI): 64 MiB is 2.8 M 16-bit samples
    # per lead for 12 leads, 90 min at 500 Hz. Each lead is also held to its declared length.
    max_decoded_bytes: int = 64 * 1_048_576
    # Decode only the first this many seconds (the files are still checked whole); the
    # Record's meta then gives the whole recording's length. None: decode everything.
    max_seconds: float | None = None


@dataclass(frozen=True)
class Member:
    """One file of an upload or archive: its plain name, its size, and its bytes on demand
    (a zip entry is decompressed, through a bounded read, only when `load` is called, so a
    reader can check sizes first)."""

    name: str
    size: int
    load: Callable[[], bytes]


def mv_scale(unit: str | None) -> float | None:
    """mV per unit of ``unit`` (``'uV'`` -> 1e-3), or None when it is not a voltage."""
    key = (unit or "").strip().replace("µ", "u").replace("μ", "u").lower()
    return _TO_MV.get(key)


def check_rate(fs: float, limits: ReadLimits, source: str) -> None:
    if not (math.isfinite(fs) and limits.min_fs <= fs <= limits.max_fs):
        raise InvalidRecordError(
            f"{source}: sampling rate {fs:g} Hz is outside what an ECG uses "
            f"({limits.min_fs:g} to {limits.max_fs:g} Hz); check the header's rate field",
            code="sampling_rate_out_of_range",
            details={"fs": fs},
        )


def check_lead_count(n: int, limits: ReadLimits, source: str) -> None:
    if n > limits.max_leads:
        raise InvalidRecordError(
            f"{source}: the header declares {n} signals; HeartEye reads at most "
            f"{limits.max_leads} leads per record",
            code="too_many_leads",
            details={"n_leads": n},
        )
    if n < 1:
        raise InvalidRecordError(f"{source}: the header declares no signals", code="no_signals")


def check_length(n_leads: int, n_samples: int, fs: float, limits: ReadLimits, source: str) -> None:
    """Refuse records too short to be an ECG or too large to hold in memory."""
    if n_samples <= 0:
        raise InvalidRecordError(f"{source}: the record holds no samples", code="empty_record")
    if n_samples / fs < limits.min_duration_s:
        raise InvalidRecordError(
            f"{source}: the record is {n_samples / fs:.3g} s long ({n_samples} "
            f"sample{'s' if n_samples != 1 else ''} at {fs:g} Hz); HeartEye needs at least "
            f"{limits.min_duration_s:g} s "
            "(10 s for a full analysis)",
            code="record_too_short",
            details={"n_samples": n_samples, "fs": fs},
        )
    if n_leads * n_samples > limits.max_values:
        raise InvalidRecordError(
            f"{source}: {n_leads} leads x {n_samples} samples exceeds the limit of "
            f"{limits.max_values} values ({limits.max_values * 4 >> 20} MiB); "
            "cut the recording into shorter files",
            code="record_too_large",
            details={"n_leads": n_leads, "n_samples": n_samples},
        )


def resample_to(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """Polyphase resampling by ``up/down`` (anti-aliased; never zero-padding or repeating)."""
    if up == down:
        return x
    ratio = Fraction(up, down)
    return resample_poly(x, ratio.numerator, ratio.denominator)


def parse_sex(text: str | None) -> str | None:
    t = (text or "").strip().lower()
    if t in {"m", "male", "man", "mann", "männlich"}:
        return "M"
    if t in {"f", "female", "woman", "w", "weiblich", "frau"}:
        return "F"
    return None


_AGE = re.compile(r"(\d+(?:\.\d+)?)")


def parse_age(text: str | None) -> float | None:
    """``'74'`` -> 74.0; ``'NaN'``, ``'unknown'`` or an implausible number -> None."""
    m = _AGE.search(text or "")
    if not m:
        return None
    age = float(m.group(1))
    return age if 0 <= age < 130 else None
