"""Target masks for delineation training: P wave, QRS complex, QT interval. Pure functions.

Conventions (the delineation engineer trains and evaluates on exactly these):

* A mask is ``uint8 [n_samples, 3]`` with channels ``(P, QRS, QT)``; a validity vector is
  ``uint8 [n_samples]``, 1 where the sample's mask value is known and may be taught.
* A wave annotated with onset ``on`` and offset ``off`` covers samples ``on..off``
  **inclusive** at both ends. QT covers QRS onset ..T offset of the same beat, inclusive.
* **Per-lead validity** (`lead_masks`): from the lead's first annotated onset ``(`` to its
  last annotated offset ``)``, inclusive (LUDB leaves ~1 s at each end unannotated; those
  samples must not be taught as "no wave"). Inside that span, samples are made invalid where
  the annotation is incomplete, so no wave of unknown extent is taught as background:
  - a peak without onset: from just after the previous annotation to its offset (or peak);
  - a peak without offset: from its onset (or peak) to just before the next annotation;
  - an onset/offset pair without a peak (wave of unknown type), or an orphan ``(`` / ``)``:
    the bracketed stretch, or up to the neighbouring annotation;
  - a complete QRS whose T is not annotated (QT end unknown): QRS onset to just before the
    next QRS (or the span end); a complete T whose QRS is incomplete: back to that QRS.
* **Global masks** (`combine_leads`): a sample belongs to a wave when *any* annotated lead
  says so. For one wave annotated in several leads whose intervals overlap (they do: each
  lead brackets the same beat), this is exactly *earliest onset across leads to latest offset
  across leads*, the convention of global intervals (CSE / IEC 60601-2-25). Global validity
  is the intersection of the leads' validity: a sample is taught only where every
  lead with a valid stretch has spoken. A lead with no valid sample (no annotation, or LUDB
  leads where only QRS complexes were marked, so every QT is unknown) does not veto global
  validity, but its complete waves still count in the union: they are positive statements.
* Annotation samples at the original rate map to the target rate as
  ``round(i * fs_to / fs_from)`` (`rescale_samples`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

CHANNELS: tuple[str, ...] = ("P", "QRS", "QT")
P, QRS, QT = 0, 1, 2
_PEAKS = {"p": P, "N": QRS, "t": None}  # 't' is the T peak: no channel of its own


class Wave(NamedTuple):  # a tuple, not a dataclass: ~1,000 are built per record
    kind: str  # 'p', 'N', 't', or '?' for an onset/offset pair with no peak
    onset: int | None
    peak: int | None
    offset: int | None
    before: int  # sample of the previous annotation (-1 if none): bound for a missing onset
    after: int  # sample of the next annotation (n if none): bound for a missing offset

    @property
    def complete(self) -> bool:
        return self.kind != "?" and self.onset is not None and self.offset is not None


def rescale_samples(samples: np.ndarray, fs_from: float, fs_to: float) -> np.ndarray:
    """Annotation sample indices at ``fs_from`` -> indices at ``fs_to``: round(i * to / from)."""
    samples = np.asarray(samples, dtype=np.int64)
    if fs_from == fs_to:
        return samples
    return np.rint(samples * (fs_to / fs_from)).astype(np.int64)


def parse_waves(samples, symbols, n: int) -> list[Wave]:
    """Group a lead's annotation stream ``( peak )`` into waves, tolerating LUDB's quirks.

    Besides the regular ``( p )``, ``( N )``, ``( t )`` triplets, LUDB has peaks without one or
    both brackets (mostly the first and last beats), a few onsets written one sample after
    their peak (``N ( )``), bracket pairs without a peak, and orphan brackets.
    """
    s = [int(v) for v in samples]
    y = list(symbols)
    m = len(s)
    waves: list[Wave] = []

    def bound(k: int, default: int) -> int:
        return s[k] if 0 <= k < m else default

    i = 0
    while i < m:
        sym = y[i]
        nxt = y[i + 1] if i + 1 < m else ""
        nxt2 = y[i + 2] if i + 2 < m else ""
        if sym == "(":
            if nxt in _PEAKS and nxt2 == ")":
                waves.append(Wave(nxt, s[i], s[i + 1], s[i + 2], bound(i - 1, -1), bound(i + 3, n)))
                i += 3
            elif nxt in _PEAKS:  # onset and peak, offset missing
                waves.append(Wave(nxt, s[i], s[i + 1], None, bound(i - 1, -1), bound(i + 2, n)))
                i += 2
            elif nxt == ")":  # a bracketed wave of unknown type
                waves.append(Wave("?", s[i], None, s[i + 1], bound(i - 1, -1), bound(i + 2, n)))
                i += 2
            else:  # orphan onset
                waves.append(Wave("?", s[i], None, None, bound(i - 1, -1), bound(i + 1, n)))
                i += 1
        elif sym in _PEAKS:
            if nxt == "(" and nxt2 == ")":  # onset written just after the peak
                on = min(s[i], s[i + 1])
                waves.append(Wave(sym, on, s[i], s[i + 2], bound(i - 1, -1), bound(i + 3, n)))
                i += 3
            elif nxt == ")":
                waves.append(Wave(sym, None, s[i], s[i + 1], bound(i - 1, -1), bound(i + 2, n)))
                i += 2
            else:
                waves.append(Wave(sym, None, s[i], None, bound(i - 1, -1), bound(i + 1, n)))
                i += 1
        else:  # orphan offset, or a symbol LUDB does not use
            waves.append(Wave("?", None, None, s[i], bound(i - 1, -1), bound(i + 1, n)))
            i += 1
    return waves


def _extent(w: Wave) -> tuple[int, int]:
    """Inclusive stretch a wave may occupy: known boundaries, else up to its neighbours."""
    known = [v for v in (w.onset, w.peak, w.offset) if v is not None]
    lo = w.onset if w.onset is not None else w.before + 1
    hi = w.offset if w.offset is not None else w.after - 1
    return min([lo, *known]), max([hi, *known])


def lead_masks(samples, symbols, n: int) -> tuple[np.ndarray, np.ndarray]:
    """One lead's annotation (samples at the mask's rate, symbols) -> (mask [n, 3], valid [n]).

    See the module docstring for the exact rules. A lead with no annotation at all gets an
    all-zero mask and an all-zero validity.
    """
    mask = np.zeros((n, 3), dtype=np.uint8)
    valid = np.zeros(n, dtype=np.uint8)
    waves = parse_waves(samples, symbols, n)
    onsets = [w.onset for w in waves if w.onset is not None]
    offsets = [w.offset for w in waves if w.offset is not None]
    if not onsets or not offsets or max(offsets) < min(onsets):
        return mask, valid
    lo, hi = max(min(onsets), 0), min(max(offsets), n - 1)
    valid[lo : hi + 1] = 1

    invalid: list[tuple[int, int]] = []
    for w in waves:
        if not w.complete:
            invalid.append(_extent(w))
        elif _PEAKS[w.kind] is not None:
            mask[max(w.onset, 0) : w.offset + 1, _PEAKS[w.kind]] = 1

    # QT: pair each QRS with the first T after it and before the next QRS.
    qrs_idx = [k for k, w in enumerate(waves) if w.kind == "N"]
    for j, k in enumerate(qrs_idx):
        q = waves[k]
        stop = qrs_idx[j + 1] if j + 1 < len(qrs_idx) else len(waves)
        t = next((waves[x] for x in range(k + 1, stop) if waves[x].kind == "t"), None)
        next_q = waves[stop] if stop < len(waves) else None
        if q.complete and t is not None and t.complete:
            mask[max(q.onset, 0) : t.offset + 1, QT] = 1
        elif q.complete:  # the beat's T end is unknown: QT extent unknown
            end = _extent(next_q)[0] - 1 if next_q is not None else n - 1
            invalid.append((q.onset, end))
        elif t is not None and t.complete:  # QT start unknown: from the QRS stretch to T end
            invalid.append((_extent(q)[0], t.offset))
    # A T before the first QRS of the lead belongs to a beat whose QRS lies outside the
    # annotated span; its QT is unknown from the span start.
    first_q = qrs_idx[0] if qrs_idx else len(waves)
    for w in waves[:first_q]:
        if w.kind == "t":
            invalid.append((lo, _extent(w)[1]))

    for a, b in invalid:
        valid[max(a, 0) : min(b, n - 1) + 1] = 0
    return mask, valid


def combine_leads(masks: np.ndarray, valids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-lead masks ``[lead, n, 3]`` and validity ``[lead, n]`` -> global ``[n, 3]``, ``[n]``.

    Union of all leads' masks (earliest onset / latest offset for overlapping intervals of
    one wave), validity = intersection over the leads that have any valid sample.
    """
    n = masks.shape[1]
    mask = masks.max(axis=0) if len(masks) else np.zeros((n, 3), np.uint8)
    with_validity = valids.any(axis=1)
    if not with_validity.any():
        return mask.astype(np.uint8), np.zeros(n, np.uint8)
    return mask.astype(np.uint8), valids[with_validity].min(axis=0).astype(np.uint8)


