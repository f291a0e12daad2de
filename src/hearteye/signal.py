"""Preprocessing: band-pass, mains notch, resampling to 500 Hz, per-lead z-score, 10 s windows.

Every step is a plain function on ``signal[lead, sample]`` arrays so it can be tested and
measured on its own; `preprocess` composes them in the order the training data was made with.

Why these defaults (see `PreprocessConfig`):

* **Band-pass 0.67-150 Hz.** 150 Hz is the AHA/IEC upper edge for adult diagnostic ECG, so QRS
  notches and onsets keep their shape. 0.67 Hz is the highest low edge the AHA (Kligfield 2007)
  allows for *zero-phase* filters: it removes respiration-driven baseline wander, which moves
  wave boundaries, without distorting the ST segment, because `sosfiltfilt` adds no phase shift.
  The original pipeline's 0.005 Hz left nearly all baseline wander in. The upper edge is
  clamped below Nyquist for low-rate input (a 250 Hz Holter gets ~112 Hz).
* **Notch 50 Hz** (Europe, where LUDB was recorded); 60 Hz for North American data (MIMIC-IV-ECG
  states "60 Hz notch" in its `filtering` column); ``None`` to skip.
* **Resampling by a polyphase FIR** (`scipy.signal.resample_poly`) with an exact rational ratio,
  so 533.33 Hz (1600/3) input becomes 500 Hz without the spectral leakage of FFT resampling on
  non-periodic records.
* **Z-score per lead**, with flat leads set to zero and flagged (no division by ~0).
* **Windows**: non-overlapping, 10 s; a tail shorter than one window is dropped (training wants
  fully labelled windows; inference in `hearteye.delineate` covers the whole record instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import signal as sps
from scipy.signal._arraytools import odd_ext

from hearteye.record import Record

TARGET_FS = 500.0
WINDOW_SECONDS = 10.0
# A lead whose standard deviation is below this (mV) carries no ECG: 5 uV is under the
# ADC resolution of most resting-ECG carts (LUDB: ~0.5-1.5 uV per step, so flat means flat).
FLAT_STD_MV = 5e-3
# Upper band edge never closer to Nyquist than this fraction: the Butterworth design needs room.
_MAX_EDGE_OF_NYQUIST = 0.9


@dataclass(frozen=True)
class PreprocessConfig:
    """Every parameter of the preprocessing chain; stored in training manifests."""

    low_hz: float | None = 0.67
    high_hz: float | None = 150.0
    order: int = 2  # Butterworth order per edge; zero-phase filtering doubles it in effect
    notch_hz: float | None = 50.0
    notch_q: float = 30.0
    target_fs: float | None = TARGET_FS
    zscore: bool = True

    def __post_init__(self) -> None:
        if self.notch_hz not in (None, 50.0, 60.0):
            raise ValueError(f"notch_hz must be 50, 60 or None, got {self.notch_hz}")
        if self.low_hz is not None and self.high_hz is not None and self.low_hz >= self.high_hz:
            raise ValueError(f"band-pass low edge {self.low_hz} must be below {self.high_hz}")
        if self.order < 1:
            raise ValueError("filter order must be >= 1")

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Preprocessed:
    """The output of `preprocess`: normalised samples plus what is needed to undo the scaling."""

    signal: np.ndarray  # float32 [lead, sample]; z-scored if config.zscore, else mV
    fs: float
    leads: tuple[str, ...]
    flat: np.ndarray  # bool per lead: no signal (set to zero instead of divided by ~0)
    mean: np.ndarray  # float32 per lead, mV, before z-scoring
    std: np.ndarray  # float32 per lead, mV, before z-scoring
    config: PreprocessConfig


def bandpass_sos(
    fs: float, low_hz: float | None, high_hz: float | None, order: int = 2
) -> np.ndarray | None:
    """Butterworth band-pass design in second-order sections; ``None`` when both edges are off.

    Either edge may be ``None`` (high-pass or low-pass only). The upper edge is clamped to
    0.9 x Nyquist so low-rate recordings still get a valid, stable filter.
    """
    nyquist = fs / 2.0
    high = None if high_hz is None else min(high_hz, _MAX_EDGE_OF_NYQUIST * nyquist)
    low = low_hz
    if low is not None and high is not None and low >= high:
        raise ValueError(f"band-pass {low}-{high} Hz is empty at {fs} Hz sampling")
    if low is not None and high is not None:
        return sps.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
    if low is not None:
        return sps.butter(order, low, btype="highpass", fs=fs, output="sos")
    if high is not None:
        return sps.butter(order, high, btype="lowpass", fs=fs, output="sos")
    return None


def notch_sos(fs: float, freq_hz: float = 50.0, q: float = 30.0) -> np.ndarray | None:
    """IIR notch at the mains frequency as one section; ``None`` when it lies above Nyquist."""
    if freq_hz >= fs / 2.0:
        return None
    b, a = sps.iirnotch(freq_hz, q, fs=fs)
    return sps.tf2sos(b, a)


def filter_sos(fs: float, config: PreprocessConfig) -> np.ndarray | None:
    """The whole filter chain of ``config`` at rate ``fs`` as one cascade (designed once per rate).

    Band-pass and notch run as a single zero-phase pass: one forward-backward sweep over the
    data instead of two, which halves the cost of the most expensive preprocessing step.
    """
    parts = [bandpass_sos(fs, config.low_hz, config.high_hz, config.order)]
    if config.notch_hz is not None:
        parts.append(notch_sos(fs, config.notch_hz, config.notch_q))
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return np.vstack(parts)


class ZeroPhaseFilter:
    """A second-order-section cascade run forward and backward (no phase shift).

    The same computation as `scipy.signal.sosfiltfilt` (odd extension, steady-state initial
    conditions), with the initial-condition solve done once per design instead of once per
    call: for a 10 s record that solve costs as much as the filtering itself.
    """

    def __init__(self, sos: np.ndarray):
        self.sos = np.array(sos, dtype=np.float64)
        self.zi = sps.sosfilt_zi(self.sos)  # (sections, 2)
        self.padlen = 3 * (2 * len(self.sos) + 1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter float64 ``x`` along the last axis; returns float64."""
        n = x.shape[-1]
        padlen = min(self.padlen, max(n - 1, 0))  # very short input cannot be padded as far
        ext = odd_ext(x, padlen, axis=-1) if padlen else x
        zi_shape = (len(self.sos),) + (1,) * (x.ndim - 1) + (2,)
        zi = self.zi.reshape(zi_shape)
        y, _ = sps.sosfilt(self.sos, ext, axis=-1, zi=zi * ext[..., :1])
        y = y[..., ::-1]
        y, _ = sps.sosfilt(self.sos, y, axis=-1, zi=zi * y[..., :1])
        y = y[..., ::-1]
        return y[..., padlen : padlen + n] if padlen else y


