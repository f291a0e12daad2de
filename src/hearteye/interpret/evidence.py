"""Beat-level and per-lead evidence the statements are made from.

Input: the display signal (mV, ``signal[lead, sample]``, 500 Hz, or a record too long to hold
preprocessed, as `hearteye.chunks.SignalChunks`), the lead names, the global
beats (`hearteye.delineate.postprocess.Beat`, samples) and the measurements of
`hearteye.features.measure`. Output: an `Evidence` with

* **per beat**: P wave present, QRS width (ms), RR before and after (ms), prematurity (RR
  before / median RR), and a beat class: ``N`` (normal), ``A`` (premature, narrow: PAC),
  ``V`` (premature or not, wide and unlike the dominant QRS: PVC), ``P`` (a P wave no QRS
  follows: blocked);
* **rhythm**: RR coefficient of variation, successive-difference irregularity (RMSSD / mean
  RR) of all intervals and of those not next to a ventricular beat, the normal-to-normal RR
  coefficient of variation, PR variability; and, when P waves are missing before most beats,
  the **atrial wave**: with each QRS blanked (30 ms before onset to 50 ms after offset,
  bridged by a straight line), the Welch spectrum of II, III, aVF and V1
  (first ``ATRIAL_WINDOW_S``), its highest peak at 3-7 Hz and the share of the 2-12 Hz power
  within 0.3 Hz of that peak and its second harmonic. Flutter waves are one periodic wave at
  240-340 /min, so a few lines hold most of the power; fibrillatory waves spread theirs;
* **per lead, on the median beat** (beats aligned on QRS onset, median sample by sample, so one
  ectopic beat does not move it; of more than ``MAX_MEDIAN_BEATS``, that many evenly spread):
  Q, R, S, R' amplitudes and the QRS minimum (mV), Q duration (ms: from QRS onset, when the
  first deflection beyond 0.05 mV is negative, to the return above baseline), ST at J and at
  J+60 ms (mV, from the PR-segment baseline), T amplitude, terminal 40 ms QRS area, P
  amplitude and the negative P area in V1.

Thresholds of the rules live in `hearteye.interpret.rules`; here only measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hearteye.chunks import SignalChunks

NAN = float("nan")
PREMATURE = 0.85  # RR before / median RR below this: premature (Minnesota code 8-1)
WIDE_QRS_MS = 120.0
WIDER_THAN_DOMINANT_MS = 30.0
PRE_S, POST_S = 0.30, 0.60  # median beat window around QRS onset
# Beats the median beat is taken over, at most (evenly spread: a Holter's ~100,000 windows
# would take ~360 MB per two leads); every beat of a record up to 300 s at 400 bpm counts.
MAX_MEDIAN_BEATS = 2000
Q_START_MV = 0.05  # the first deflection beyond this decides whether the QRS starts with a Q
LEAD_KEYS = ("Q", "Qms", "R", "S", "QMIN", "R2", "STJ", "ST60", "T", "TERM", "P", "PNEG")
ATRIAL_LEADS = ("II", "III", "aVF", "V1")  # where flutter waves are largest
ATRIAL_WINDOW_S = 30.0
ATRIAL_BLANK_S = (0.03, 0.05)  # before QRS onset, after QRS offset
ATRIAL_SEARCH_HZ = (3.0, 7.0)
ATRIAL_BAND_HZ = (2.0, 12.0)
ATRIAL_LINE_HZ = 0.3


@dataclass(frozen=True)
class BeatInfo:
    has_p: bool
    qrs_ms: float
    rr_before_ms: float
    rr_after_ms: float
    prematurity: float
    kind: str  # N | A | V | P


@dataclass(frozen=True)
class Evidence:
    fs: float
    beats: tuple[BeatInfo, ...]
    rhythm: dict[str, float]
    leads: dict[str, dict[str, float]]
    measurements: dict = field(repr=False, default_factory=dict)

    def g(self, name: str) -> float:
        """A global measurement's value (NaN when absent)."""
        m = self.measurements.get("global", {}).get(name)
        return NAN if m is None else float(m.value)

    def lead(self, lead: str, key: str) -> float:
        return self.leads.get(lead, {}).get(key, NAN)


def _beat_infos(beats, fs: float) -> list[BeatInfo]:
    q = sorted((b for b in beats if b.qrs_onset is not None), key=lambda b: b.qrs_onset)
    onsets = np.array([b.qrs_onset for b in q], float)
    rr = np.diff(onsets) * 1000.0 / fs
    med_rr = float(np.median(rr)) if rr.size else NAN
    widths = np.array(
        [(b.qrs_offset - b.qrs_onset) * 1000.0 / fs if b.qrs_offset is not None else NAN for b in q]
    )
    dominant = float(np.nanmedian(widths)) if np.isfinite(widths).any() else NAN
    out = []
    for i, b in enumerate(q):
        before = rr[i - 1] if i > 0 else NAN
        after = rr[i] if i < rr.size else NAN
        prem = before / med_rr if med_rr and not math.isnan(before) else NAN
        w = widths[i]
        wide = w >= WIDE_QRS_MS and w - dominant >= WIDER_THAN_DOMINANT_MS
        kind = "N"
        if wide and b.p_onset is None:
            kind = "V"
        elif not math.isnan(prem) and prem < PREMATURE:
            kind = "V" if wide else "A"
        out.append(BeatInfo(b.p_onset is not None, float(w), before, after, prem, kind))
    blocked = sum(1 for b in beats if b.qrs_onset is None and b.p_onset is not None)
    out += [BeatInfo(True, NAN, NAN, NAN, NAN, "P")] * blocked
    return out