def template_masks(
    qrs_centres: np.ndarray, fiducials_ms: dict, fs: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Place one representative beat (machine measurements) on every detected QRS.

    ``fiducials_ms`` holds ``p_onset, p_end, qrs_onset, qrs_end, t_end`` in ms on the
    machine's representative-beat time base. The template is rounded to samples and shifted
    so that its QRS midpoint (floor of the mean of the QRS onset and end samples) falls on the
    detected QRS centre (``qrs_centres``, samples at ``fs``). Beats
    whose P onset or T end would fall outside ``0..n-1`` are dropped; validity runs from the
    first kept beat's P onset to the last kept beat's T end (inclusive).
    """
    # Round the template to samples once, anchored on its QRS midpoint (floored), so every
    # placed beat has exactly the same widths.
    t = {k: int(np.rint(float(v) * fs / 1000.0)) for k, v in fiducials_ms.items()}
    anchor = (t["qrs_onset"] + t["qrs_end"]) // 2
    rel = {k: v - anchor for k, v in t.items()}
    mask = np.zeros((n, 3), dtype=np.uint8)
    valid = np.zeros(n, dtype=np.uint8)
    kept = []
    for c in np.asarray(qrs_centres, dtype=np.int64).tolist():
        b = {k: c + v for k, v in rel.items()}
        if b["p_onset"] < 0 or b["t_end"] > n - 1:
            continue
        mask[b["p_onset"] : b["p_end"] + 1, P] = 1
        mask[b["qrs_onset"] : b["qrs_end"] + 1, QRS] = 1
        mask[b["qrs_onset"] : b["t_end"] + 1, QT] = 1
        kept.append(b)
    if kept:
        valid[kept[0]["p_onset"] : kept[-1]["t_end"] + 1] = 1
    return mask, valid
