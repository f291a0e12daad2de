"""Signal-quality flags a clinician wants before trusting any measurement.

`assess(record)` looks at the raw millivolt signal (before any filtering hides a fault) and
returns a list of `QualityFlag`. Each flag names its lead (or ``None`` for the whole record), a
stable code, a severity, and a sentence a person can read. An empty list means nothing found.

Thresholds, and why:
* flat / disconnected: peak-to-peak under 20 uV over the record, or a standard deviation under
  5 uV. A connected electrode always shows at least the QRS (hundreds of uV).
* clipping: at least 0.5 % of samples sit exactly at the lead's extreme value in runs of 3 or
  more consecutive samples, in at least 3 separate runs - an ADC rail hit beat after beat. A
  sharp R peak touches its maximum once; one long plateau at the minimum is a quiet baseline
  stretch (seen in LUDB at the start of records), not saturation. The rail must also lie at least
  0.5 mV from the lead's median: no ECG amplifier saturates closer to baseline than that, while
  low-amplitude leads often repeat their small minimum (LUDB 120, lead I).
* non-finite: any NaN/inf sample (WFDB marks missing samples that way).
* too short: under 2 s, fewer than two beats at normal rates: no RR interval, no rhythm.
* mains noise: after the configured filtering, power within +-1 Hz of 50 or 60 Hz above 5 % of
  the 1-40 Hz ECG band power (the notch should leave well under 1 %).
* implausible amplitude: after filtering (so a DC offset does not count), the lead's 99.9th
  percentile of |x| above 50 mV. A surface ECG does not get there: across the 297 staged
  LUDB, Challenge and PTB records the largest is 7.3 mV (largest sample 11.4 mV). A wrong
  gain or unit in the header does (a gain given per volt where mV was meant is x1000).
* uncalibrated: the file gives no amplitude calibration for the lead (a WFDB gain of 0 or
  none, which the specification reads as "uncalibrated, assume 200 units per mV"): it is read,
  but its amplitudes, and the measurements built on them, are marked unreliable.
* excerpt: the record is the start of a longer recording (cut by `Record.head` or by a
  bounded reader; the service bounds each request's time and memory that way). It comes
  first, because every other flag and every measurement describes that stretch only.

`assess` is the one place that decides every flag, so a caller never adds or patches one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import signal as sps

from hearteye.record import Record
from hearteye.signal import FLAT_STD_MV, PreprocessConfig, chain_filter

MIN_DURATION_S = 2.0
FLAT_PTP_MV = 0.02
CLIP_FRACTION = 0.005
CLIP_RUN = 3
CLIP_MIN_RUNS = 3
CLIP_MIN_OFFSET_MV = 0.5
MAINS_RATIO = 0.05
IMPLAUSIBLE_MV = 50.0


@dataclass(frozen=True)
class QualityFlag:
    code: str  # flat_lead | clipping | non_finite | too_short | mains_noise |
    #            implausible_amplitude | uncalibrated | excerpt
    severity: str  # "warning" (measure with care) | "error" (cannot be analysed)
    lead: str | None
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def excerpt_flag(duration_s: float, analysed_s: float) -> QualityFlag:
    """The record lasts ``duration_s`` but only its first ``analysed_s`` were analysed."""
    return QualityFlag(
        "excerpt",
        "warning",
        None,
        f"the recording lasts {_clock(duration_s)}; only its first {_clock(analysed_s)} "
        "were analysed, and every measurement describes that stretch",
    )


def _clock(seconds: float) -> str:
    h, rest = divmod(int(round(seconds)), 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} h {m:02d} min {s:02d} s"
    return f"{m} min {s:02d} s" if m else f"{seconds:g} s"


def assess(
    record: Record, notch_hz: float | None = 50.0, filtered: tuple[np.ndarray, float] | None = None
) -> list[QualityFlag]:
    """All quality flags for ``record``; ``notch_hz`` is the mains frequency the chain removes.

    ``filtered``: the record already passed through the preprocessing filters, as
    ``(signal[lead, sample] in mV, fs)``, when the caller has it (`hearteye.analyze` does),
    so the mains check reads it instead of filtering the record a second time.
    """
    flags: list[QualityFlag] = []
    if record.recording_duration - record.duration > 1.0 / record.fs:
        flags.append(excerpt_flag(record.recording_duration, record.duration))
    if record.duration < MIN_DURATION_S:
        flags.append(
            QualityFlag(
                "too_short",
                "error",
                None,
                f"the recording lasts {record.duration:.2f} s; at least {MIN_DURATION_S:g} s are "
                "needed to measure a rhythm",
            )
        )
    for name, lead in zip(record.leads, record.signal, strict=True):
        flags.extend(_lead_flags(name, lead))
        if name in record.meta.uncalibrated_leads:
            flags.append(
                QualityFlag(
                    "uncalibrated",
                    "warning",
                    name,
                    f"lead {name} has no amplitude calibration in the file; it was read with the "
                    "default gain, so its voltages are not reliable (intervals are)",
                )
            )
    unusable = {f.lead for f in flags if f.code == "flat_lead" or f.severity == "error"}
    flags.extend(_amplitude_flags(record, unusable, filtered))
    flags.extend(_mains_flags(record, notch_hz, unusable, filtered))
    return flags


def _lead_flags(name: str, x: np.ndarray) -> list[QualityFlag]:
    flags = []
    finite = np.isfinite(x)
    n_bad = int(x.size - finite.sum())
    if n_bad:
        flags.append(
            QualityFlag(
                "non_finite",
                "warning" if n_bad < x.size else "error",
                name,
                f"lead {name}: {n_bad} of {x.size} samples are missing (NaN or infinite); "
                "they are treated as zero",
            )
        )
    values = x[finite]
    if values.size == 0:
        return flags
    ptp = float(values.max() - values.min())
    if ptp < FLAT_PTP_MV or float(values.std()) < FLAT_STD_MV:
        flags.append(
            QualityFlag(
                "flat_lead",
                "warning",
                name,
                f"lead {name} is flat ({ptp * 1000:.1f} uV peak to peak): electrode disconnected "
                "or lead not recorded; it is left out of measurements",
            )
        )
        return flags
    clipped = _clipped_fraction(values)
    if clipped >= CLIP_FRACTION:
        flags.append(
            QualityFlag(
                "clipping",
                "warning",
                name,
                f"lead {name}: {clipped:.1%} of samples sit at the amplifier's limit (saturation); "
                "amplitudes in this lead are underestimated",
            )
        )
    return flags


def _clipped_fraction(x: np.ndarray) -> float:
    """Share of samples in runs of >= CLIP_RUN equal samples at the lead's max or min, counting
    an extreme only when it is reached in at least CLIP_MIN_RUNS separate runs."""
    total = 0
    median = float(np.median(x))
    for extreme in (x.max(), x.min()):
        if abs(float(extreme) - median) < CLIP_MIN_OFFSET_MV:
            continue
        at = np.concatenate(([False], x == extreme, [False]))
        edges = np.flatnonzero(np.diff(at.astype(np.int8)))
        runs = edges[1::2] - edges[::2]
        long_runs = runs[runs >= CLIP_RUN]
        if long_runs.size >= CLIP_MIN_RUNS:
            total += int(long_runs.sum())
    return total / x.size


def _amplitude_flags(
    record: Record, skip: set, filtered: tuple[np.ndarray, float] | None
) -> list[QualityFlag]:
    if filtered is not None:
        x = filtered[0]
    else:  # without the filtered copy, removing each lead's median takes out a DC offset
        x = np.nan_to_num(record.signal - np.nanmedian(record.signal, axis=-1, keepdims=True))
    if x.shape[-1] == 0:
        return []
    level = np.percentile(np.abs(x), 99.9, axis=-1)
    return [
        QualityFlag(
            "implausible_amplitude",
            "error",
            name,
            f"lead {name} reaches {v:.3g} mV, beyond any surface ECG (a few mV): the file's gain "
            "or unit is probably wrong, so this lead's amplitudes, axes and voltage criteria are "
            "meaningless",
        )
        for name, v in zip(record.leads, level, strict=True)
        if v > IMPLAUSIBLE_MV and name not in skip
    ]


def _mains_flags(
    record: Record, notch_hz: float | None, skip: set, filtered: tuple[np.ndarray, float] | None
) -> list[QualityFlag]:
    """Residual mains interference after the chain's own filtering (what the model will see)."""
    if filtered is not None:
        x, fs = filtered
    else:
        fs = record.fs
        config = PreprocessConfig(notch_hz=notch_hz, target_fs=None, zscore=False)
        chain = chain_filter(float(fs), config)
        x = np.nan_to_num(record.signal.astype(np.float64))
        x = chain(x) if chain is not None else x
    if record.duration < MIN_DURATION_S or fs < 130:  # 60 Hz +- 1 needs Nyquist above 61 Hz
        return []
    nperseg = int(min(x.shape[-1], 4 * fs))  # 0.25 Hz bins
    freqs, psd = sps.welch(x, fs=fs, nperseg=nperseg, axis=-1)
    band = (freqs >= 1.0) & (freqs <= 40.0)
    ecg_power = psd[:, band].sum(axis=-1)
    flags = []
    for mains in (50.0, 60.0):
        near = np.abs(freqs - mains) <= 1.0
        ratio = psd[:, near].sum(axis=-1) / np.maximum(ecg_power, 1e-20)
        for name, r in zip(record.leads, ratio, strict=True):
            if r > MAINS_RATIO and name not in skip:
                flags.append(
                    QualityFlag(
                        "mains_noise",
                        "warning",
                        name,
                        f"lead {name}: {mains:g} Hz mains interference remains after filtering "
                        f"({r:.0%} of the ECG band power); check the notch setting "
                        f"(now {notch_hz or 'off'}) and the electrode contact",
                    )
                )
    return flags
