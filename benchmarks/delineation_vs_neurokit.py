"""HeartEye's ONNX delineator vs NeuroKit2's DWT delineator, same records, same evaluator.

    .venv/bin/python benchmarks/delineation_vs_neurokit.py \
        [--split-csv hearteye-data/splits/ludb/test_records.csv]
        [--model src/hearteye/models/delineator.onnx]

Prints, for the LUDB test split (per lead, annotated region only, 150 ms tolerance and the
strict ones): F1 per boundary for both delineators side by side with the ratio, and the
milliseconds per 10 s 12-lead record for both (1 thread for ONNX Runtime). Then two speed
checks: the model alone on one 12-lead 10 s window, and a 15-minute 2-lead 250 Hz record
(real LUDB leads II and V5, resampled to 250 Hz and concatenated) delineated end to end.

NeuroKit2 side: per lead, ``nk.ecg_peaks`` for the R peaks, then
``nk.ecg_delineate(method="dwt")``; its P onsets/offsets, R onsets/offsets (QRS) and T offsets
are what the evaluator matches. Its own default cleaning is used (``ecg_peaks`` cleans
internally); the signal is the record in mV as read.

Without ``--split-csv`` it reads the README's LUDB split and, when that is missing (a fresh
clone), makes it first with ``hearteye split --dataset ludb`` (seed 0: the split the shipped
model was evaluated on).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from hearteye.delineate.postprocess import Beat  # noqa: E402
from hearteye.delineate.runtime import Delineator  # noqa: E402
from hearteye.io.wfdb import read_wfdb  # noqa: E402
from hearteye.record import Record  # noqa: E402
from hearteye.signal import resample  # noqa: E402
from hearteye.train.evaluate_delineator import (  # noqa: E402
    FIELDS,
    LABELS,
    STRICT_TOLERANCE_MS,
    Evaluator,
    evaluate_ludb,
    ludb_paths,
)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HEARTEYE_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_SPLIT = REPO / "hearteye-data/splits/ludb/test_records.csv"
NK_KEYS = {
    "p_onset": "ECG_P_Onsets",
    "p_offset": "ECG_P_Offsets",
    "qrs_onset": "ECG_R_Onsets",
    "qrs_offset": "ECG_R_Offsets",
    "t_offset": "ECG_T_Offsets",
}


def neurokit_lead(x: np.ndarray, fs: float) -> list[Beat]:
    import neurokit2 as nk

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, info = nk.ecg_peaks(x, sampling_rate=int(fs))
            rpeaks = info["ECG_R_Peaks"]
            if len(rpeaks) < 3:
                return []
            _, waves = nk.ecg_delineate(x, rpeaks, sampling_rate=int(fs), method="dwt")
    except Exception:  # NeuroKit raises on some leads; that lead then finds nothing
        return []
    beats = []
    n = max(len(v) for v in waves.values())
    for i in range(n):
        b = Beat()
        for f, key in NK_KEYS.items():
            vals = waves.get(key, [])
            v = vals[i] if i < len(vals) else np.nan
            setattr(b, f, None if v is None or not np.isfinite(v) else float(v))
        beats.append(b)
    return beats


def ensure_default_split(split_csv: Path) -> None:
    """Make the README's LUDB split when the default one is missing (a fresh clone)."""
    if split_csv.is_file() or split_csv != DEFAULT_SPLIT:
        return
    ludb = SHARED_DATA / "ludb"
    if not ludb.is_dir():
        sys.exit(f"LUDB not found at {ludb} (set HEARTEYE_SHARED_DATA) to make {split_csv}")
    print(f"{split_csv} is missing: making it with `hearteye split --dataset ludb`")
    from hearteye.cli import main as hearteye

    cmd = ["split", "--dataset", "ludb", "--root", str(ludb), "--out", str(split_csv.parent)]
    hearteye(cmd, standalone_mode=False)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split-csv", type=Path, default=DEFAULT_SPLIT)
    ap.add_argument("--model", default=None)
    ap.add_argument("--limit", type=int, default=None, help="first N records only")
    args = ap.parse_args()
    ensure_default_split(args.split_csv)
    paths = ludb_paths(args.split_csv)[: args.limit]
    print(f"LUDB test split: {len(paths)} records ({args.split_csv})")

    model = Delineator(args.model, threads=1)
    t_model, t_nk = [], []

    def run_model(record):
        t0 = time.perf_counter()
        out = model.delineate(record)
        t_model.append(time.perf_counter() - t0)
        return out.leads

    def run_nk(record):
        t0 = time.perf_counter()
        out = {
            lead: neurokit_lead(record.signal[i].astype(np.float64), record.fs)
            for i, lead in enumerate(record.leads)
        }
        t_nk.append(time.perf_counter() - t0)
        return out

    ours = evaluate_ludb(paths, run_model, Evaluator(500.0))
    theirs = evaluate_ludb(paths, run_nk, Evaluator(500.0))

    print(
        f"\n{'boundary':<11} {'F1 HeartEye':>11} {'F1 NeuroKit':>11} {'ratio':>6}   "
        f"{'strict tol':>10} {'HeartEye':>8} {'NeuroKit':>8}   "
        f"{'err HeartEye ms':>16} {'err NeuroKit ms':>16}"
    )
    for f in FIELDS:
        a, b = ours["boundaries"][f], theirs["boundaries"][f]
        k = f"f1_at_{STRICT_TOLERANCE_MS[f]:g}ms"
        ratio = a["f1"] / b["f1"] if b["f1"] else float("inf")
        print(
            f"{LABELS[f]:<11} {a['f1']:>11.4f} {b['f1']:>11.4f} {ratio:>6.2f}   "
            f"{STRICT_TOLERANCE_MS[f]:>8g}ms {a[k]:>8.4f} {b[k]:>8.4f}   "
            f"{a['error_mean_ms']:>+7.1f} +-{a['error_sd_ms']:>6.1f} "
            f"{b['error_mean_ms']:>+7.1f} +-{b['error_sd_ms']:>6.1f}"
        )
    # End-to-end speed, warm, measured apart from the evaluation loop: every record 5 times,
    # the median (the machine may be shared; the evaluation-loop median is printed too).
    records = [read_wfdb(p) for p in paths]
    warm = []
    for rec in records:
        for _ in range(5):
            t0 = time.perf_counter()
            model.delineate(rec)
            warm.append(time.perf_counter() - t0)
    ms_ours, ms_nk = 1000 * np.median(warm), 1000 * np.median(t_nk)
    print(
        f"\nms per 10 s 12-lead record, preprocess -> ONNX (1 thread) -> boundaries: "
        f"HeartEye {ms_ours:.1f} (evaluation loop {1000 * np.median(t_model):.1f})  "
        f"NeuroKit2 {ms_nk:.1f}  -> {ms_nk / ms_ours:.0f}x faster"
    )

    # Model alone, 1 thread, one 12-lead 10 s window (the < 20 ms criterion).
    x = np.random.default_rng(0).standard_normal((1, 12, 5056)).astype(np.float32)
    rec = read_wfdb(paths[0])
    from hearteye.signal import PreprocessConfig, preprocess

    pp = preprocess(rec, PreprocessConfig())
    x[0, :, :5000] = pp.signal
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        model._run(x)
        times.append(time.perf_counter() - t0)
    print(
        f"ONNX model only, 12 x 5000 samples, 1 thread: median {1000 * np.median(times):.1f} ms,"
        f" min {1000 * np.min(times):.1f} ms"
    )

    # 15 minutes, 2 leads, 250 Hz, from real LUDB leads II and V5.
    all_paths = sorted((SHARED_DATA / "ludb" / "data").glob("*.hea"), key=lambda p: int(p.stem))
    pieces = []
    for p in all_paths[:90]:
        r = read_wfdb(p)
        two = np.stack([r.lead("II"), r.lead("V5")])
        pieces.append(resample(two, r.fs, 250.0)[0])
    long = Record(signal=np.concatenate(pieces, axis=1), fs=250.0, leads=("II", "V5"))
    t0 = time.perf_counter()
    out = model.delineate(long)
    dt = time.perf_counter() - t0
    print(
        f"15-minute 2-lead 250 Hz record ({long.duration / 60:.1f} min, {long.n_samples} "
        f"samples): {dt:.2f} s end to end, {len(out.beats)} beats "
        f"({sum(b.qrs_onset is not None for b in out.beats)} with QRS)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
