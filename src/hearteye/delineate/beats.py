"""Beat types from prematurity, QRS width and QRS shape against the record's dominant beat.

Input: the global beats (`hearteye.delineate.postprocess.Beat`, samples at ``fs``), the
band-passed signal ``x[lead, sample]`` at the same rate, and which beats a pacemaker spike
captured (`hearteye.delineate.pacing.paced_beats`). Output: one type per beat, in order:

* ``"paced"``: a pacing spike captured it (it is not measured as a native beat);
* ``"ventricular_premature"``: premature, and wide and unlike the dominant beat;
* ``"supraventricular_premature"``: premature, with the dominant beat's narrow shape;
* ``"normal"``: on time with the dominant shape;
* ``"unclassifiable"``: any other combination (a wide odd beat on time: escape, fusion or
  artefact; a premature beat of half-matching shape: aberrancy or noise), which a reader
  must look at rather than have guessed;
* ``None``: a P wave without QRS (a blocked P) is no ventricular beat to type.

Rules, and why:
* **Prematurity**: the coupling interval (from the previous QRS onset) is shorter than
  ``PREMATURE_RATIO`` (85 %) of the record's median RR: the usual Holter criterion, robust to
  sinus arrhythmia's few-percent swings. The first beat has no coupling interval and is never
  called premature. Prematurity presumes a regular underlying rhythm: in atrial fibrillation
  every short RR looks "premature", so a rhythm statement of AF must take precedence over the
  supraventricular-premature type (the types describe beats, not the rhythm).
* **Dominant beat**: the median of every beat's QRS window (``WINDOW_S`` around its global QRS
  peak, all usable leads), refined once on the beats that correlate with it by at least
  ``SAME_SHAPE_R``: in bigeminy the first median is a blend, the refined one the majority.
  Its QRS width is the median width of those beats. Of a record with more than
  ``MAX_TEMPLATE_BEATS`` (2,000: a 300 s record at 400 bpm) beats, the median is taken
  over that many spread evenly over it (a Holter's ~100,000 windows would take 160 MB),
  and every beat is then compared with it.
* **Shape**: Pearson correlation of the beat's window with the dominant one over all leads
  at once. ``SAME_SHAPE_R`` (0.90) and above is the same morphology; below ``ODD_SHAPE_R``
  (0.80) a different one. On a noisy record even identical beats correlate less: both
  thresholds then follow the record's median correlation ``r_typ`` down (``r_typ - 0.10`` and
  ``r_typ - 0.25``), so noise is not read as ectopy.
* **Width**: a ventricular beat is at least ``WIDER_S`` (20 ms) wider than the dominant beat.
  Relative, not an absolute 120 ms: with a bundle branch block every beat is wide, and only
  a beat wider than the record's own conducted beats is ventricular by width.
"""

from __future__ import annotations

import numpy as np

from hearteye.chunks import SignalChunks

PREMATURE_RATIO = 0.85
WINDOW_S = (-0.080, 0.120)
SAME_SHAPE_R = 0.90
ODD_SHAPE_R = 0.80
WIDER_S = 0.020
NOISE_MARGIN_R = (0.10, 0.25)  # same / odd thresholds below the record's median correlation
MAX_TEMPLATE_BEATS = 2000  # windows the dominant beat is the median of, at most

BEAT_TYPES = (
    "normal",
    "supraventricular_premature",
    "ventricular_premature",
    "paced",
    "unclassifiable",
)


def _window_offsets(fs: float) -> np.ndarray:
    """Samples of a QRS window around its centre (edge beats get the edge sample repeated)."""
    return np.arange(int(round(WINDOW_S[0] * fs)), int(round(WINDOW_S[1] * fs)) + 1)


def _flatten(block: np.ndarray, usable: np.ndarray | None) -> np.ndarray:
    """``[beat, lead * window]`` mean-free windows from a ``[lead, beat, sample]`` block."""
    if usable is not None:
        block = block[usable]
    w = block.transpose(1, 0, 2).astype(np.float64)  # [beat, lead, sample]
    w -= w.mean(axis=2, keepdims=True)
    return w.reshape(w.shape[0], -1)


def _corr(w: np.ndarray, template: np.ndarray) -> np.ndarray:
    wc = w - w.mean(axis=1, keepdims=True)
    tc = template - template.mean()
    den = np.linalg.norm(wc, axis=1) * np.linalg.norm(tc)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (wc @ tc) / den
    return np.nan_to_num(r)


