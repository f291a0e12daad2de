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

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import signal as sps

from hearteye.chunks import SignalChunks, merge_moments
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
BLOCK = 1 << 20  # samples of one lead the lead checks read at a time


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
    record: Record,
    notch_hz: float | None = 50.0,
    filtered: SignalChunks | tuple[np.ndarray, float] | None = None,
) -> list[QualityFlag]:
    """All quality flags for ``record``; ``notch_hz`` is the mains frequency the chain removes.

    ``filtered``: the record already passed through the preprocessing filters, when the
    caller has it (`hearteye.analyze` does): its display copy as `hearteye.chunks.SignalChunks`
    (a long record is read in one pass over its chunks) or as ``(signal[lead, sample] in mV,
    fs)``, so the amplitude and mains checks read it instead of filtering the record again.
    """
    if isinstance(filtered, tuple):
        filtered = SignalChunks.of_display(filtered[0], filtered[1], record.leads)
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
    if filtered is None:
        level, spectrum = _unfiltered_levels(record, notch_hz)
    else:
        level, spectrum = _filtered_levels(filtered)
    flags.extend(_amplitude_flags(record, unusable, level))
    flags.extend(_mains_flags(record, notch_hz, unusable, spectrum))
    return flags


def _lead_flags(name: str, x: np.ndarray) -> list[QualityFlag]:
    flags = []
    n, high, low = _count_and_range(x)
    n_bad = x.size - n
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
    if n == 0:
        return flags
    ptp = float(high - low)
    if ptp < FLAT_PTP_MV or _std(x) < FLAT_STD_MV:
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
    clipped = _clipped_fraction(x, n, high, low)
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


def _finite_blocks(x: np.ndarray):
    """The finite samples of one lead, ``BLOCK`` at a time (a lead held whole is one block):
    what the lead checks read, so a 24 h lead is never copied whole."""
    for a in range(0, max(x.size, 1), BLOCK):
        v = x[a : a + BLOCK]
        finite = np.isfinite(v)
        yield v if finite.all() else v[finite]


def _count_and_range(x: np.ndarray):
    """How many finite samples one lead has, and their largest and smallest (None when none),
    in one pass over its blocks."""
    n, high, low = 0, None, None
    for v in _finite_blocks(x):
        if v.size:
            n += v.size
            high = v.max() if high is None else max(high, v.max())
            low = v.min() if low is None else min(low, v.min())
    return n, high, low


def _std(x: np.ndarray) -> float:
    """Standard deviation of the finite samples (numpy's on one block; of more, the blocks'
    moments combined exactly, Chan et al. 1979)."""
    blocks = [v for v in _finite_blocks(x) if v.size] if x.size <= BLOCK else None
    if blocks is not None:
        return float(blocks[0].std()) if blocks else float("nan")
    acc = (0, 0.0, 0.0)
    for v in _finite_blocks(x):
        if v.size:
            mk = float(v.mean(dtype=np.float64))
            acc = merge_moments(acc, v.size, mk, float(((v - mk) ** 2).sum(dtype=np.float64)))
    count, _, m2 = acc
    return math.sqrt(m2 / count)


