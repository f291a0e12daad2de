"""Which delineation model a window gets: the clean-signal model, or the noise-trained one.

Why two models. The shipped model, trained on LUDB's clean 10 s records, stops marking P
waves it cannot see: at 6 dB of mixed noise its P onset F1 falls to 0.52, while QRS and T
hold. A model trained with noise and device augmentation (``train-delineator
--device-augment``) keeps P at 0.94 there, but on clean records it marks P waves in atrial
fibrillation that are not there (LUDB test P F1 0.998 -> 0.967). Each is right where the
other is wrong, and the difference between the two situations is measurable before either
model's P output is read. So the clean model runs on every window, and the noise model
replaces its output for a window only when both hold:

* **the window is noisy**: the beat-to-beat residual is large. Beats are found from the
  clean model's QRS probability (median over the usable leads >= 0.5, short gaps closed,
  short runs dropped; QRS survives noise, its F1 stays >= 0.98 at 6 dB), leaving out the
  first and last complex (the window's or the record's edge may cut them, and a cut complex
  taken for a beat makes a regular rhythm look irregular). Each beat is cut around its QRS
  (up to ``PRE_S`` before and ``POST_S`` after, never more than 40 % / 55 % of the median
  RR), and per lead the median beat is subtracted, and from each beat's residual its own
  straight line (baseline wander shifts or tilts whole beats; it does not hurt the clean
  model, whose P onset F1 stays 0.997 with 6 dB of wander); the robust SD of what remains,
  over the median beat's peak-to-peak amplitude, is the lead's noise ratio, and the window's
  is the median over usable leads (a noise that reaches most electrodes, not one loose
  lead). Above ``NOISE_RATIO`` the window is noisy. Measured on the LUDB train and val
  splits (`hearteye evaluate-robustness` degradations): clean sinus records 0.003-0.019
  (95th percentile; 3 of 165 above 0.03), wander at 6 dB at most 0.024, noise at 12 dB
  0.041-0.068, at 6 dB 0.057 and above (every noise type), the two-lead 250 Hz ambulatory
  condition at 12 dB 0.028-0.075. A clean record sent to the noise model loses little (its
  P F1 on clean sinus records is within 0.01 of the clean model's); a noisy one kept from it
  loses P waves, so the threshold sits low.
* **the rhythm is regular**: the coefficient of variation of the RR intervals in the window
  is below ``MAX_RR_CV``. Atrial fibrillation's f waves and irregular RR raise the residual
  as noise does (LUDB AF records: 0.011-0.073), and AF is exactly where the noise model
  invents P waves. On LUDB's train and val splits 1 of 15 clean AF / flutter records has an
  RR CV below 0.10 and a ratio above ``NOISE_RATIO`` (LUDB 52); the median sinus record
  has an RR CV of 0.022. The rule's limit: AF with an almost regular ventricular response
  (LUDB 52 clean, LUDB 8 in noise, RR CV 0.055-0.058) does go to the noise model. A noisy
  irregular window keeps the clean model, which then marks fewer P waves rather than false
  ones: in AF there are none to mark.

Fewer than ``MIN_BEATS`` QRS complexes in a window (a median beat, a pause, a short record):
nothing to compare, the clean model's output stays. The thresholds were chosen on the LUDB
train and val splits only; the test split reports (see the model card).
"""

from __future__ import annotations

import numpy as np

from hearteye.delineate.postprocess import MERGE_GAP_S, MIN_DURATION_S, clean_runs

NOISE_RATIO = 0.03  # residual robust SD / median-beat peak-to-peak, median over leads
MAX_RR_CV = 0.10  # RR SD / mean RR within the window
MIN_BEATS = 3
PRE_S, POST_S = 0.30, 0.50  # around each QRS centre, capped by the RR shares below
RR_SHARE = (0.40, 0.55)
QRS_CHANNEL = 1


def _qrs_centres(prob: np.ndarray, usable: np.ndarray, fs: float) -> np.ndarray:
    q = np.median(prob[usable, QRS_CHANNEL], axis=0) >= 0.5
    r = clean_runs(q, fs, MIN_DURATION_S["QRS"], MERGE_GAP_S["QRS"])[1:-1]
    return ((r[:, 0] + r[:, 1]) // 2).astype(np.int64) if len(r) else np.zeros(0, np.int64)


def _detrend(res: np.ndarray) -> np.ndarray:
    """Each beat's residual ``res[lead, beat, t]`` minus its own straight line (least
    squares): baseline wander moves a whole beat up or tilts it, and the clean model is not
    hurt by it (LUDB test P F1 0.997 with 6 dB of wander), so it must not count as noise."""
    t = np.linspace(-1.0, 1.0, res.shape[-1])
    offset = res.mean(axis=-1, keepdims=True)
    slope = (res * t).sum(axis=-1, keepdims=True) / (t * t).sum()
    return res - offset - slope * t


def noise_ratio(x: np.ndarray, centres: np.ndarray, usable: np.ndarray, fs: float) -> float:
    """The window's beat-to-beat residual ratio (module rule); NaN with too few beats."""
    rr = float(np.median(np.diff(centres)))
    a = int(min(PRE_S * fs, RR_SHARE[0] * rr))
    b = int(min(POST_S * fs, RR_SHARE[1] * rr))
    c = centres[(centres - a >= 0) & (centres + b < x.shape[1])]
    if len(c) < MIN_BEATS or a + b < 2:
        return float("nan")
    segs = x[np.flatnonzero(usable)][:, c[:, None] + np.arange(-a, b)[None, :]]  # [l, beat, t]
    template = np.median(segs, axis=1, keepdims=True)
    res = _detrend(segs - template)
    spread = 1.4826 * np.median(np.abs(res - np.median(res, axis=(1, 2), keepdims=True)), (1, 2))
    p2p = np.ptp(template[:, 0, :], axis=1)
    ok = p2p > 0
    return float(np.median(spread[ok] / p2p[ok])) if ok.any() else float("nan")


def _rr_cv(centres: np.ndarray) -> float:
    rr = np.diff(centres).astype(np.float64)
    return float(rr.std() / rr.mean())


def _usable_and_centres(x: np.ndarray, prob: np.ndarray, fs: float):
    """The non-flat leads of window ``x`` and its QRS centres (empty without a usable lead)."""
    usable = np.std(x, axis=1) > 0
    centres = _qrs_centres(prob, usable, fs) if usable.any() else np.zeros(0, np.int64)
    return usable, centres


def noise_ratio_of(x: np.ndarray, prob: np.ndarray, fs: float) -> float:
    """The noise ratio of window ``x[lead, sample]`` (preprocessed, 500 Hz) given the clean
    model's probabilities ``prob[lead, 3, sample]``; NaN where it cannot be measured."""
    usable, centres = _usable_and_centres(x, prob, fs)
    if len(centres) < MIN_BEATS:
        return float("nan")
    return noise_ratio(x, centres, usable, fs)


def is_noisy(x: np.ndarray, prob: np.ndarray, fs: float) -> bool:
    """Whether the window ``x[lead, sample]`` (preprocessed, 500 Hz) with the clean model's
    probabilities ``prob[lead, 3, sample]`` should go to the noise model (module rule)."""
    usable, centres = _usable_and_centres(x, prob, fs)
    if len(centres) < MIN_BEATS or _rr_cv(centres) >= MAX_RR_CV:
        return False
    return bool(noise_ratio(x, centres, usable, fs) > NOISE_RATIO)
