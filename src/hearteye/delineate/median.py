"""Median (representative) beats per lead, aligned on the QRS, and their delineation.

What the resting-ECG programs (GE 12SL, Philips DXL) measure on: one beat per lead that
averages out noise and beat-to-beat jitter. Rules, and why:

* **Which beats**: the dominant ones (type ``"normal"``, `hearteye.delineate.beats`); ectopic,
  paced and unclassifiable beats would blend another morphology into the median. Beats whose
  window runs past the record's edge are left out.
* **Alignment**: on each beat's global QRS peak (the largest spatial QRS vector,
  `hearteye.delineate.points`), the same instant in every lead, so the leads of a median beat
  stay simultaneous (global onsets and offsets across leads remain measurable).
* **Window**: ``WINDOW_S`` (-0.40 s .. +0.70 s) around the peak, where the P wave of a long PR
  and the T end of a long QT fit, but never more than ``RR_SHARE`` (45 % before, 65 % after)
  of the record's median RR: one beat, not the neighbours' T and P waves (at 100 bpm a fixed
  1.1 s window holds two beats, and the model then merges the previous T into this P).
* **Median, not mean**: sample-wise per lead, so one noisy beat cannot shift it. Of a long
  record's many beats, ``MAX_BEATS`` evenly spread over it (memory stays bounded).
* **Delineation**: the model runs on the median beats (the z-scored copy, edge-padded on both
  sides) like on any record; the beat covering the alignment point is the representative beat,
  its global boundaries the global intervals "from the median beat".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hearteye.chunks import SignalChunks
from hearteye.delineate.points import global_points
from hearteye.delineate.postprocess import global_beats

WINDOW_S = (-0.40, 0.70)
RR_SHARE = (0.45, 0.65)
PAD_S = 0.5  # edge padding on each side before the model sees a median beat
MIN_BEATS = 3  # fewer dominant beats than this: no median beat
MAX_BEATS = 240  # more (a Holter's ~100,000): an evenly spaced subset of this many


@dataclass(frozen=True)
class MedianBeats:
    fs: float
    signal: np.ndarray  # [lead, sample] the median beats (same scaling as the input)
    fiducial: int  # sample of the alignment point (QRS peak) in ``signal``
    n_beats: int  # how many beats were averaged


def median_windows(beats, types, fs: float, n: int) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The samples a median beat is taken over, for a record of ``n`` samples: the chosen
    dominant beats' alignment points and the window's offsets around them (module rules),
    and the alignment point's sample in a window; None with fewer than ``MIN_BEATS``."""
    onsets = np.array([bt.qrs_onset for bt in beats if bt.qrs_onset is not None], float)
    rr = float(np.median(np.diff(onsets))) / fs if onsets.size > 1 else np.inf
    a = int(round(max(WINDOW_S[0], -RR_SHARE[0] * rr) * fs))
    b = int(round(min(WINDOW_S[1], RR_SHARE[1] * rr) * fs))
    centres = [
        int(bt.qrs_peak)
        for bt, t in zip(beats, types, strict=True)
        if t == "normal"
        and bt.qrs_peak is not None
        and bt.qrs_peak + a >= 0
        and bt.qrs_peak + b < n
    ]
    if len(centres) < MIN_BEATS:
        return None
    if len(centres) > MAX_BEATS:
        centres = [centres[i] for i in np.linspace(0, len(centres) - 1, MAX_BEATS).astype(int)]
    return np.asarray(centres), np.arange(a, b + 1), -a


def median_of(block: np.ndarray, fs: float, fiducial: int) -> MedianBeats:
    """The median beats of a ``[lead, beat, sample]`` block of `median_windows`."""
    med = np.median(block, axis=1).astype(np.float32)  # [lead, window]
    return MedianBeats(fs=fs, signal=med, fiducial=fiducial, n_beats=block.shape[1])


def median_beats(x: np.ndarray | SignalChunks, beats, types, fs: float) -> MedianBeats | None:
    """Median beats of ``x[lead, sample]`` (or of a record too long to hold, as
    `hearteye.chunks.SignalChunks`: its display copy) over the dominant beats."""
    samples = SignalChunks.wrap(x, fs)
    chosen = median_windows(beats, types, fs, samples.n)
    if chosen is None:
        return None
    centres, offsets, fiducial = chosen
    return median_of(samples.take(centres, offsets), fs, fiducial)


def delineate_median(delineator, med_z: MedianBeats, flat=None):
    """The global `Beat` (with its points) of the median beats (z-scored copy) that covers
    the alignment point, in samples of the median beat, or None."""
    pad = int(round(PAD_S * med_z.fs))
    x = np.pad(med_z.signal, ((0, 0), (pad, pad)), mode="edge")
    usable = np.ones(len(x), bool) if flat is None else ~np.asarray(flat, bool)
    if not usable.any():
        return None
    prob = delineator.probabilities(x)
    for beat in global_beats(prob, med_z.fs, usable):
        if beat.qrs_onset is None or beat.qrs_offset is None:
            continue
        if beat.qrs_onset - pad <= med_z.fiducial <= beat.qrs_offset - pad:
            return global_points(x[usable], beat, med_z.fs).shifted(-pad)
    return None
