"""Global PR, QRS and QT from the model's delineation vs from the cardiologists' annotations.

    python benchmarks/intervals_vs_reference.py [--ludb ../shared/data/ludb] [--split test]

On the LUDB test split (the same deterministic split the delineator was trained with:
`hearteye split --dataset ludb`, seed 0), each record is measured twice by the same code
(`hearteye.features.measure`): once on the shipped model's global beats
(`hearteye.analyze.measure_record`), once on the reference beats built from the 12 per-lead
annotations (`hearteye.data.ludb.reference_beats`). Printed: mean and SD of the difference
(model - reference) per interval, side by side with the IEC 60601-2-25 tolerances for
interval measurement (mean within 10 ms for PR and QRS, 25 ms for QT; SD within 10, 10, 30).

The same table follows for the intervals measured on the median beats (`Analysis.median_beats`,
the representative beat per lead delineated as a whole, as 12SL / DXL measure).

The last table is the axis sanity check on all 200 records: the share of records whose
QRS axis (signed net areas in I and aVF, model delineation) lies outside -30..90 degrees, by
LUDB's axis statement.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from hearteye.analyze import measure_record
from hearteye.data.ludb import build_master, reference_beats
from hearteye.data.split import split_master
from hearteye.features import measure
from hearteye.io import read_wfdb

DEFAULT_LUDB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ludb"
INTERVALS = {"pr_interval": (10.0, 10.0), "qrs_duration": (10.0, 10.0), "qt_interval": (25.0, 30.0)}


def reference_intervals(path: str, display, fs, leads, sex) -> dict:
    beats = reference_beats(path, display.shape[1])
    return measure(display, fs, leads, beats, sex)["global"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ludb", type=Path, default=DEFAULT_LUDB)
    ap.add_argument("--split", default="test", choices=["train", "val", "test", "all"])
    ap.add_argument("--skip-axes", action="store_true", help="skip the axis table (200 records)")
    args = ap.parse_args()

    master = build_master(args.ludb)
    parts = split_master(master)
    rows = master if args.split == "all" else parts[args.split]
    diffs: dict[str, list[float]] = {k: [] for k in INTERVALS}
    missing = {k: 0 for k in INTERVALS}
    med_diffs: dict[str, list[float]] = {k: [] for k in INTERVALS}
    med_missing = {k: 0 for k in INTERVALS}
    for row in rows.itertuples(index=False):
        record = read_wfdb(f"{row.path}.hea")
        m = measure_record(record)
        model = m.measurements["global"]
        ref = reference_intervals(row.path, m.display, m.fs, record.leads, record.meta.sex)
        for k in INTERVALS:
            a, b = model[k].value, ref[k].value
            if math.isnan(b):
                continue  # no reference value (no P wave annotated): nothing to compare
            med = (m.median or {}).get("intervals") or {}
            if med.get(k) is None:
                med_missing[k] += 1
            else:
                med_diffs[k].append(med[k] - b)
            if math.isnan(a):
                missing[k] += 1
                continue
            diffs[k].append(a - b)

    print(f"LUDB {args.split} split: {len(rows)} records; model - reference, global intervals")
    for title, dd, miss in (
        ("per-beat delineation, median over beats (the shipped measurements)", diffs, missing),
        ("delineation of the median beats (Analysis.median_beats)", med_diffs, med_missing),
    ):
        print(f"\n{title}")
        print(
            f"{'interval':14s} {'n':>4s} {'mean ms':>8s} {'SD ms':>7s} {'tol mean':>9s} "
            f"{'tol SD':>7s} {'missed':>7s}  verdict"
        )
        for k, (tol_mean, tol_sd) in INTERVALS.items():
            d = np.asarray(dd[k])
            mean, sd = (float(d.mean()), float(d.std(ddof=1))) if d.size > 1 else (math.nan,) * 2
            ok = abs(mean) <= tol_mean and sd <= tol_sd
            print(
                f"{k:14s} {d.size:4d} {mean:8.1f} {sd:7.1f} {tol_mean:9.0f} {tol_sd:7.0f} "
                f"{miss[k]:7d}  {'met' if ok else 'NOT met'}"
            )

    if args.skip_axes:
        return
    # Axis sanity on all records (model delineation).
    import pandas as pd

    table = pd.read_csv(args.ludb / "ludb.csv")
    axis_of = {
        str(int(i)): str(a).split(":")[-1].strip()
        for i, a in zip(table["ID"], table["Electric axis of the heart"], strict=True)
    }
    outside: dict[str, list[bool]] = {}
    for row in master.itertuples(index=False):
        record = read_wfdb(f"{row.path}.hea")
        axis = measure_record(record).measurements["global"]["qrs_axis"].value
        label = axis_of.get(row.record, "nan")
        outside.setdefault(label, []).append(not (-30.0 <= axis <= 90.0))
    print("\nQRS axis outside -30..90 degrees, by LUDB axis statement (all records)")
    for label, flags in sorted(outside.items()):
        print(f"  {label:24s} n={len(flags):3d}  outside {np.mean(flags):6.1%}")


if __name__ == "__main__":
    main()
