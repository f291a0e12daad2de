"""How batch analysis scales: records/s with 1 and 2 workers, peak RSS for 500 and 2,000
records, side by side with the warm single-record `analyze` loop as the baseline.

    .venv/bin/python benchmarks/batch_scale.py [--data ../shared/data] [--repeat 3]

The records are distinct real ECGs (PTB-XL at 100 and 500 Hz, then LUDB), listed in a
manifest CSV. Each configuration runs `hearteye analyze MANIFEST --out ...` in a fresh child
process with a fresh work folder (nothing reused), interleaved (``--repeat`` rounds of
1 worker then 2 workers, for each size); `child_usage` samples the peak RSS of the child and
its workers. Throughput is records over the run's own time (interpreter start-up and model
loading excluded: the CLI prints it), the median over rounds; the speed-up is the median of
the rounds' own ratios. The baseline is the same records analysed by a warm loop of
`read_record` + `analyze` in this process (what one worker does per record, without the
table, hashing and hand-out), so its ratio shows the batch machinery's overhead.
Goals (issue 18): >= 15 records/s per core, 2 workers >= 1.8x one, peak RSS 2,000 / 500
records <= 1.2.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from child_usage import run_measured  # noqa: E402


def staged_records(data: Path, n: int) -> list[Path]:
    ptbxl = sorted((data / "ptbxl").glob("records*/*/*.hea"))
    ludb = sorted((data / "ludb" / "data").glob("*.hea"))
    records = (ptbxl + ludb)[:n]
    if len(records) < n:
        raise SystemExit(f"only {len(records)} staged records under {data}; need {n}")
    return records


def baseline_rate(records: list[Path]) -> float:
    from hearteye.analyze import analyze
    from hearteye.io import ReadLimits, read_record

    limits = ReadLimits(max_seconds=300.0)
    analyze(read_record(records[0], limits))  # warm: models loaded
    t0 = time.perf_counter()
    for path in records:
        analyze(read_record(path, limits), max_seconds=300.0)
    return len(records) / (time.perf_counter() - t0)


def batch_run(manifest: Path, workers: int, tmp: Path) -> tuple[float, float]:
    out = tmp / f"out_w{workers}.parquet"
    cmd = [sys.executable, "-m", "hearteye.cli", "analyze", str(manifest), "--out", str(out)]
    usage = run_measured([*cmd, "--workers", str(workers), "--work-dir", str(tmp / "work")])
    seconds = float(re.search(r"in ([0-9.]+) s", usage.stderr).group(1))
    out.unlink()
    for part in (tmp / "work").rglob("*"):
        if part.is_file():
            part.unlink()
    return seconds, usage.peak_rss / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sizes = (500, 2000)
    records = staged_records(args.data, max(sizes))
    with tempfile.TemporaryDirectory(prefix="batch_scale_") as tmp:
        tmp = Path(tmp)
        manifests = {}
        for n in sizes:
            manifests[n] = tmp / f"n{n}.csv"
            with manifests[n].open("w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["path"])
                w.writerows([[str(p)] for p in records[:n]])
        base = baseline_rate(records[:500])
        print(f"baseline: warm read + analyze loop in one process, 500 records: {base:.1f} rec/s")
        runs: dict[tuple[int, int], list[tuple[float, float]]] = {}
        for n in sizes:
            for _ in range(args.repeat):
                for w in (1, 2):
                    secs, peak = batch_run(manifests[n], w, tmp)
                    runs.setdefault((n, w), []).append((n / secs, peak))
                    print(
                        f"  {n:>5} records, {w} worker(s): {secs:6.1f} s, {n / secs:6.1f} rec/s, "
                        f"peak RSS {peak:7.1f} MiB",
                        flush=True,
                    )
    rate = {k: statistics.median(r for r, _ in v) for k, v in runs.items()}
    peak = {k: max(m for _, m in v) for k, v in runs.items()}
    big, small = max(sizes), min(sizes)
    speedup = statistics.median(
        two[0] / one[0] for one, two in zip(runs[big, 1], runs[big, 2], strict=True)
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\ncpu count {os.cpu_count()}, load average now {load}; medians of {args.repeat} rounds")
    rows = [
        ("1 worker, rec/s (2,000 records)", rate[big, 1], ">= 15", rate[big, 1] >= 15),
        ("1 worker / warm loop baseline", rate[big, 1] / base, "", None),
        ("2 workers / 1 worker (2,000 records)", speedup, ">= 1.80", speedup >= 1.8),
        (
            "peak RSS 2,000 / 500 records, 1 worker",
            peak[big, 1] / peak[small, 1],
            "<= 1.20",
            peak[big, 1] / peak[small, 1] <= 1.2,
        ),
        (
            "peak RSS 2,000 / 500 records, 2 workers",
            peak[big, 2] / peak[small, 2],
            "<= 1.20",
            peak[big, 2] / peak[small, 2] <= 1.2,
        ),
    ]
    print(f"{'measure':<42} {'value':>8} {'goal':>8}  ok")
    for name, value, goal, ok in rows:
        verdict = "" if ok is None else "yes" if ok else "NO"
        print(f"{name:<42} {value:>8.2f} {goal:>8}  {verdict}")


if __name__ == "__main__":
    main()
