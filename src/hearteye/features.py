"""Clinical measurements from a delineated ECG, and the classifier's feature vector.

Input: the band-passed signal in millivolts (``signal[lead, sample]``, not z-scored, or a record
too long to hold preprocessed, as `hearteye.chunks.SignalChunks`) at ``fs``,
the lead names, and the global beats (objects with ``p_onset, p_offset, qrs_onset,
qrs_offset, t_offset`` in samples, ``None`` where a wave is absent), as
`hearteye.delineate.postprocess.Beat` gives them.

Rules, and why:
* **Nothing is clamped.** A QRS of 160 ms is reported as 160 ms and flagged; a value that
  cannot be measured (no P wave in atrial fibrillation) is NaN. The original service dropped
  values outside "normal" windows, which hid exactly the abnormal cases.
* **Intervals are medians over beats**: one ectopic or mis-delineated beat does not move them.
  PR is P onset to QRS onset; QT is QRS onset to T end (global boundaries, as IEC 60601-2-25).
* **Amplitudes are signed and measured from the beat's own baseline**, the isoelectric PR
  segment (P offset to QRS onset), or the 20 ms before QRS onset when there is no P wave.
* **Axes from signed net areas** in leads I and aVF (each beat's wave area above minus below
  its baseline, median over beats): ``atan2(aVF, I)``. Unsigned amplitudes would put every
  axis in 0..90 degrees. Missing I or aVF are derived from II and III (Einthoven).
* Reference ranges are the usual adult resting-ECG ones (AHA/ACCF/HRS 2009 recommendations;
  QTc by sex where the sex is known); a value outside gets ``flag`` "low" or "high".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from hearteye.chunks import SignalChunks
from hearteye.record import STANDARD_LEADS

NAN = float("nan")
BASELINE_FALLBACK_S = 0.020  # baseline window before QRS onset when there is no P wave
ST_OFFSET_S = 0.060  # ST level at J + 60 ms


@dataclass(frozen=True)
class Measurement:
    value: float  # NaN when it could not be measured
    unit: str
    low: float | None = None  # reference range, when clinicians have one
    high: float | None = None
    flag: str | None = None  # "low" | "high" | None
    # Why the value is not to be trusted (None: nothing known against it), e.g. the leads it
    # is computed from carry no amplitude calibration.
    unreliable: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["value"] = None if math.isnan(self.value) else round(self.value, 4)
        return d


def _ranged(value: float, unit: str, low: float | None, high: float | None) -> Measurement:
    flag = None
    if not math.isnan(value):
        if low is not None and value < low:
            flag = "low"
        elif high is not None and value > high:
            flag = "high"
    return Measurement(float(value), unit, low, high, flag)


def _median(values) -> float:
    if isinstance(values, np.ndarray):  # per-beat values, NaN where not measured
        vals = values[~np.isnan(values)]
        return float(np.median(vals)) if vals.size else NAN
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.median(vals)) if vals else NAN


def _span_ms(beats, start: str, end: str, fs: float) -> list[float]:
    out = []
    for b in beats:
        s, e = getattr(b, start), getattr(b, end)
        if s is not None and e is not None and e > s:
            out.append((e - s) * 1000.0 / fs)
    return out


def _qt_ms(beats, fs: float, rr_ms: float) -> list[float]:
    """QT of each beat whose T wave ends before the next QRS begins (or, for the last beat,
    within the mean RR): a T end past the next QRS is not this beat's (a QT mask run through
    the flutter waves of a fast rhythm), and one such beat must not become a QT of seconds."""
    q = sorted((b for b in beats if b.qrs_onset is not None), key=lambda b: b.qrs_onset)
    out = []
    for i, b in enumerate(q):
        if b.t_offset is None or b.t_offset <= b.qrs_onset:
            continue
        limit = q[i + 1].qrs_onset if i + 1 < len(q) else b.qrs_onset + rr_ms * fs / 1000.0
        if b.t_offset < limit:
            out.append((b.t_offset - b.qrs_onset) * 1000.0 / fs)
    return out


# --- rhythm ---------------------------------------------------------------------------------


def rr_intervals_ms(beats, fs: float) -> np.ndarray:
    """RR intervals between consecutive QRS onsets (ms)."""
    onsets = np.array(sorted(b.qrs_onset for b in beats if b.qrs_onset is not None), float)
    return np.diff(onsets) * 1000.0 / fs


def rhythm(beats, fs: float) -> dict[str, Measurement]:
    rr = rr_intervals_ms(beats, fs)
    qrs_beats = [b for b in beats if b.qrs_onset is not None]
    with_p = sum(b.p_onset is not None for b in qrs_beats)
    if rr.size:
        mean_rr = float(rr.mean())
        hr = 60000.0 / mean_rr
        sd = float(rr.std(ddof=1)) if rr.size > 1 else NAN
        rmssd = float(np.sqrt(np.mean(np.diff(rr) ** 2))) if rr.size > 1 else NAN
        irregularity = sd / mean_rr if rr.size > 1 else NAN
    else:
        mean_rr = hr = sd = rmssd = irregularity = NAN
    return {
        "heart_rate": _ranged(hr, "bpm", 60.0, 100.0),
        "rr_mean": _ranged(mean_rr, "ms", 600.0, 1000.0),
        "rr_sd": _ranged(sd, "ms", None, None),
        "rr_rmssd": _ranged(rmssd, "ms", None, None),
        # SD / mean of RR: sinus rhythm stays under ~0.1; atrial fibrillation is far above.
        "rr_irregularity": _ranged(irregularity, "ratio", None, 0.15),
        "p_wave_fraction": _ranged(
            with_p / len(qrs_beats) if qrs_beats else NAN, "ratio", 0.9, None
        ),
        "beat_count": _ranged(float(len(qrs_beats)), "beats", None, None),
    }


# --- intervals ------------------------------------------------------------------------------


def intervals(beats, fs: float, rr_ms: float, sex: str | None = None) -> dict[str, Measurement]:
    p_dur = _median(_span_ms(beats, "p_onset", "p_offset", fs))
    pr = _median(_span_ms(beats, "p_onset", "qrs_onset", fs))
    qrs = _median(_span_ms(beats, "qrs_onset", "qrs_offset", fs))
    qt = _median(_qt_ms(beats, fs, rr_ms))
    rr_s = rr_ms / 1000.0
    hr = 60.0 / rr_s if rr_s > 0 else NAN
    qtc_high = {"M": 450.0, "F": 460.0}.get(sex or "", 460.0)
    return {
        "p_duration": _ranged(p_dur, "ms", None, 120.0),
        "pr_interval": _ranged(pr, "ms", 120.0, 200.0),
        "qrs_duration": _ranged(qrs, "ms", None, 120.0),
        "qt_interval": _ranged(qt, "ms", None, None),
        "qtc_bazett": _ranged(qt / math.sqrt(rr_s) if rr_s > 0 else NAN, "ms", 350.0, qtc_high),
        "qtc_fridericia": _ranged(qt / rr_s ** (1 / 3) if rr_s > 0 else NAN, "ms", 350.0, qtc_high),
        "qtc_framingham": _ranged(qt + 154.0 * (1.0 - rr_s), "ms", 350.0, qtc_high),
        "qtc_hodges": _ranged(qt + 1.75 * (hr - 60.0), "ms", 350.0, qtc_high),
    }


# --- amplitudes and axes --------------------------------------------------------------------


def _baseline(x: np.ndarray, beat, fs: float) -> float:
    """Isoelectric level of one beat in one lead: PR segment, else 20 ms before QRS onset."""
    q_on = int(beat.qrs_onset)
    if beat.p_offset is not None and q_on - int(beat.p_offset) >= 2:
        seg = x[int(beat.p_offset) + 1 : q_on]
    else:
        seg = x[max(q_on - int(round(BASELINE_FALLBACK_S * fs)), 0) : q_on + 1]
    return float(np.median(seg)) if seg.size else NAN


def _wave_slices(beat, fs: float, n: int) -> dict[str, slice | None]:
    def sl(a, b):
        if a is None or b is None or b <= a:
            return None
        return slice(max(int(a), 0), min(int(b) + 1, n))

    return {
        "P": sl(beat.p_onset, beat.p_offset),
        "QRS": sl(beat.qrs_onset, beat.qrs_offset),
        # No T onset is delineated: the ST-T segment (J point to T end) carries the T wave.
        "T": sl(beat.qrs_offset, beat.t_offset),
    }


AMPLITUDE_WAVES = ("P", "Q", "R", "S", "T", "ST")
AXIS_WAVES = ("P", "QRS", "T")


def beat_amplitudes(x: np.ndarray, beats, fs: float) -> np.ndarray:
    """Per beat, the signed P, Q, R, S, T amplitudes and the ST level at J+60 ms (mV) in one
    lead ``x``: ``[beat, wave]`` in `AMPLITUDE_WAVES` order, NaN where not measurable."""
    out = np.full((len(beats), len(AMPLITUDE_WAVES)), NAN)
    n = x.size
    for k, b in enumerate(beats):
        if b.qrs_onset is None or b.qrs_offset is None:
            continue
        base = _baseline(x, b, fs)
        if math.isnan(base):
            continue
        row = out[k]
        sl = _wave_slices(b, fs, n)
        if sl["P"] is not None:
            p = x[sl["P"]] - base
            row[0] = float(p[np.argmax(np.abs(p))])
        qrs = x[sl["QRS"]] - base if sl["QRS"] is not None else np.empty(0)
        if qrs.size:
            r_idx = int(np.argmax(qrs))
            row[2] = max(float(qrs[r_idx]), 0.0)
            row[1] = min(float(qrs[: r_idx + 1].min()), 0.0)
            row[3] = min(float(qrs[r_idx:].min()), 0.0)
        if sl["T"] is not None:
            t = x[sl["T"]] - base
            row[4] = float(t[np.argmax(np.abs(t))])
        j60 = int(b.qrs_offset + round(ST_OFFSET_S * fs))
        if j60 < n:
            row[5] = float(x[j60] - base)
    return out


def amplitude_medians(values: np.ndarray) -> dict[str, float]:
    """Medians over beats of `beat_amplitudes` rows (a lead's measurement: one ectopic or
    mis-delineated beat does not move it)."""
    return {w: _median(values[:, i]) for i, w in enumerate(AMPLITUDE_WAVES)}


def lead_amplitudes(x: np.ndarray, beats, fs: float) -> dict[str, float]:
    """Median signed P, Q, R, S, T amplitudes and ST level at J+60 ms (mV) for one lead."""
    return amplitude_medians(beat_amplitudes(x, beats, fs))


def beat_areas(x: np.ndarray, beats, fs: float) -> np.ndarray:
    """Per beat, each wave's signed area above its baseline (mV*s) in one lead ``x``:
    ``[beat, wave]`` in `AXIS_WAVES` order, NaN where not measurable."""
    out = np.full((len(beats), len(AXIS_WAVES)), NAN)
    for k, b in enumerate(beats):
        if b.qrs_onset is None:
            continue
        slices = _wave_slices(b, fs, x.size)
        base = _baseline(x, b, fs)
        for i, wave in enumerate(AXIS_WAVES):
            sl = slices[wave]
            if sl is None or math.isnan(base):
                continue
            out[k, i] = float(np.sum(x[sl] - base)) / fs
    return out


def limb_leads_i_avf(signal: np.ndarray, leads) -> tuple[np.ndarray, np.ndarray] | None:
    """Leads I and aVF, derived by Einthoven's law from II and III when not recorded."""
    idx = {name: i for i, name in enumerate(leads)}
    lead = {k: signal[i] for k, i in idx.items()}
    i_lead = lead.get("I")
    avf = lead.get("aVF")
    if i_lead is None and "II" in lead and "III" in lead:
        i_lead = lead["II"] - lead["III"]
    if avf is None and "II" in lead and "III" in lead:
        avf = (lead["II"] + lead["III"]) / 2.0
    if i_lead is None or avf is None:
        return None
    return i_lead, avf


