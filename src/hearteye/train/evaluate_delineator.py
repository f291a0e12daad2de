"""The delineation evaluator: the literature's LUDB protocol, for any delineator.

Protocol (Moskalenko et al. 2020, Joung et al. 2023, following Martinez et al. 2004):
- per lead: each lead's predicted boundaries are compared with that lead's own annotation;
- only inside the annotated region: LUDB leaves ~1 s at each end unannotated, so a predicted
  boundary that matches nothing and lies before the lead's first or after its last annotated
  sample is ignored (neither FP nor TP);
- a predicted boundary matches a reference boundary of the same kind when within the tolerance
  (150 ms, plus stricter ones); matching is one-to-one, closest pairs first;
- Se = TP / (TP + FN), PPV = TP / (TP + FP), F1 = 2 Se PPV / (Se + PPV); error = predicted -
  reference (ms) over matched pairs at 150 ms, reported as mean +- SD.

Pure numpy + wfdb: usable without torch (the NeuroKit2 benchmark goes through the same code).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hearteye.data.annotations import read_annotation
from hearteye.data.ludb import LEAD_EXTENSIONS
from hearteye.delineate.postprocess import FIELDS, Beat, boundaries
from hearteye.record import normalise_lead_name

TOLERANCE_MS = 150.0
STRICT_TOLERANCE_MS = {
    "p_onset": 50.0,
    "p_offset": 50.0,
    "qrs_onset": 40.0,
    "qrs_offset": 40.0,
    "t_offset": 100.0,
}
LABELS = {
    "p_onset": "P onset",
    "p_offset": "P offset",
    "qrs_onset": "QRS onset",
    "qrs_offset": "QRS offset",
    "t_offset": "T offset",
}
# The points LUDB also annotates, scored by the same protocol: T onset (the '(' of a 't'
# triplet) and the peaks (the middle symbol of a triplet; LUDB's QRS peak 'N' is the main
# deflection: R, or the nadir of a QS complex, `Beat.qrs_peak`). No published F1 to compare.
POINT_FIELDS = ("t_onset", "p_peak", "qrs_peak", "t_peak")
STRICT_TOLERANCE_MS.update({"t_onset": 100.0, "p_peak": 50.0, "qrs_peak": 40.0, "t_peak": 100.0})
LABELS.update(
    {"t_onset": "T onset", "p_peak": "P peak", "qrs_peak": "QRS peak", "t_peak": "T peak"}
)
EVALUATED = FIELDS + POINT_FIELDS
# Published F1 at 150 ms on LUDB (the acceptance anchors).
PUBLISHED_F1 = {
    "Moskalenko 2020": {
        "p_onset": 0.965,
        "p_offset": 0.964,
        "qrs_onset": 0.999,
        "qrs_offset": 0.999,
        "t_offset": 0.992,
    },
    "Joung 2023": {
        "p_onset": 0.972,
        "p_offset": 0.973,
        "qrs_onset": 0.995,
        "qrs_offset": 0.998,
        "t_offset": 0.995,
    },
}
# LUDB names each lead's annotation file by the lead in lower case ("avr" for aVR).
LUDB_LEAD_EXT = {normalise_lead_name(ext): ext for ext in LEAD_EXTENSIONS}


def reference_beats(samples: Iterable[int], symbols: Iterable[str]) -> list[Beat]:
    """A lead's LUDB annotation to reference boundaries, one `Beat` per annotated wave.

    Waves are parsed by `hearteye.data.masks.parse_waves` (the same parser that made the
    training masks, LUDB's quirks included); every boundary the annotator wrote counts, also
    of a wave missing its other bracket. Grouping waves into beats is not needed: the
    evaluator matches boundary lists.
    """
    from hearteye.data.masks import parse_waves

    samples = list(samples)
    out = []
    for w in parse_waves(samples, list(symbols), (max(samples) + 1) if samples else 0):
        if w.kind == "p":
            out.append(Beat(p_onset=w.onset, p_offset=w.offset, p_peak=w.peak))
        elif w.kind == "N":
            out.append(Beat(qrs_onset=w.onset, qrs_offset=w.offset, qrs_peak=w.peak))
        elif w.kind == "t":
            out.append(Beat(t_onset=w.onset, t_peak=w.peak, t_offset=w.offset))
    return out


def read_ludb_lead(base: str | Path, lead: str) -> tuple[dict[str, np.ndarray], tuple[int, int]]:
    """One LUDB lead's reference boundaries and its annotated region (first, last sample)."""
    samples, symbols = read_annotation(f"{base}.{LUDB_LEAD_EXT[lead]}")
    ref = boundaries(reference_beats(samples, symbols), EVALUATED)
    return ref, (int(samples.min()), int(samples.max()))


def match(
    ref: np.ndarray, pred: np.ndarray, tol: float, region: tuple[float, float] | None = None
) -> tuple[int, int, int, np.ndarray]:
    """One-to-one matching within ``tol`` samples, closest pairs first.

    Returns (TP, FN, FP, errors pred - ref of matched pairs). Unmatched predictions outside
    ``region`` are ignored (not FP).
    """
    ref = np.asarray(ref, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    pairs = []
    for j, p in enumerate(pred):
        lo = np.searchsorted(ref, p - tol, side="left")
        hi = np.searchsorted(ref, p + tol, side="right")
        for i in range(lo, hi):
            pairs.append((abs(ref[i] - p), i, j))
    pairs.sort()
    ref_used = np.zeros(len(ref), bool)
    pred_used = np.zeros(len(pred), bool)
    errors = []
    for _, i, j in pairs:
        if not ref_used[i] and not pred_used[j]:
            ref_used[i] = pred_used[j] = True
            errors.append(pred[j] - ref[i])
    tp = int(ref_used.sum())
    fn = len(ref) - tp
    unmatched = pred[~pred_used]
    if region is not None:
        unmatched = unmatched[(unmatched >= region[0]) & (unmatched <= region[1])]
    return tp, fn, len(unmatched), np.asarray(errors)


@dataclass
class Tally:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    errors: list = field(default_factory=list)

    def add(self, tp: int, fn: int, fp: int, errors: np.ndarray | None = None) -> None:
        self.tp += tp
        self.fn += fn
        self.fp += fp
        if errors is not None:
            self.errors.extend(np.asarray(errors, dtype=np.float64).tolist())

    def summary(self, fs: float | None = None) -> dict:
        se = self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")
        ppv = self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")
        f1 = 2 * se * ppv / (se + ppv) if se + ppv > 0 else 0.0
        out = {"tp": self.tp, "fn": self.fn, "fp": self.fp, "se": se, "ppv": ppv, "f1": f1}
        if fs is not None:
            e = np.asarray(self.errors) * 1000.0 / fs
            out["error_mean_ms"] = float(e.mean()) if e.size else float("nan")
            out["error_sd_ms"] = float(e.std()) if e.size else float("nan")
        return out


class Evaluator:
    """Accumulates per-lead comparisons; `report` gives the table for every boundary."""

    def __init__(self, fs: float = 500.0) -> None:
        self.fs = fs
        self.main = {f: Tally() for f in EVALUATED}
        self.strict = {f: Tally() for f in EVALUATED}
        self.n_leads = 0

    def add_lead(
        self, ref: dict[str, np.ndarray], pred: dict[str, np.ndarray], region: tuple[int, int]
    ) -> None:
        self.n_leads += 1
        for f in EVALUATED:
            if f not in ref or f not in pred:
                continue  # a delineator (or reference) without that point is not scored on it
            tol = TOLERANCE_MS * self.fs / 1000.0
            self.main[f].add(*match(ref[f], pred[f], tol, region))
            tol = STRICT_TOLERANCE_MS[f] * self.fs / 1000.0
            tp, fn, fp, _ = match(ref[f], pred[f], tol, region)
            self.strict[f].add(tp, fn, fp)

    def report(self) -> dict:
        protocol = {
            "tolerance_ms": TOLERANCE_MS,
            "strict_tolerance_ms": STRICT_TOLERANCE_MS,
            "per_lead": True,
            "annotated_region_only": True,
            "matching": "one-to-one, closest first",
        }
        out = {"protocol": protocol, "n_leads": self.n_leads, "boundaries": {}}
        for f in EVALUATED:
            if not self.main[f].tp + self.main[f].fn + self.main[f].fp:
                continue
            row = self.main[f].summary(self.fs)
            row[f"f1_at_{STRICT_TOLERANCE_MS[f]:g}ms"] = self.strict[f].summary()["f1"]
            out["boundaries"][f] = row
        return out


def evaluate_ludb(
    bases: Iterable[str | Path],
    delineate_leads: Callable[[object], dict[str, list[Beat]]],
    evaluator: Evaluator | None = None,
) -> dict:
    """Run ``delineate_leads(record) -> {lead: [Beat (samples at 500 Hz)]}`` on LUDB records.

    ``bases`` are record paths without extension; the record is read with the project reader.
    """
    from hearteye.io.wfdb import read_wfdb

    ev = evaluator or Evaluator(500.0)
    n = 0
    for base in bases:
        record = read_wfdb(base)
        per_lead = delineate_leads(record)
        for lead in record.leads:
            if lead not in LUDB_LEAD_EXT:
                continue
            ref, region = read_ludb_lead(base, lead)
            ev.add_lead(ref, boundaries(per_lead.get(lead, []), EVALUATED), region)
        n += 1
    rep = ev.report()
    rep["n_records"] = n
    return rep


def markdown_table(report: dict, title: str = "") -> str:
    """The model card table: one row per boundary, published F1 alongside."""
    lines = []
    if title:
        lines += [title, ""]
    lines += [
        "| boundary | Se | PPV | F1 @150 ms | error ms (mean +- SD) | F1 strict (tol) "
        "| Moskalenko 2020 F1 | Joung 2023 F1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in EVALUATED:
        if f not in report["boundaries"]:
            continue
        r = report["boundaries"][f]
        tol = STRICT_TOLERANCE_MS[f]
        published = [PUBLISHED_F1[k].get(f) for k in ("Moskalenko 2020", "Joung 2023")]
        lines.append(
            f"| {LABELS[f]} | {r['se']:.4f} | {r['ppv']:.4f} | **{r['f1']:.4f}** | "
            f"{r['error_mean_ms']:+.1f} +- {r['error_sd_ms']:.1f} | "
            f"{r[f'f1_at_{tol:g}ms']:.4f} ({tol:g} ms) | "
            + " | ".join("-" if v is None else f"{v:.3f}" for v in published)
            + " |"
        )
    return "\n".join(lines)


def write_report(report: dict, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(report, indent=2, allow_nan=True) + "\n")


def ludb_paths(split_csv: str | Path) -> list[str]:
    """Record paths (without extension) of the LUDB rows of a split CSV (`hearteye split`)."""
    import pandas as pd

    df = pd.read_csv(split_csv, dtype=str)
    if "mask_source" in df.columns:
        df = df[df["mask_source"] == "ludb"]
    return df["path"].tolist()


def evaluate_model(
    split_csv: str | Path, model_path: str | Path | None = None, threads: int = 1
) -> dict:
    """The shipped ONNX delineator on the records of ``split_csv`` (the LUDB test split)."""
    import time

    from hearteye.delineate.runtime import Delineator

    delineator = Delineator(model_path, threads=threads)
    seconds = []

    def run(record):
        t0 = time.perf_counter()
        out = delineator.delineate(record)
        seconds.append(time.perf_counter() - t0)
        return out.leads

    report = evaluate_ludb(ludb_paths(split_csv), run)
    report["model"] = delineator.version
    report["split_csv"] = str(split_csv)
    report["ms_per_record_incl_preprocessing"] = 1000.0 * float(np.median(seconds))
    return report


def update_model_card(card: str | Path, table: str) -> None:
    """Replace the delineation results table of the model card (or append it)."""
    from hearteye.train.model_card import replace_section

    replace_section(card, "delineation-table", table)
