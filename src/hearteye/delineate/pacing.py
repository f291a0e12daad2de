"""Pacemaker spikes, found on the signal as recorded (before any band-pass), and what they capture.

A pacing stimulus is a pulse of 0.5-2 ms. Band-pass filtering (and the model's 500 Hz copy)
smears it into the QRS or P wave, so spikes are looked for on the record's own samples:

* **Detector**: per lead, the residue of the signal after a running median over
  ``MEDIAN_S`` (9 ms): waves (the narrowest QRS lasts ~60 ms) pass the median and cancel,
  a pulse of a few ms does not. A spike is a sample where at least ``AGREEING`` leads (all of
  them on records with fewer) have a residue of ``MIN_MV`` or more: a stimulus is seen in
  nearly every lead at the same instant, while a sharp R peak or a muscle twitch is not.
  Samples closer than ``REFRACTORY_S`` form one spike, timed at its largest residue.
  Measured on real PTB-XL 500 Hz records (tests/test_pacing.py): the paced ones show 0.5-0.9
  mV at the fourth-strongest lead, 60 unpaced ones at most 0.31 mV.
* **Weak spikes**: many carts store spikes smaller than that. In LUDB (500 Hz) the fourth-
  strongest lead shows 0.2-0.35 mV in 6 of the 10 paced records, below ``MIN_MV``, while
  sharp R peaks and notches of unpaced records reach 0.27 mV. A residue from ``WEAK_MV``
  (0.15 mV) up is therefore a spike only in a **train**: when it captures (below) and the
  record holds at least ``MIN_TRAIN`` capturing spikes, and as many as ``TRAIN_SHARE`` of
  its QRS complexes (one per paced beat, as a pacemaker makes them; over a 24 h record a
  few chance residues near a QRS onset are no train). Measured with `hearteye analyze` on
  all of LUDB and PTB-XL's 449 500 Hz records: 40 of the 635 unpaced records show a residue
  of 0.15 mV somewhere, 5 of them one that "captures", none two or more; 8 of the 10 paced
  LUDB records and all 4 paced PTB-XL records show a train (LUDB 90, bipolar pacing: 2
  spikes; LUDB 111: none, the cart removed them).
* **Sampling rate**: a 0.5 ms pulse covers a single sample only at 2 kHz; at 500 Hz (2 ms per
  sample) it is seen only as far as the device's anti-alias filter spreads it over 1-3
  samples, and many carts remove spikes before storage (then nothing here can find them:
  CPSC's paced record Q0398 has none left). Below ``MIN_FS`` (500 Hz) a spike is averaged
  away within one sample and the detector is not run: the result says so
  (``assessed: False``) rather than reporting "no pacing".
* **Capture**: a spike followed within ``CAPTURE_S`` by a QRS onset (or up to ``LEAD_S``, 30 ms,
  after it: the band-passed spike itself opens the delineated QRS of a paced beat)
  captures the ventricles; followed by a P onset, or by a QRS only ``AV_DELAY_S`` later
  (the atrially paced P is often too small to delineate), the atria; otherwise no capture is
  visible (``"none"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

MEDIAN_S = 0.009
MIN_MV = 0.35
WEAK_MV = 0.15  # a spike only in a train of capturing spikes (module rules)
MIN_TRAIN = 3
TRAIN_SHARE = 0.25  # ... and at least this share of the QRS complexes (a long record)
AGREEING = 4
REFRACTORY_S = 0.010
MIN_FS = 500.0
CAPTURE_S = 0.060
LEAD_S = 0.030  # a spike up to 30 ms after the QRS onset: the filtered spike starts the QRS
AV_DELAY_S = (0.080, 0.350)
BLOCK = 1 << 18  # samples per lead read at a time (524 s at 500 Hz)


@dataclass(frozen=True)
class Spike:
    time_s: float  # from the record start
    amplitude_mv: float  # largest residue over the leads
    capture: str  # "ventricular" | "atrial" | "none"

    def to_dict(self) -> dict:
        return {
            "time_s": round(self.time_s, 4),
            "amplitude_mv": round(self.amplitude_mv, 3),
            "capture": self.capture,
        }


@dataclass(frozen=True)
class Pacing:
    assessed: bool  # False: sampling rate too low to see spikes
    spikes: tuple[Spike, ...]
    reason: str | None = None  # why not assessed

    def to_dict(self) -> dict:
        return {
            "assessed": self.assessed,
            "reason": self.reason,
            "spikes": [s.to_dict() for s in self.spikes],
        }


def spike_times(
    signal: np.ndarray, fs: float, min_mv: float = MIN_MV
) -> tuple[np.ndarray, np.ndarray]:
    """Spike sample indices (at ``fs``) and amplitudes (mV) in ``signal[lead, sample]`` (mV):
    residues of ``min_mv`` or more in ``AGREEING`` leads (module rules)."""
    idx, amp, _ = _spikes(signal, fs, min_mv)
    return idx, amp


def _spikes(signal: np.ndarray, fs: float, min_mv: float):
    """(indices, largest residue over the leads, residue of the AGREEING-th lead).

    Read in blocks of ``BLOCK`` samples (each with half the running median's width of the
    record on both sides, so the residue is the whole record's): a 24 h record at 500 Hz or
    more is never copied whole."""
    signal = np.asarray(signal)
    empty = np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    if signal.ndim != 2 or signal.shape[1] < 3:
        return empty
    n = signal.shape[1]
    size = max(3, int(round(MEDIAN_S * fs)) | 1)
    half = size // 2
    found = [
        _block_candidates(signal, o, min(o + BLOCK, n), half, size, min_mv)
        for o in range(0, n, BLOCK)
    ]
    idx = np.concatenate([f[0] for f in found])
    if not idx.size:
        return empty
    kth = np.concatenate([f[1] for f in found])
    top = np.concatenate([f[2] for f in found])
    gap = max(1, int(round(REFRACTORY_S * fs)))
    groups = np.split(np.arange(idx.size), np.flatnonzero(np.diff(idx) > gap) + 1)
    best = np.array([g[np.argmax(kth[g])] for g in groups], np.int64)
    return idx[best], top[best].astype(np.float64), kth[best].astype(np.float64)


def _block_candidates(signal: np.ndarray, o0: int, o1: int, half: int, size: int, min_mv: float):
    """Samples of ``[o0, o1)`` where at least ``AGREEING`` leads show a residue of ``min_mv``:
    their indices, that ``AGREEING``-th largest residue, and the largest over the leads."""
    a, b = max(o0 - half, 0), min(o1 + half, signal.shape[1])
    x = np.nan_to_num(np.asarray(signal[:, a:b], dtype=np.float32))
    res = np.abs(x - median_filter(x, size=(1, size), mode="nearest"))[:, o0 - a : o1 - a]
    k = min(AGREEING, x.shape[0])
    kth = np.partition(res, x.shape[0] - k, axis=0)[x.shape[0] - k]
    at = np.flatnonzero(kth >= min_mv)
    return at + o0, kth[at], res[:, at].max(axis=0)


def _capture(t: float, qrs_on: np.ndarray, p_on: np.ndarray) -> str:
    def near(times: np.ndarray, lo: float, hi: float) -> bool:
        return bool(np.any((times >= t + lo) & (times <= t + hi)))

    if near(qrs_on, -LEAD_S, CAPTURE_S):
        return "ventricular"
    if near(p_on, -LEAD_S, CAPTURE_S) or near(qrs_on, *AV_DELAY_S):
        return "atrial"
    return "none"


def detect_pacing(signal: np.ndarray, fs: float, beats, beats_fs: float) -> Pacing:
    """Spikes of ``signal[lead, sample]`` (mV, as recorded, at ``fs``) with their capture,
    judged against ``beats`` (global `Beat`, samples at ``beats_fs``)."""
    if fs < MIN_FS:
        reason = f"sampling rate {fs:g} Hz is below {MIN_FS:g} Hz: pacing spikes cannot be seen"
        return Pacing(False, (), reason)
    idx, amp, kth = _spikes(signal, fs, WEAK_MV)
    qrs_on = np.array([b.qrs_onset / beats_fs for b in beats if b.qrs_onset is not None])
    p_on = np.array([b.p_onset / beats_fs for b in beats if b.p_onset is not None])
    found = [
        (Spike(float(i / fs), float(a), _capture(i / fs, qrs_on, p_on)), k >= MIN_MV)
        for i, a, k in zip(idx, amp, kth, strict=True)
    ]
    captured = sum(s.capture != "none" for s, _ in found)
    train = captured >= max(MIN_TRAIN, TRAIN_SHARE * len(qrs_on))
    spikes = tuple(s for s, strong in found if strong or (train and s.capture != "none"))
    return Pacing(True, spikes)


def _any_within(times: np.ndarray, t: float | None, lo: float, hi: float) -> bool:
    """Whether a sorted ``times`` has a value in ``[t - hi, t - lo]`` (a spike ``lo..hi``
    seconds before ``t``)."""
    if t is None or not times.size:
        return False
    i = np.searchsorted(times, t - hi, side="left")
    return bool(i < times.size and times[i] <= t - lo)


def paced_beats(pacing: Pacing, beats, beats_fs: float) -> list[bool]:
    """Per beat: whether a spike captured it (a ventricular spike just before its QRS, or an
    atrial one just before its P, or ``AV_DELAY_S`` before its QRS)."""
    times = {
        kind: np.array(sorted(s.time_s for s in pacing.spikes if s.capture == kind))
        for kind in ("ventricular", "atrial")
    }

    def sec(v):
        return None if v is None else v / beats_fs

    out = []
    for b in beats:
        q, p = sec(b.qrs_onset), sec(b.p_onset)
        paced = _any_within(times["ventricular"], q, -LEAD_S, CAPTURE_S)
        paced |= _any_within(times["atrial"], p, -LEAD_S, CAPTURE_S)
        if p is None:
            paced |= _any_within(times["atrial"], q, *AV_DELAY_S)
        out.append(bool(paced))
    return out
