"""What other devices and real wards do to an ECG, as array operations (numpy + scipy).

Used twice: by the robustness evaluation (`hearteye.train.robustness`, fixed seeds) and by
the delineator's training augmentation (`hearteye.train.train_delineator`, random draws).
Every function works on ``x[..., sample]`` and returns a new float array of the same shape.

* **Sampling rate**: `resample_round_trip` records the signal at another rate with
  `scipy.signal.resample_poly` (its Kaiser-windowed FIR is the anti-alias filter a digital
  decimator applies) and brings it back, so the labels stay on the 500 Hz grid.
* **Front-end band limits**: `band_limit` applies a device's pass band: a causal
  single-pole high-pass (the AC coupling of ambulatory and monitor front ends, which bends
  the ST-T segment) and/or a Butterworth low-pass (monitor 40 Hz, diagnostic 100-150 Hz).
* **Noise**: no noise database (MIT-BIH NST) is staged here, so the three noise types of
  Moody, Muldrow and Mark (1984, "A noise stress test for arrhythmia detectors") are
  synthesised from their documented spectra, each from Gaussian noise:
  - ``bw`` baseline wander: respiration (a 0.12-0.5 Hz sinusoid) plus a random walk
    low-passed at 0.5 Hz (body movement, electrode drift);
  - ``em`` electrode motion: noise band-passed to 0.5-12 Hz, i.e. inside the band of the P
    and T waves (why it is the hardest type), gated by bursts of 0.3-3 s;
  - ``ma`` muscle: noise band-passed to 15-150 Hz (surface EMG), amplitude-modulated at
    0.3-2 Hz (contractions).
  A synthetic spectrum is not a real recording: these figures rank models, they do not
  replace a measurement on real noise.
* **SNR** follows the NST convention: signal power = (QRS peak-to-peak)^2 / 8, noise power
  = the noise's mean square. The QRS peak-to-peak is estimated without annotations as the
  median over 2-s blocks of the block's range (each block holds a QRS at any rate above
  30 bpm), per lead, so it works on training crops as on records.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.signal as sps

NOISE_TYPES = ("bw", "em", "ma")
_PP_BLOCK_S = 2.0


def resample_round_trip(x: np.ndarray, fs: float, device_fs: float) -> np.ndarray:
    """``x`` (at ``fs``) as recorded at ``device_fs`` and resampled back to ``fs``."""
    down = record_at(x, fs, device_fs)
    up, dn = _ratio(device_fs, fs)
    back = sps.resample_poly(down, up, dn, axis=-1)
    n = x.shape[-1]
    if back.shape[-1] < n:
        back = np.pad(back, [(0, 0)] * (x.ndim - 1) + [(0, n - back.shape[-1])], mode="edge")
    return back[..., :n]


def record_at(x: np.ndarray, fs: float, device_fs: float) -> np.ndarray:
    """``x`` (at ``fs``) resampled to ``device_fs`` (what a device at that rate stores)."""
    up, dn = _ratio(fs, device_fs)
    return sps.resample_poly(np.asarray(x, np.float64), up, dn, axis=-1)


def _ratio(fs_from: float, fs_to: float) -> tuple[int, int]:
    from fractions import Fraction

    f = Fraction(round(fs_to * 100), round(fs_from * 100)).limit_denominator(1000)
    return f.numerator, f.denominator


@lru_cache(maxsize=64)
def _lowpass_sos(fs: float, high_hz: float, order: int) -> np.ndarray:
    return sps.butter(order, high_hz, btype="lowpass", fs=fs, output="sos")


@lru_cache(maxsize=64)
def _band_sos(fs: float, low_hz: float, high_hz: float, order: int) -> np.ndarray:
    high_hz = min(high_hz, 0.45 * fs)
    return sps.butter(order, (low_hz, high_hz), btype="bandpass", fs=fs, output="sos")


def band_limit(
    x: np.ndarray,
    fs: float,
    low_hz: float | None = None,
    high_hz: float | None = None,
    order: int = 2,
) -> np.ndarray:
    """A device's pass band: causal single-pole high-pass at ``low_hz`` (AC coupling), then a
    zero-phase Butterworth low-pass at ``high_hz`` (a linear-phase digital filter)."""
    y = np.asarray(x, np.float64)
    if low_hz is not None:
        a = np.exp(-2 * np.pi * low_hz / fs)
        # y[n] = a (y[n-1] + x[n] - x[n-1]): the RC high-pass, started at the first sample.
        y = sps.lfilter([1.0, -1.0], [1.0, -a], y - y[..., :1], axis=-1) * (1 + a) / 2
    if high_hz is not None and high_hz < 0.45 * fs:
        y = sps.sosfiltfilt(_lowpass_sos(float(fs), float(high_hz), order), y, axis=-1)
    return y


def qrs_peak_to_peak(x: np.ndarray, fs: float) -> np.ndarray:
    """Per-row QRS peak-to-peak estimate: median over 2-s blocks of the block's range."""
    x = np.asarray(x, np.float64)
    block = int(_PP_BLOCK_S * fs)
    n_blocks = max(1, x.shape[-1] // block)
    if x.shape[-1] < block:
        return np.ptp(x, axis=-1)
    xb = x[..., : n_blocks * block].reshape(*x.shape[:-1], n_blocks, block)
    return np.median(np.ptp(xb, axis=-1), axis=-1)


def noise(kind: str, shape: tuple[int, ...], fs: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-power (mean square 1) noise of one NST type, independent per row."""
    n = shape[-1]
    t = np.arange(n) / fs
    rows = shape[:-1]
    if kind == "bw":
        f = rng.uniform(0.12, 0.5, size=rows + (1,))
        ph = rng.uniform(0, 2 * np.pi, size=rows + (1,))
        resp = np.sin(2 * np.pi * f * t + ph)
        walk = np.cumsum(rng.normal(size=shape), axis=-1)
        walk = sps.sosfiltfilt(_lowpass_sos(float(fs), 0.5, 2), walk, axis=-1)
        walk = walk - walk.mean(axis=-1, keepdims=True)
        walk /= np.sqrt((walk**2).mean(axis=-1, keepdims=True)) + 1e-12
        mix = rng.uniform(0.3, 0.7, size=rows + (1,))
        y = mix * resp * np.sqrt(2) + (1 - mix) * walk
    elif kind == "em":
        y = sps.sosfiltfilt(_band_sos(float(fs), 0.5, 12.0, 2), rng.normal(size=shape), axis=-1)
        y = y * _bursts(shape, fs, rng)
    elif kind == "ma":
        y = sps.sosfiltfilt(_band_sos(float(fs), 15.0, 150.0, 2), rng.normal(size=shape), axis=-1)
        f = rng.uniform(0.3, 2.0, size=rows + (1,))
        ph = rng.uniform(0, 2 * np.pi, size=rows + (1,))
        y = y * (1.0 + 0.8 * np.sin(2 * np.pi * f * t + ph))
    else:
        raise ValueError(f"noise kind must be one of {NOISE_TYPES}, got {kind!r}")
    y = y - y.mean(axis=-1, keepdims=True)
    return y / (np.sqrt((y**2).mean(axis=-1, keepdims=True)) + 1e-12)


def _bursts(shape: tuple[int, ...], fs: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth 0..1 gate: bursts of 0.3-3 s covering about half of the time."""
    n = shape[-1]
    gate = np.zeros(shape)
    flat = gate.reshape(-1, n)
    for row in flat:
        pos = int(rng.uniform(-1.5, 1.0) * fs)
        while pos < n:
            length = int(rng.uniform(0.3, 3.0) * fs)
            row[max(pos, 0) : max(pos + length, 0)] = 1.0
            pos += length + int(rng.uniform(0.3, 3.0) * fs)
    win = max(3, int(0.1 * fs))
    kernel = np.hanning(win)
    kernel /= kernel.sum()
    flat[:] = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), -1, flat)
    return 0.15 + gate


