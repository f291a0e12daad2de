"""Warm `analyze` time per record over all LUDB records, one process, side by side with the
time to read the same record (the baseline every request pays anyway).

    python benchmarks/analyze_speed.py [--data ../shared/data/ludb/data]

Goal: every LUDB record analysed in under 100 ms once the models are loaded.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from hearteye.analyze import analyze
from hearteye.io import read_record

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ludb" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()
    headers = sorted(args.data.glob("*.hea"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
    analyze(read_record(headers[0]))  # load the models once (warm)
    read_ms, analyze_ms = [], []
    for h in headers:
        t0 = time.perf_counter()
        record = read_record(h)
        t1 = time.perf_counter()
        analyze(record)
        t2 = time.perf_counter()
        read_ms.append(1000 * (t1 - t0))
        analyze_ms.append(1000 * (t2 - t1))
    r, a = np.asarray(read_ms), np.asarray(analyze_ms)
    print(f"{len(headers)} LUDB records, warm, one process")
    print(f"{'':10s} {'median':>8s} {'p95':>8s} {'max':>8s}   (ms)")
    for name, v in (("read", r), ("analyze", a)):
        print(f"{name:10s} {np.median(v):8.1f} {np.percentile(v, 95):8.1f} {v.max():8.1f}")
    print(
        f"analyze / read at the median: {np.median(a) / np.median(r):.0f}x; "
        f"records over 100 ms: {(a > 100).sum()} (goal 0)"
    )


if __name__ == "__main__":
    main()