@lru_cache(maxsize=64)
def chain_filter(fs: float, config: PreprocessConfig) -> ZeroPhaseFilter | None:
    """The filter chain of ``config`` at rate ``fs``, designed once and reused."""
    sos = filter_sos(fs, config)
    return None if sos is None else ZeroPhaseFilter(sos)


def bandpass(
    x: np.ndarray, fs: float, low_hz: float | None, high_hz: float | None, order: int = 2
) -> np.ndarray:
    """Zero-phase Butterworth band-pass along the last axis (see `bandpass_sos`)."""
    return filtfilt(bandpass_sos(fs, low_hz, high_hz, order), x)


def notch(x: np.ndarray, fs: float, freq_hz: float = 50.0, q: float = 30.0) -> np.ndarray:
    """Zero-phase notch at the mains frequency along the last axis (see `notch_sos`)."""
    return filtfilt(notch_sos(fs, freq_hz, q), x)


def filtfilt(sos: np.ndarray | None, x: np.ndarray) -> np.ndarray:
    """Zero-phase filtering of ``x`` (any dtype) by ``sos``, computed in float64, as float32.

    float64 because the 0.67 Hz high-pass puts poles within 0.01 of the unit circle.
    """
    x = np.asarray(x, dtype=np.float64)
    return (x if sos is None else ZeroPhaseFilter(sos)(x)).astype(np.float32)


