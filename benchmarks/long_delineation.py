"""Memory and time of delineating a 24 h two-lead 250 Hz Holter record (the model step alone).

    .venv/bin/python benchmarks/long_delineation.py [--hours 24] [--analyze]

The record is real signal (LUDB record 1, leads II and V1, resampled to 250 Hz) tiled to the
length asked, held as a `Record` (173 MB for 24 h). Measured, each as the process's peak RSS
(``VmHWM``, reset through ``/proc/self/clear_refs`` just before the step) minus its RSS
before the step, and the absolute peak (Linux only):

1. `Delineator.delineate(record)`: a record this long (over 300 s) is preprocessed and
   delineated chunk by chunk (`hearteye.chunks`): it holds the record, one chunk and the beats;
2. the record held whole, for comparison (what `hearteye.analyze` did before it streamed long
   records; a record up to 300 s is still held): `preprocess` (the 500 Hz copy alone is
   2 x 43.2 M float32 samples, 346 MB) and then `delineate_preprocessed`, which streams its
   probabilities in bounded blocks;
3. with ``--analyze``, the whole `analyze` (no max_seconds), which streams it too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LUDB_RECORD = REPO / "tests" / "fixtures" / "ludb" / "1"


def status_mb(field: str) -> float:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def reset_peak() -> float:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return status_mb("VmRSS")


def main() -> None:
    from scipy.signal import resample_poly

    from hearteye.delineate.runtime import get_delineator
    from hearteye.io.wfdb import read_wfdb
    from hearteye.record import Record
    from hearteye.signal import preprocess

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument(
        "--analyze",
        action="store_true",
        help="also run the whole `hearteye.analyze.analyze` (no max_seconds) and report its peak",
    )
    args = ap.parse_args()
    rec = read_wfdb(LUDB_RECORD)
    two = resample_poly(rec.signal[[1, 6]], 1, 2, axis=1).astype(np.float32)
    n = int(args.hours * 3600 * 250)
    sig = np.tile(two, (1, n // two.shape[1] + 1))[:, :n]
    del two
    record = Record(signal=sig, fs=250.0, leads=("II", "V1"))
    delineator = get_delineator()
    base = reset_peak()
    t0 = time.perf_counter()
    streamed = delineator.delineate(record)  # > 300 s: chunk by chunk
    t_stream = time.perf_counter() - t0
    stream_mb = status_mb("VmHWM") - base
    stream_peak = status_mb("VmHWM")
    n_stream = len(streamed.beats)
    del streamed
    base = reset_peak()
    t0 = time.perf_counter()
    pp = preprocess(record)
    t_pre = time.perf_counter() - t0
    pre_mb = status_mb("VmHWM") - base
    base = reset_peak()
    t0 = time.perf_counter()
    d = delineator.delineate_preprocessed(pp, record.fs)
    t_del = time.perf_counter() - t0
    del_mb = status_mb("VmHWM") - base
    print(f"record: {args.hours:g} h, 2 leads, 250 Hz ({sig.nbytes / 1e6:.0f} MB as float32)")
    print(
        f"Delineator.delineate (chunked): {t_stream:7.1f} s  +{stream_mb:6.0f} MB peak over the "
        f"record; process peak {stream_peak:.0f} MB ({n_stream} global beats)"
    )
    print("the record held whole (what analyze did before it streamed long records):")
    print(f"preprocess : {t_pre:7.1f} s  +{pre_mb:6.0f} MB peak over its input")
    print(
        f"delineation: {t_del:7.1f} s  +{del_mb:6.0f} MB peak over its input "
        f"({len(d.beats)} global beats, prob kept: {d.prob is not None})"
    )
    print(f"process peak RSS during delineation: {status_mb('VmHWM'):.0f} MB")
    if args.analyze:
        from hearteye.analyze import analyze

        del d, pp
        base = reset_peak()
        t0 = time.perf_counter()
        a = analyze(record)
        print(
            f"analyze    : {time.perf_counter() - t0:7.1f} s  +{status_mb('VmHWM') - base:6.0f} MB "
            f"peak over the record ({len(a.beats)} beats); process peak "
            f"{status_mb('VmHWM'):.0f} MB"
        )


if __name__ == "__main__":
    main()