def add_noise(
    x: np.ndarray,
    fs: float,
    snr_db: float,
    rng: np.random.Generator,
    kinds: tuple[str, ...] = NOISE_TYPES,
    weights: tuple[float, ...] | None = None,
) -> np.ndarray:
    """``x`` plus a mix of NST-type noises at ``snr_db`` (NST convention, per row).

    ``weights`` share the noise power between ``kinds`` (equal by default).
    """
    x = np.asarray(x, np.float64)
    w = np.ones(len(kinds)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    total = np.zeros_like(x)
    for kind, share in zip(kinds, w, strict=True):
        if share > 0:
            total += np.sqrt(share) * noise(kind, x.shape, fs, rng)
    total /= np.sqrt((total**2).mean(axis=-1, keepdims=True)) + 1e-12
    signal_power = qrs_peak_to_peak(x, fs) ** 2 / 8.0
    noise_sd = np.sqrt(signal_power / 10 ** (snr_db / 10.0))
    return x + total * noise_sd[..., None]


def measured_snr_db(clean: np.ndarray, noisy: np.ndarray, fs: float) -> np.ndarray:
    """The NST SNR of ``noisy`` against ``clean`` (per row)."""
    clean = np.asarray(clean, np.float64)
    n = np.asarray(noisy, np.float64) - clean
    n = n - n.mean(axis=-1, keepdims=True)
    return 10 * np.log10((qrs_peak_to_peak(clean, fs) ** 2 / 8.0) / (n**2).mean(axis=-1))