def _median(x: np.ndarray, n: int) -> float:
    """Median of the ``n`` finite samples of float32 ``x``: numpy's on one block; of more,
    the same order statistics found by a radix selection over the blocks (two passes of
    16-bit histograms of the samples' ordered bit patterns), without sorting a copy."""
    if x.size <= BLOCK:
        return float(np.median(next(_finite_blocks(x))))
    ranks = (n // 2,) if n % 2 else (n // 2 - 1, n // 2)
    values = [_order_statistic(x, r) for r in ranks]
    return float(np.mean(np.array(values, dtype=np.float32)))


def _sort_key(v: np.ndarray) -> np.ndarray:
    """float32 -> uint32 ordered as the floats are."""
    u = np.ascontiguousarray(v, dtype=np.float32).view(np.uint32)
    return np.where(u & np.uint32(0x80000000), ~u, u | np.uint32(0x80000000))


def _order_statistic(x: np.ndarray, rank: int) -> np.float32:
    """The finite sample of ``x`` at ``rank`` (0: the smallest) in sorted order."""
    top = np.zeros(1 << 16, np.int64)
    for v in _finite_blocks(x):
        top += np.bincount(_sort_key(v) >> 16, minlength=1 << 16)
    cum = np.cumsum(top)
    hi = int(np.searchsorted(cum, rank, side="right"))
    below = int(cum[hi - 1]) if hi else 0
    low = np.zeros(1 << 16, np.int64)
    for v in _finite_blocks(x):
        k = _sort_key(v)
        low += np.bincount(k[(k >> 16) == hi] & 0xFFFF, minlength=1 << 16)
    lo = int(np.searchsorted(np.cumsum(low), rank - below, side="right"))
    key = np.array([(hi << 16) | lo], np.uint32)
    bits = np.where(key & np.uint32(0x80000000), key & np.uint32(0x7FFFFFFF), ~key)
    return bits.view(np.float32)[0]


def _extreme_runs(x: np.ndarray, extreme) -> np.ndarray:
    """Lengths of the runs of finite samples equal to ``extreme`` at least ``CLIP_RUN`` long
    (runs carried across block borders)."""
    out, carry = [], 0
    for v in _finite_blocks(x):
        at = v == extreme
        edges = np.flatnonzero(np.diff(np.concatenate(([False], at, [False])).astype(np.int8)))
        starts, runs = edges[::2], edges[1::2] - edges[::2]
        if runs.size and starts[0] == 0:
            runs[0] += carry
        elif carry:
            runs = np.concatenate(([carry], runs))
        carry = 0
        if at.size and at[-1]:
            carry, runs = int(runs[-1]), runs[:-1]
        out.append(runs[runs >= CLIP_RUN])
    out.append(np.array([carry] if carry >= CLIP_RUN else [], np.int64))
    return np.concatenate(out)


def _clipped_fraction(x: np.ndarray, n: int, high, low) -> float:
    """Share of samples in runs of >= CLIP_RUN equal samples at the lead's max or min, counting
    an extreme only when it is reached in at least CLIP_MIN_RUNS separate runs (``n`` finite
    samples, largest ``high``, smallest ``low``)."""
    total = 0
    median = _median(x, n)
    for extreme in (high, low):
        if abs(float(extreme) - median) < CLIP_MIN_OFFSET_MV:
            continue
        long_runs = _extreme_runs(x, extreme)
        if long_runs.size >= CLIP_MIN_RUNS:
            total += int(long_runs.sum())
    return total / n


def _unfiltered_levels(record: Record, notch_hz: float | None):
    """`_filtered_levels` of a record filtered here: at its own rate, by the analysis chain
    without resampling; the amplitude level from the record less each lead's median (which
    takes out a DC offset)."""
    x = np.nan_to_num(record.signal - np.nanmedian(record.signal, axis=-1, keepdims=True))
    level = np.percentile(np.abs(x), 99.9, axis=-1) if x.shape[-1] else None
    if record.duration < MIN_DURATION_S or record.fs < 130:
        return level, None
    config = PreprocessConfig(notch_hz=notch_hz, target_fs=None, zscore=False)
    chain = chain_filter(float(record.fs), config)
    y = np.nan_to_num(record.signal.astype(np.float64))
    y = chain(y) if chain is not None else y
    return level, _welch(y, float(record.fs), y.shape[-1])


def _filtered_levels(sc: SignalChunks):
    """From the filtered display copy, per lead: the 99.9th percentile of |x| (None for an
    empty record) and the Welch spectrum ``(freqs, psd)`` (None below 2 s or 130 Hz), in
    one pass. Of a streamed record, the percentile is the same order statistic, taken from
    the largest values of each chunk, and the spectrum the mean of the same segments' spectra
    (segments placed on the whole record's grid, each inside one chunk)."""
    n, fs = sc.n, sc.fs
    spectral = n / fs >= MIN_DURATION_S and fs >= 130
    if sc.is_held:
        x = next(sc.chunks()).display
        level = np.percentile(np.abs(x), 99.9, axis=-1) if n else None
        return level, _welch(x, fs, n) if spectral else None
    rank = 0.999 * (n - 1)
    keep = n - int(math.floor(rank))  # the order statistics at and above the percentile
    top = np.zeros((len(sc.leads), 0), np.float32)
    nperseg = int(min(n, 4 * fs))
    step = nperseg - nperseg // 2
    total, count = None, 0
    for chunk in sc.chunks():
        own = np.abs(chunk.display[:, chunk.lo : chunk.hi])
        both = np.concatenate([top, own], axis=1)
        top = (
            np.partition(both, both.shape[1] - keep, axis=1)[:, -keep:]
            if both.shape[1] > keep
            else both
        )
        if spectral:
            freqs, psd, k = _chunk_welch(chunk, fs, n, nperseg, step)
            if k:
                total = psd * k if total is None else total + psd * k
                count += k
    top.sort(axis=1)
    frac = rank - math.floor(rank)
    a, b = top[:, 0].astype(np.float64), top[:, min(1, keep - 1)].astype(np.float64)
    level = a + (b - a) * frac
    return level, (freqs, total / count) if spectral and count else None


def _welch(x: np.ndarray, fs: float, n: int):
    nperseg = int(min(n, 4 * fs))  # 0.25 Hz bins
    return sps.welch(x, fs=fs, nperseg=nperseg, axis=-1)


def _chunk_welch(chunk, fs: float, n: int, nperseg: int, step: int):
    """Welch's mean over the segments of the whole record's grid (starts every ``step``)
    that start in the chunk's own part, with their count."""
    g0, g1 = chunk.start + chunk.lo, chunk.start + chunk.hi
    first = -(-g0 // step) * step
    last = min((g1 - 1) // step * step, n - nperseg)
    if last < first:
        return None, None, 0
    k = (last - first) // step + 1
    seg = chunk.display[:, first - chunk.start : last + nperseg - chunk.start]
    freqs, psd = sps.welch(seg, fs=fs, nperseg=nperseg, noverlap=nperseg - step, axis=-1)
    return freqs, psd, k


def _amplitude_flags(record: Record, skip: set, level: np.ndarray | None) -> list[QualityFlag]:
    if level is None:
        return []
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


def _mains_flags(record: Record, notch_hz: float | None, skip: set, spectrum) -> list[QualityFlag]:
    """Residual mains interference after the chain's own filtering (what the model will see)."""
    if spectrum is None or record.duration < MIN_DURATION_S:
        return []
    freqs, psd = spectrum
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
