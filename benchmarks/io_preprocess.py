"""Read + preprocess throughput over LUDB, side by side with plain `wfdb.rdrecord`.

    python benchmarks/io_preprocess.py [--data ../shared/data/ludb/data] [--repeats 3]

Prints records per second for: wfdb.rdrecord alone (the baseline), HeartEye's reader alone,
and HeartEye's reader + the full default preprocessing chain; then the ratio of total time to
read-only time (goal: <= 2, i.e. preprocessing costs no more than reading). Passes are
interleaved and the best of ``--repeats`` is kept, so a noisy neighbour hurts both sides alike.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import wfdb

from hearteye.io import read_wfdb
from hearteye.signal import preprocess

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ludb" / "data"


def timed(fn, paths) -> float:
    start = time.perf_counter()
    for p in paths:
        fn(p)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    headers = sorted(args.data.glob("*.hea"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
    if not headers:
        raise SystemExit(f"no .hea files under {args.data}")
    bases = [str(p.with_suffix("")) for p in headers]

    passes = {
        "wfdb.rdrecord (baseline)": (lambda b: wfdb.rdrecord(b), bases),
        "hearteye read": (read_wfdb, headers),
        "hearteye read + preprocess": (lambda p: preprocess(read_wfdb(p)), headers),
    }
    best = {name: float("inf") for name in passes}
    for _ in range(args.repeats):
        for name, (fn, items) in passes.items():
            best[name] = min(best[name], timed(fn, items))

    n = len(headers)
    base = best["wfdb.rdrecord (baseline)"]
    print(f"{n} LUDB records (12 leads x 5000 samples), best of {args.repeats} interleaved passes")
    print(f"{'pass':32s} {'records/s':>10s} {'ms/record':>10s} {'x baseline':>10s}")
    for name, secs in best.items():
        print(f"{name:32s} {n / secs:10.1f} {1000 * secs / n:10.2f} {secs / base:10.2f}")
    ratio = best["hearteye read + preprocess"] / base
    verdict = "met" if ratio <= 2.0 else "NOT met"
    print(f"ratio total / read-only = {ratio:.2f} (goal <= 2.00: {verdict})")


if __name__ == "__main__":
    main()
