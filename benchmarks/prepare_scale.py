"""How `hearteye prepare` scales: records/s for 1 and 2 workers, peak RSS for 200 and 2,000
records (LUDB's 200 records, then the same repeated 10 times under new record ids).

    .venv/bin/python benchmarks/prepare_scale.py [--ludb ../shared/data/ludb] [--workers 2]

Each configuration runs `hearteye prepare` in a fresh child process; a sampler polls the RSS
of that process and all its descendants (psutil, every 20 ms; descendants listed anew
every 0.5 s) and keeps the peak. Throughput
is records over the prepare call's own wall time (from the manifest: interpreter start-up
excluded, layout, writing and df_info included). The configurations run interleaved
(``--repeat`` rounds of 1 worker then N workers, for each size). Throughput is the median of
a configuration's rounds and the speed-up the median of the rounds' own ratios (the two runs
of a round are seconds apart, so they share the machine's mood): a burst of load elsewhere on
a small virtual machine does not decide a figure. Peak RSS is the largest of the rounds.
Each run's output is deleted once measured, so dirty pages of earlier runs do not pile up.
Goals: peak RSS at 2,000 within 1.2x of 200; 2 workers >= 1.7x one worker; one
worker >= 100 records/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from child_usage import run_measured  # noqa: E402

from hearteye.data.master import build_master  # noqa: E402


def run(csv: Path, out: Path, workers: int) -> tuple[float, int, float, dict]:
    cmd = [sys.executable, "-m", "hearteye.cli", "prepare", str(csv), "--out", str(out)]
    usage = run_measured([*cmd, "--workers", str(workers)])
    manifest = json.loads((out / csv.stem.removesuffix("_records") / "manifest.json").read_text())
    shutil.rmtree(out)
    # CPU seconds of the child and its (joined) workers, interpreter start-up included: the
    # cost of the work whatever else competes for the cores.
    return manifest["run"]["seconds"], usage.peak_rss, usage.cpu_s, manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ludb", type=Path, default=REPO.parent / "shared" / "data" / "ludb")
    ap.add_argument("--workers", type=int, default=2, help="the parallel configuration")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds per size")
    args = ap.parse_args()
    master = build_master("ludb", args.ludb).assign(split="bench")
    with tempfile.TemporaryDirectory(prefix="prepare_scale_") as tmp:
        tmp = Path(tmp)
        sizes = {}
        for reps in (1, 10):
            frames = [
                master.assign(
                    record=master["record"] + f"-{k}", patient=master["patient"] + f"-{k}"
                )
                for k in range(reps)
            ]
            import pandas as pd

            csv = tmp / f"n{len(master) * reps}" / "bench_records.csv"
            csv.parent.mkdir()
            pd.concat(frames, ignore_index=True).to_csv(csv, index=False)
            sizes[len(master) * reps] = csv
        runs = {}
        for n, csv in sizes.items():
            for _ in range(args.repeat):
                for w in (1, args.workers):
                    secs, peak, cpu, manifest = run(csv, csv.parent / f"out_w{w}", w)
                    assert manifest["windows"] == n and manifest["failed"] == 0, manifest
                    runs.setdefault((n, w), []).append((n / secs, peak / 2**20))
                    ratio = (
                        ""
                        if w == 1
                        else f", x{n / secs / runs[n, 1][-1][0]:.2f} the round's 1 worker"
                    )
                    print(
                        f"  {n:>5} records, {w} worker(s): {secs:6.2f} s, {n / secs:7.1f} "
                        f"rec/s, peak RSS {peak / 2**20:7.1f} MiB, {n / cpu:6.1f} rec per "
                        f"CPU-s{ratio}",
                        flush=True,
                    )
        results = {
            key: (statistics.median(r for r, _ in vals), max(m for _, m in vals))
            for key, vals in runs.items()
        }
        big, w = max(sizes), args.workers
        speedup = statistics.median(
            par[0] / one[0] for one, par in zip(runs[big, 1], runs[big, w], strict=True)
        )

    small = min(sizes)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\ncpu count {os.cpu_count()}, load average now {load}; median rec/s and "
        f"largest peak RSS of {args.repeat} rounds; goals as in the docstring"
    )
    print(f"{'measure':<42} {'value':>10} {'goal':>10}  ok")
    rows = [
        (
            f"peak RSS {big} / {small} records (1 worker)",
            results[big, 1][1] / results[small, 1][1],
            "<= 1.20",
            lambda v: v <= 1.2,
        ),
        (
            f"peak RSS {big} / {small} records ({w} workers)",
            results[big, w][1] / results[small, w][1],
            "<= 1.20",
            lambda v: v <= 1.2,
        ),
        (f"throughput {w} workers / 1 worker ({big} rec)", speedup, ">= 1.70", lambda v: v >= 1.7),
        (
            f"throughput 1 worker, rec/s ({big} rec)",
            results[big, 1][0],
            ">= 100",
            lambda v: v >= 100,
        ),
        (f"throughput {w} workers, rec/s ({big} rec)", results[big, w][0], "", None),
    ]
    for name, value, goal, ok in rows:
        verdict = "" if ok is None else "yes" if ok(value) else "NO"
        print(f"{name:<42} {value:>10.2f} {goal:>10}  {verdict}")


if __name__ == "__main__":
    main()