def rational_rate(fs: float) -> Fraction:
    """The sampling rate as the simplest fraction that rounds to it at 0.01 Hz.

    Headers print rates to two decimals: 533.33 Hz is really 1600/3 Hz (EDF stores 1600 samples
    per 3 s record), and treating it as 53333/100 would need a 10^4-tap polyphase filter.
    """
    for den in range(1, 101):
        num = round(fs * den)
        if num > 0 and abs(num / den - fs) <= 0.0051:
            return Fraction(num, den)
    return Fraction(fs).limit_denominator(10_000)


def resample_ratio(fs: float, target_fs: float) -> tuple[int, int]:
    """Smallest (up, down) with fs * up / down == target_fs exactly (533.33 -> 500 is 15/16)."""
    ratio = rational_rate(target_fs) / rational_rate(fs)
    return ratio.numerator, ratio.denominator


def resampled_length(n: int, fs: float, target_fs: float | None) -> int:
    """Samples that `preprocess` returns for ``n`` samples at ``fs``: ceil(n * up / down),
    the length `scipy.signal.resample_poly` gives."""
    if target_fs is None:
        return n
    up, down = resample_ratio(fs, target_fs)
    return n if up == down else -(-n * up // down)


def resample(x: np.ndarray, fs: float, target_fs: float = TARGET_FS) -> tuple[np.ndarray, float]:
    """Polyphase FIR resampling along the last axis. Returns the samples and the exact new rate."""
    up, down = resample_ratio(fs, target_fs)
    if up == down:
        return np.asarray(x, dtype=np.float32), float(fs)
    y = sps.resample_poly(np.asarray(x, dtype=np.float64), up, down, axis=-1)
    return y.astype(np.float32), float(rational_rate(fs) * up / down)


def zscore(x: np.ndarray, flat_std: float = FLAT_STD_MV):
    """Per-lead z-score of finite samples.

    Returns (normalised float32, mean, std, flat); flat leads become all zeros.
    """
    x = np.asarray(x)
    if x.shape[-1] == 0:
        mean = std = np.zeros(x.shape[:-1], np.float32)
    else:
        mean = x.mean(axis=-1, dtype=np.float64)
        std = x.std(axis=-1, dtype=np.float64)
    flat = ~(std > flat_std)  # NaN std (non-finite input) counts as flat
    safe_std = np.where(flat, 1.0, std)
    out = (x - mean[..., None]) / safe_std[..., None]
    out[flat] = 0.0
    return out.astype(np.float32), mean.astype(np.float32), std.astype(np.float32), flat


def windows(x: np.ndarray, fs: float, seconds: float = WINDOW_SECONDS):
    """Non-overlapping windows of ``seconds``: returns ([n, lead, sample] view, start samples).

    The tail shorter than one window is dropped; a record shorter than one window yields none.
    """
    size = int(round(seconds * fs))
    n = x.shape[-1] // size
    starts = np.arange(n, dtype=np.int64) * size
    stacked = x[..., : n * size].reshape(*x.shape[:-1], n, size)
    return np.moveaxis(stacked, -2, 0), starts


def preprocess(record: Record, config: PreprocessConfig = PreprocessConfig()) -> Preprocessed:
    """Filter at the recorded rate, resample to ``config.target_fs``, then z-score each lead.

    Filtering comes first so the notch and band edges act where the mains noise actually is,
    and the anti-alias filter of the resampler sees a clean signal. Non-finite samples are
    replaced by zero (the lead's quality flag reports them) so one dropout cannot turn the
    whole zero-phase filtered lead into NaN. The chain stays in float64 and is cast once.
    """
    x = record.signal.astype(np.float64)
    if not np.isfinite(x).all():  # the check is 5x cheaper than nan_to_num on clean data
        x = np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    fs = float(record.fs)
    chain = chain_filter(fs, config)
    if chain is not None:
        x = chain(x)
    if config.target_fs is not None:
        up, down = resample_ratio(fs, config.target_fs)
        if up != down:
            x = sps.resample_poly(x, up, down, axis=-1)
            fs = float(rational_rate(fs) * up / down)
    z, mean, std, flat = zscore(x)
    return Preprocessed(
        signal=z if config.zscore else x.astype(np.float32),
        fs=fs,
        leads=record.leads,
        flat=flat,
        mean=mean,
        std=std,
        config=config,
    )