def axes_from_areas(areas: np.ndarray | None) -> dict[str, Measurement]:
    """P, QRS and T axes from per-beat areas ``[beat, (I, aVF), wave]`` (None: no limb
    leads): ``atan2`` of the median areas in aVF and I."""
    out = {}
    ranges = {"P": (0.0, 75.0), "QRS": (-30.0, 90.0), "T": (None, None)}
    for w, wave in enumerate(AXIS_WAVES):
        value = NAN
        if areas is not None:
            a_i = _median(areas[:, 0, w])
            a_f = _median(areas[:, 1, w])
            if not (math.isnan(a_i) or math.isnan(a_f)) and (a_i or a_f):
                value = math.degrees(math.atan2(a_f, a_i))
        low, high = ranges[wave]
        out[f"{wave.lower()}_axis"] = _ranged(value, "deg", low, high)
    return out


def _limb_areas(x: np.ndarray, leads, beats, fs: float) -> np.ndarray | None:
    limb = limb_leads_i_avf(x, leads)
    if limb is None:
        return None
    return np.stack([beat_areas(limb[0], beats, fs), beat_areas(limb[1], beats, fs)], axis=1)


def beat_values(x: np.ndarray, leads, beats, fs: float) -> list[tuple]:
    """What `measure` reads from the samples, per beat of ``beats`` in ``x[lead, sample]``:
    (amplitudes ``[lead, wave]``, limb-lead areas ``[(I, aVF), wave]`` or None)."""
    amps = np.stack([beat_amplitudes(x[i], beats, fs) for i in range(len(leads))], axis=1)
    areas = _limb_areas(x, leads, beats, fs)
    return [(amps[k], None if areas is None else areas[k]) for k in range(len(beats))]