def beat_types(
    beats,
    x: np.ndarray | SignalChunks,
    fs: float,
    paced: list[bool] | None = None,
    usable: np.ndarray | None = None,
) -> list:
    """One type (see module) per beat of ``beats``, on ``x[lead, sample]`` at ``fs`` (or a
    record too long to hold, as `hearteye.chunks.SignalChunks`), of its ``usable`` leads
    (default: all)."""
    beats = list(beats)
    paced = paced or [False] * len(beats)
    samples = SignalChunks.wrap(x, fs)
    qrs = [
        i
        for i, b in enumerate(beats)
        if b.qrs_onset is not None and b.qrs_offset is not None and not paced[i]
    ]
    out: list = ["paced" if p else None for p in paced]
    n_usable = len(samples.leads) if usable is None else int(np.sum(usable))
    if not qrs or samples.n == 0 or n_usable == 0:
        return out
    centres = [
        int(beats[i].qrs_peak if beats[i].qrs_peak is not None else beats[i].qrs_onset) for i in qrs
    ]
    r, core = _shape_match(samples, np.asarray(centres), _window_offsets(fs), usable)
    r_typ = float(np.median(r))
    same_r = min(SAME_SHAPE_R, r_typ - NOISE_MARGIN_R[0])
    odd_r = min(ODD_SHAPE_R, r_typ - NOISE_MARGIN_R[1])
    width = np.array([beats[i].qrs_offset - beats[i].qrs_onset for i in qrs], float) / fs
    dom_width = float(np.median(width[core])) if core.any() else float(np.median(width))
    onsets = np.array([b.qrs_onset for b in beats if b.qrs_onset is not None], float)
    rr = np.diff(np.sort(onsets)) / fs
    median_rr = float(np.median(rr)) if rr.size else np.nan
    coupling = _coupling(onsets, np.array([beats[i].qrs_onset for i in qrs], float)) / fs
    for k, i in enumerate(qrs):
        premature = bool(coupling[k] < PREMATURE_RATIO * median_rr)
        wide = width[k] >= dom_width + WIDER_S
        same, odd = r[k] >= same_r, r[k] < odd_r
        if premature and odd and wide:
            out[i] = "ventricular_premature"
        elif premature and same and not wide:
            out[i] = "supraventricular_premature"
        elif not premature and same:
            out[i] = "normal"
        elif not premature and not odd and not wide:
            out[i] = "normal"  # between the two thresholds, on time, narrow: noise on a normal
        else:
            out[i] = "unclassifiable"
    return out


def _coupling(onsets: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Samples from the QRS onset before each of ``at`` (the last of ``onsets``, in their
    order, that lies earlier; NaN for none)."""
    if np.all(np.diff(onsets) >= 0):  # beats in time order: a binary search per beat
        j = np.searchsorted(onsets, at, side="left")
        prev = np.where(j > 0, onsets[np.maximum(j - 1, 0)], np.nan)
        return at - prev
    out = np.full(len(at), np.nan)
    for k, t in enumerate(at):
        prev = onsets[onsets < t]
        if prev.size:
            out[k] = t - prev[-1]
    return out


def _shape_match(
    samples: SignalChunks, centres: np.ndarray, offsets: np.ndarray, usable: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each window's correlation with the dominant beat, and which match it (module rules)."""
    sub = np.arange(len(centres))
    if len(centres) > MAX_TEMPLATE_BEATS:
        sub = np.linspace(0, len(centres) - 1, MAX_TEMPLATE_BEATS).astype(int)
    w = _flatten(samples.take(centres[sub], offsets), usable)
    r = _corr(w, np.median(w, axis=0))
    core = r >= SAME_SHAPE_R
    if core.sum() >= max(2, len(sub) // 4):
        template = np.median(w[core], axis=0)
        r = _corr(w, template)
    else:
        template = np.median(w, axis=0)
    if len(sub) < len(centres):
        r = samples.reduce_rows(
            centres, offsets, lambda block: _corr(_flatten(block, usable), template)
        )
    return r, r >= SAME_SHAPE_R


def type_counts(types) -> dict[str, int]:
    """How many beats of each type (every type listed, 0 when absent)."""
    return {t: sum(1 for v in types if v == t) for t in BEAT_TYPES}