def _successive_irregularity(rr: np.ndarray, min_steps: int) -> float:
    """RMSSD / mean RR over successive intervals (a NaN interval breaks the succession), NaN
    with fewer than ``min_steps`` successive differences."""
    steps = np.diff(rr)
    steps = steps[np.isfinite(steps)]
    return float(np.sqrt(np.mean(steps**2)) / np.nanmean(rr)) if steps.size >= min_steps else NAN


def _supraventricular_irregularity(qrs: list[BeatInfo]) -> float:
    """``rr_succ`` over the RR intervals that neither begin nor end on a ventricular beat: a
    PVC and its pause make a regular rhythm irregular; fibrillation stays irregular without
    them (its premature beats are narrow: ``A``, and kept)."""
    rr = np.array(
        [
            b.rr_before_ms if "V" not in (b.kind, qrs[k - 1].kind) else NAN
            for k, b in enumerate(qrs[1:], start=1)
        ],
        float,
    )
    return _successive_irregularity(rr, min_steps=1)


def _rhythm(infos: list[BeatInfo], beats, fs: float) -> dict[str, float]:
    qrs = [b for b in infos if b.kind != "P"]
    rr = np.array([b.rr_before_ms for b in qrs[1:]], float)
    normal_rr = np.array(
        [
            b.rr_before_ms
            for k, b in enumerate(qrs[1:], start=1)
            if b.kind == "N" and qrs[k - 1].kind == "N"
        ],
        float,
    )
    out = {
        "n_qrs": float(len(qrs)),
        "n_pac": float(sum(b.kind == "A" for b in qrs)),
        "n_pvc": float(sum(b.kind == "V" for b in qrs)),
        "n_blocked_p": float(sum(b.kind == "P" for b in infos)),
        "p_fraction": (sum(b.has_p for b in qrs) / len(qrs)) if qrs else NAN,
        "rr_cv": float(rr.std() / rr.mean()) if rr.size > 1 else NAN,
        "rr_range_ratio": float((rr.max() - rr.min()) / rr.mean()) if rr.size > 1 else NAN,
        "rr_cv_normal": float(normal_rr.std() / normal_rr.mean()) if normal_rr.size > 2 else NAN,
        "rr_succ": _successive_irregularity(rr, min_steps=2),
        "rr_succ_supra": _supraventricular_irregularity(qrs),
    }
    q = sorted((b for b in beats if b.qrs_onset is not None), key=lambda b: b.qrs_onset)
    pr = [(b.qrs_onset - b.p_onset) * 1000.0 / fs for b in q if b.p_onset is not None]
    out["pr_sd"] = float(np.std(pr)) if len(pr) > 2 else NAN
    p_on = sorted(b.p_onset for b in beats if b.p_onset is not None)
    pp = np.diff(p_on) * 1000.0 / fs
    out["pp_cv"] = float(pp.std() / pp.mean()) if pp.size > 2 else NAN
    out["atrial_rate"] = 60000.0 / float(np.median(pp)) if pp.size else NAN
    return out


def _atrial_wave(samples: SignalChunks, leads, beats, fs: float) -> dict[str, float]:
    """Peak frequency (Hz) and spectral concentration of the QRS-blanked atrial leads."""
    from scipy.signal import welch

    n = min(samples.n, int(ATRIAL_WINDOW_S * fs))
    rows = [leads.index(x) for x in ATRIAL_LEADS if x in leads]
    blank = np.zeros(n, bool)
    before, after = (int(s * fs) for s in ATRIAL_BLANK_S)
    for b in beats:
        if b.qrs_onset is not None and b.qrs_offset is not None and b.qrs_onset < n:
            blank[max(int(b.qrs_onset) - before, 0) : int(b.qrs_offset) + after + 1] = True
    best = {"atrial_peak_hz": NAN, "atrial_concentration": NAN}
    if not rows or blank.all() or n < int(2 * fs):
        return best
    x = samples.head(n)[rows].astype(np.float64)
    idx = np.arange(n)
    for row in x:
        row[blank] = np.interp(idx[blank], idx[~blank], row[~blank])
    f, p = welch(x - x.mean(axis=1, keepdims=True), fs=fs, nperseg=min(n, int(4 * fs)))
    band = (f >= ATRIAL_BAND_HZ[0]) & (f <= ATRIAL_BAND_HZ[1])
    search = np.flatnonzero((f >= ATRIAL_SEARCH_HZ[0]) & (f <= ATRIAL_SEARCH_HZ[1]))
    for spectrum in p:
        k = search[np.argmax(spectrum[search])]
        lines = (np.abs(f - f[k]) <= ATRIAL_LINE_HZ) | (np.abs(f - 2 * f[k]) <= ATRIAL_LINE_HZ)
        total = spectrum[band].sum()
        share = float(spectrum[lines].sum() / total) if total > 0 else NAN
        if share > best["atrial_concentration"] or math.isnan(best["atrial_concentration"]):
            best = {"atrial_peak_hz": float(f[k]), "atrial_concentration": share}
    return best