def voltages(amps: dict[str, dict[str, float]], sex: str | None) -> dict[str, Measurement]:
    """Sokolow-Lyon (S V1 + max R V5/V6) and Cornell (R aVL + S V3) LVH voltages (mV)."""

    def get(lead, wave):
        return amps.get(lead, {}).get(wave, NAN)

    r_v5_v6 = [r for r in (get("V5", "R"), get("V6", "R")) if not math.isnan(r)]
    sokolow = abs(get("V1", "S")) + max(r_v5_v6) if r_v5_v6 else NAN
    cornell = get("aVL", "R") + abs(get("V3", "S"))
    cornell_high = {"M": 2.8, "F": 2.0}.get(sex or "", 2.8)
    return {
        "sokolow_lyon": _ranged(float(sokolow), "mV", None, 3.5),
        "cornell": _ranged(float(cornell), "mV", None, cornell_high),
    }


def measure(
    signal: np.ndarray | SignalChunks,
    fs: float,
    leads,
    beats,
    sex: str | None = None,
    uncalibrated=(),
    paced=None,
) -> dict:
    """All measurements: ``{"global": {name: Measurement}, "leads": {lead: {wave: mV}}}``.

    ``uncalibrated``: leads whose amplitude the file did not calibrate; the measurements that
    read them say so (`mark_uncalibrated`). ``paced``: one flag per beat; paced beats count in
    the rhythm (rate, RR) but are not measured as native beats (intervals, amplitudes, axes):
    their QRS and T are the stimulus's, not the conduction system's."""
    leads = tuple(leads)
    beats = list(beats)
    native = {id(b) for b, p in zip(beats, paced or [False] * len(beats), strict=True) if not p}
    beats = sorted(
        (b for b in beats if b.qrs_onset is not None or b.p_onset is not None),
        key=lambda b: b.anchor(),
    )
    rhy = rhythm(beats, fs)
    qrs_beats = [b for b in beats if b.qrs_onset is not None and id(b) in native]
    glob = dict(rhy)
    glob.update(intervals(qrs_beats, fs, rhy["rr_mean"].value, sex))
    samples = SignalChunks.wrap(signal, fs)
    values = samples.map_beats(lambda x, bs: beat_values(x, leads, bs, fs), qrs_beats)
    amps = np.array([v[0] for v in values]).reshape(len(values), len(leads), len(AMPLITUDE_WAVES))
    areas = None  # no beat, or no limb leads (`beat_values` then gives None for every beat)
    if values and values[0][1] is not None:
        areas = np.array([v[1] for v in values])
    glob.update(axes_from_areas(areas))
    per_lead = {name: amplitude_medians(amps[:, i]) for i, name in enumerate(leads)}
    glob.update(voltages(per_lead, sex))
    return {"global": mark_uncalibrated(glob, uncalibrated), "leads": per_lead}


