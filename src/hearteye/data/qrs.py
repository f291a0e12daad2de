"""A small, robust multi-lead QRS detector, used to place machine-measured beats.

QRS complexes are the steepest part of every lead at once, so the sum over leads of the
squared first difference, smoothed over ~QRS width, peaks once per beat near the middle of
the QRS. T waves and P waves are slow and contribute little. This is the Pan-Tompkins idea
without its adaptive thresholds: the records here are short (10 s) resting ECGs, where a
single threshold relative to the record's own strong beats suffices (checked against LUDB's
annotated QRS peaks in the tests). neurokit2 is better on ambulatory noise but is not a
runtime dependency of HeartEye.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

SMOOTH_S = 0.08  # moving-average length, about one QRS width
REFRACTORY_S = 0.25  # no two QRS closer than this (240 bpm)
THRESHOLD = 0.3  # fraction of the strong-beat envelope level


def qrs_envelope(signal: np.ndarray, fs: float, flat: np.ndarray | None = None) -> np.ndarray:
    """Energy envelope [sample] of ``signal [lead, sample]``; flat leads left out."""
    x = np.asarray(signal, dtype=np.float32)
    if flat is not None and not np.all(flat):
        x = x[~np.asarray(flat, dtype=bool)]
    d = np.diff(x, axis=1, prepend=x[:, :1])
    energy = np.einsum("ls,ls->s", d, d)  # sum over leads of squared slope
    width = max(int(round(SMOOTH_S * fs)), 1)
    kernel = np.full(width, 1.0 / width, dtype=np.float32)
    return np.convolve(energy, kernel, mode="same")


def detect_qrs(signal: np.ndarray, fs: float, flat: np.ndarray | None = None) -> np.ndarray:
    """Sample indices (int64) of QRS centres in ``signal [lead, sample]`` sampled at ``fs``."""
    env = qrs_envelope(signal, fs, flat)
    if env.size == 0:
        return np.zeros(0, dtype=np.int64)
    # The 98th percentile sits on the QRS plateaus whatever the heart rate (QRS energy fills
    # >= ~3% of a resting ECG); a single huge artefact cannot raise it.
    level = float(np.percentile(env, 98))
    if level <= 0:
        return np.zeros(0, dtype=np.int64)
    peaks, _ = find_peaks(
        env, height=THRESHOLD * level, distance=max(int(round(REFRACTORY_S * fs)), 1)
    )
    return peaks.astype(np.int64)