def _median_beats(samples: SignalChunks, beats, fs: float):
    """Median beat per lead aligned on QRS onset, and the median fiducials (samples, relative)."""
    pre, post = int(PRE_S * fs), int(POST_S * fs)
    n = samples.n
    q = [
        b
        for b in beats
        if b.qrs_onset is not None and b.qrs_offset is not None and pre <= b.qrs_onset < n - post
    ]
    if not q:
        return None, {}
    on = np.array([int(b.qrs_onset) for b in q])
    if len(on) > MAX_MEDIAN_BEATS:
        on = on[np.linspace(0, len(on) - 1, MAX_MEDIAN_BEATS).astype(int)]
    med = np.median(samples.take(on, np.arange(-pre, post)), axis=1)  # [lead, sample]

    def rel(name):
        vals = [getattr(b, name) - b.qrs_onset for b in q if getattr(b, name) is not None]
        return int(round(float(np.median(vals)))) + pre if vals else None

    fid = {k: rel(k) for k in ("p_onset", "p_offset", "qrs_offset", "t_offset")}
    fid["qrs_onset"] = pre
    return med, fid


def _lead_features(m: np.ndarray, fid: dict, fs: float) -> dict[str, float]:
    on, off = fid["qrs_onset"], fid["qrs_offset"]
    if fid["p_offset"] is not None and on - fid["p_offset"] >= 2:
        base = float(np.median(m[fid["p_offset"] + 1 : on]))
    else:
        base = float(np.median(m[max(on - int(0.02 * fs), 0) : on + 1]))
    x = m - base
    qrs = x[on : off + 1]
    r_idx = int(np.argmax(qrs))
    r = max(float(qrs[r_idx]), 0.0)
    q = min(float(qrs[: r_idx + 1].min()), 0.0)
    s = min(float(qrs[r_idx:].min()), 0.0)
    # Q duration: initial negative deflection from onset until the signal returns to baseline
    q_ms = 0.0
    big = np.flatnonzero(np.abs(qrs) > Q_START_MV)
    if big.size and qrs[big[0]] < 0:
        pos = np.flatnonzero(qrs[big[0] :] > 0.0)
        q_ms = (big[0] + (pos[0] if pos.size else qrs.size - big[0])) * 1000.0 / fs
    # a second R (R'): the highest positive peak after the S that follows the first R
    r2 = 0.0
    after = qrs[r_idx:]
    if after.size > 3:
        s_idx = int(np.argmin(after))
        tail = after[s_idx:]
        if tail.size and after[s_idx] < r - 0.1:
            r2 = max(float(tail.max()), 0.0) if tail.max() - after[s_idx] > 0.1 else 0.0
    term = int(0.04 * fs)
    j60 = off + int(0.06 * fs)
    t_end = fid["t_offset"] if fid["t_offset"] is not None else min(off + int(0.40 * fs), x.size)
    t_seg = x[min(off + int(0.08 * fs), t_end - 1) : t_end] if t_end > off else np.empty(0)
    p = np.empty(0)
    if fid["p_onset"] is not None and fid["p_offset"] is not None:
        p = x[fid["p_onset"] : fid["p_offset"] + 1]
    return {
        "Q": q,
        "Qms": q_ms,
        "R": r,
        "S": s,
        "QMIN": float(qrs.min()),
        "R2": r2,
        "STJ": float(x[off]),
        "ST60": float(x[j60]) if j60 < x.size else NAN,
        "T": float(t_seg[np.argmax(np.abs(t_seg))]) if t_seg.size else NAN,
        "TERM": float(qrs[-term:].mean()) if qrs.size >= term else NAN,
        "P": float(p[np.argmax(np.abs(p))]) if p.size else NAN,
        # negative P area (mV*ms): the P terminal force in V1 is read from this
        "PNEG": float(np.clip(p, None, 0).sum() * 1000.0 / fs) if p.size else NAN,
    }


def gather(
    signal: np.ndarray | SignalChunks, fs: float, leads, beats, measurements: dict
) -> Evidence:
    infos = _beat_infos(beats, fs)
    rhythm = _rhythm(infos, beats, fs)
    samples = SignalChunks.wrap(signal, fs)
    if not rhythm["p_fraction"] >= 0.5:  # NaN too: no P wave found at all
        rhythm.update(_atrial_wave(samples, list(leads), beats, fs))
    med, fid = _median_beats(samples, beats, fs)
    per_lead: dict[str, dict[str, float]] = {}
    if med is not None and fid.get("qrs_offset") is not None:
        for i, name in enumerate(leads):
            per_lead[name] = _lead_features(med[i], fid, fs)
    return Evidence(fs, tuple(infos), rhythm, per_lead, measurements)