# The leads each amplitude-based global measurement reads. Intervals and rates do not depend on
# the gain; an axis does, through the ratio of its two limb leads' areas.
AMPLITUDE_LEADS = {
    "sokolow_lyon": ("V1", "V5", "V6"),
    "cornell": ("aVL", "V3"),
    "p_axis": ("I", "II", "III", "aVF"),
    "qrs_axis": ("I", "II", "III", "aVF"),
    "t_axis": ("I", "II", "III", "aVF"),
}


def mark_uncalibrated(glob: dict[str, Measurement], uncalibrated) -> dict[str, Measurement]:
    """Mark every amplitude-based measurement that reads an uncalibrated lead unreliable."""
    bad = set(uncalibrated)
    out = dict(glob)
    for name, used in AMPLITUDE_LEADS.items():
        hit = [lead for lead in used if lead in bad]
        if hit and name in out:
            reason = f"uncalibrated amplitude in {', '.join(hit)}"
            out[name] = replace(out[name], unreliable=reason)
    return out


# --- the global measurement set -------------------------------------------------------------

# Every global measurement `measure` returns, in its order, with its unit: the columns of batch
# tables and exports. `tests/test_features.py` holds `measure` to exactly this set.
MEASUREMENT_UNITS = {
    "heart_rate": "bpm",
    "rr_mean": "ms",
    "rr_sd": "ms",
    "rr_rmssd": "ms",
    "rr_irregularity": "ratio",
    "p_wave_fraction": "ratio",
    "beat_count": "beats",
    "p_duration": "ms",
    "pr_interval": "ms",
    "qrs_duration": "ms",
    "qt_interval": "ms",
    "qtc_bazett": "ms",
    "qtc_fridericia": "ms",
    "qtc_framingham": "ms",
    "qtc_hodges": "ms",
    "p_axis": "deg",
    "qrs_axis": "deg",
    "t_axis": "deg",
    "sokolow_lyon": "mV",
    "cornell": "mV",
}
GLOBAL_MEASUREMENTS = tuple(MEASUREMENT_UNITS)


