"""How the global QRS duration depends on the rule that merges the leads, on LUDB.

    .venv/bin/python benchmarks/qrs_global_rule.py [--split test]

For each record of the split (the delineator's deterministic LUDB split), the median QRS
duration over beats is computed from:

* the cardiologists' global beats (`hearteye.data.ludb.reference_beats`: per sample, inside
  the QRS if any lead's annotation says so: earliest onset to latest offset, the reference the
  shipped rule was chosen on), and the median over leads of each lead's own annotated QRS;
* the shipped model's per-lead probabilities merged by several rules: the ``k``-th highest
  probability over leads thresholded at ``thr`` (the shipped rule is k=2, thr=0.25), the mean
  over leads at 0.5, and the median over leads of each lead's own QRS.

Printed: each one's mean QRS and its difference to the cardiologists' global QRS (mean +- SD).
It shows how many milliseconds the merging convention alone is worth, which bounds what any
comparison with a device program (GE 12SL, Philips DXL: global onset / offset on the median
beat) can be expected to agree on.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from hearteye.data.annotations import read_annotation
from hearteye.data.ludb import LEAD_EXTENSIONS, build_master, reference_beats
from hearteye.data.masks import lead_masks
from hearteye.data.split import split_master
from hearteye.delineate.postprocess import beats_from_probs, runs
from hearteye.delineate.runtime import get_delineator
from hearteye.io import read_wfdb

DEFAULT_LUDB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ludb"
FS = 500.0
RULES = ((2, 0.25), (1, 0.5), (2, 0.5), (3, 0.5), (4, 0.5), (6, 0.5))


def median_qrs_ms(beats) -> float:
    v = [
        (b.qrs_offset - b.qrs_onset) * 1000.0 / FS
        for b in beats
        if b.qrs_onset is not None and b.qrs_offset is not None
    ]
    return float(np.median(v)) if v else math.nan


def kth_rule(prob: np.ndarray, k: int, thr: float) -> list:
    k = min(k, prob.shape[0])
    kth = np.partition(prob, prob.shape[0] - k, axis=0)[prob.shape[0] - k]
    return beats_from_probs(kth, FS, thr)


def lead_annotated_qrs_ms(base: str, n: int) -> float:
    per = []
    for ext in LEAD_EXTENSIONS:
        mask, _ = lead_masks(*read_annotation(f"{base}.{ext}"), n)
        r = runs(mask[:, 1])
        if len(r):
            per.append(float(np.median(r[:, 1] - r[:, 0] + 1)) * 1000.0 / FS)
    return float(np.median(per)) if per else math.nan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ludb", type=Path, default=DEFAULT_LUDB)
    ap.add_argument("--split", default="test", choices=["train", "val", "test"])
    args = ap.parse_args()
    rows = split_master(build_master(args.ludb))[args.split]
    delineator = get_delineator()
    res: dict[str, list[float]] = {}
    for row in rows.itertuples(index=False):
        out = delineator.delineate(read_wfdb(f"{row.path}.hea"))
        prob, n = out.prob, out.prob.shape[-1]
        vals = {
            "cardiologists, global (union)": median_qrs_ms(reference_beats(row.path, n)),
            "cardiologists, median of leads": lead_annotated_qrs_ms(row.path, n),
        }
        for k, thr in RULES:
            shipped = " (shipped)" if (k, thr) == (2, 0.25) else ""
            vals[f"model k={k} thr={thr}{shipped}"] = median_qrs_ms(kth_rule(prob, k, thr))
        vals["model mean over leads >= 0.5"] = median_qrs_ms(beats_from_probs(prob.mean(0), FS))
        vals["model median of leads"] = float(
            np.nanmedian([median_qrs_ms(b) for b in out.leads.values()])
        )
        for key, v in vals.items():
            res.setdefault(key, []).append(v)
    ref = np.asarray(res["cardiologists, global (union)"])
    print(f"LUDB {args.split}: {len(ref)} records; QRS duration (median over beats)")
    print(f"{'source / rule':36s} {'mean ms':>8s}  {'minus cardiologists global':>27s}")
    for key, v in res.items():
        d = np.asarray(v) - ref
        d = d[~np.isnan(d)]
        print(f"{key:36s} {np.nanmean(v):8.1f}  {d.mean():+16.1f} +- {d.std(ddof=1):5.1f}")


if __name__ == "__main__":
    main()