# --- classifier features --------------------------------------------------------------------

GLOBAL_FEATURES = (
    "heart_rate",
    "rr_sd",
    "rr_rmssd",
    "rr_irregularity",
    "p_wave_fraction",
    "p_duration",
    "pr_interval",
    "qrs_duration",
    "qt_interval",
    "qtc_bazett",
    "p_axis",
    "qrs_axis",
    "t_axis",
    "sokolow_lyon",
    "cornell",
)
LEAD_FEATURES = ("P", "Q", "R", "S", "T", "ST")


# The measurements whose out-of-range flag counts as a finding: the rule baseline calls a record
# abnormal when any is flagged, and `analyze` lists them as reasons. One QTc formula (Bazett,
# the one clinicians quote) and heart rate rather than its inverse, so no finding counts twice.
FINDING_MEASUREMENTS = (
    "heart_rate",
    "rr_irregularity",
    "p_wave_fraction",
    "p_duration",
    "pr_interval",
    "qrs_duration",
    "qtc_bazett",
    "p_axis",
    "qrs_axis",
    "sokolow_lyon",
    "cornell",
)

_WAVE_WORDS = {
    "P": "P amplitude",
    "Q": "Q amplitude",
    "R": "R amplitude",
    "S": "S amplitude",
    "T": "T amplitude",
    "ST": "ST level at J+60 ms",
}


def describe_feature(name: str) -> str:
    """A feature name as a clinician reads it: ``'II_ST'`` -> ``'ST level at J+60 ms in II'``."""
    lead, _, wave = name.rpartition("_")
    if lead in STANDARD_LEADS and wave in _WAVE_WORDS:
        return f"{_WAVE_WORDS[wave]} in {lead}"
    if name == "sex_male":
        return "sex"
    return name.replace("_", " ")


def feature_names() -> list[str]:
    names = list(GLOBAL_FEATURES)
    names += [f"{lead}_{wave}" for lead in STANDARD_LEADS for wave in LEAD_FEATURES]
    return names + ["age", "sex_male"]


def feature_vector(measurements: dict, age: float | None, sex: str | None) -> np.ndarray:
    """The classifier's input, in `feature_names()` order; NaN where missing (trees handle it)."""
    glob, per_lead = measurements["global"], measurements["leads"]
    vec = [glob[name].value for name in GLOBAL_FEATURES]
    for lead in STANDARD_LEADS:
        vec += [per_lead.get(lead, {}).get(w, NAN) for w in LEAD_FEATURES]
    vec.append(NAN if age is None else float(age))
    vec.append({"M": 1.0, "F": 0.0}.get(sex or "", NAN))
    return np.asarray(vec, dtype=np.float64)
