"""Load test of POST /predict against gunicorn, side by side with `analyze` alone.

    python benchmarks/api_load.py [--clients 4] [--seconds 60] [--workers N] [--data DIR]
                                  [--database-url URL]

1. Baseline: `analyze(record)` in this one process, records read beforehand, for --seconds.
2. Service: starts `hearteye serve` (gunicorn) on 127.0.0.1 with a fresh data folder (SQLite
   unless --database-url), registers a user, then --clients threads upload LUDB records (the
   .hea and .dat as repeated `file` fields) for --seconds.

Prints requests/s, p50/p95/p99 latency and the error count for both, and the ratios
(service / analyze): the latency ratio at p50 is the service's overhead per request (goal
< 1.5), the errors must be 0, and p50 of /predict should stay under 150 ms. With more clients
than workers, requests queue and latency grows by design; compare at --clients <= --workers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from live_server import new_account, start_server, stop_server

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ludb" / "data"
FALLBACK_DATA = REPO / "tests" / "fixtures" / "ludb"


def load_uploads(folder: Path, limit: int) -> list[list[tuple[str, bytes]]]:
    heads = sorted(folder.glob("*.hea"), key=lambda p: (len(p.stem), p.stem))[:limit]
    return [
        [(h.name, h.read_bytes()), (h.with_suffix(".dat").name, h.with_suffix(".dat").read_bytes())]
        for h in heads
    ]


def stats(latencies: list[float], elapsed: float, errors: int) -> dict:
    lat = np.asarray(latencies) * 1000.0
    pct = np.percentile(lat, [50, 95, 99]) if lat.size else [float("nan")] * 3
    return {
        "requests": int(lat.size),
        "rps": lat.size / elapsed,
        "p50": pct[0],
        "p95": pct[1],
        "p99": pct[2],
        "errors": errors,
    }


# ------------------------------------------------------------------------- baseline


def run_analyze(uploads, seconds: float) -> dict:
    from hearteye.analyze import analyze
    from hearteye.io import parse_upload

    records = [parse_upload(files) for files in uploads]
    analyze(records[0])  # load the models outside the timing
    latencies, errors = [], 0
    start = time.perf_counter()
    i = 0
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        try:
            analyze(records[i % len(records)])
            latencies.append(time.perf_counter() - t)
        except Exception:
            errors += 1
        i += 1
    return stats(latencies, time.perf_counter() - start, errors)


# -------------------------------------------------------------------------- service


def run_service(url: str, uploads, clients: int, seconds: float) -> dict:
    import requests

    headers = new_account(url, "bench")
    # Warm every worker's models before timing.
    for files in uploads[: clients * 2]:
        requests.post(
            f"{url}/predict",
            headers=headers,
            timeout=120,
            files=[("file", f) for f in files],
            data={"patient_name": "warm-up"},
        )

    latencies: list[float] = []
    errors = [0]
    codes: dict[int, int] = {}
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(k: int) -> None:
        session = requests.Session()
        i = k
        while time.perf_counter() < stop_at:
            files = uploads[i % len(uploads)]
            i += clients
            t = time.perf_counter()
            try:
                r = session.post(
                    f"{url}/predict",
                    headers=headers,
                    timeout=120,
                    files=[("file", f) for f in files],
                    data={"patient_name": f"load {k}", "age": "50", "gender": "F"},
                )
                ok = r.status_code == 201
                code = r.status_code
            except requests.RequestException:
                ok, code = False, -1
            dt = time.perf_counter() - t
            with lock:
                codes[code] = codes.get(code, 0) + 1
                if ok:
                    latencies.append(dt)
                else:
                    errors[0] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    out = stats(latencies, time.perf_counter() - start, errors[0])
    out["codes"] = codes
    return out


# ----------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument(
        "--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.is_dir() else FALLBACK_DATA
    )
    ap.add_argument("--records", type=int, default=50, help="distinct LUDB records to cycle")
    ap.add_argument("--database-url", default=None, help="default: SQLite in a temp folder")
    args = ap.parse_args()

    uploads = load_uploads(args.data, args.records)
    if not uploads:
        raise SystemExit(f"no .hea records under {args.data}")
    print(
        f"{len(uploads)} LUDB records from {args.data}; {args.clients} clients, "
        f"{args.workers} gunicorn workers, {args.seconds:g} s per phase, "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )

    base = run_analyze(uploads, args.seconds)
    with tempfile.TemporaryDirectory(prefix="hearteye-bench-") as tmp:
        proc, url = start_server(args.database_url, args.workers, Path(tmp))
        try:
            svc = run_service(url, uploads, args.clients, args.seconds)
        finally:
            stop_server(proc)

    rows = [
        ("requests", "{:d}"),
        ("rps", "{:.1f}"),
        ("p50", "{:.1f} ms"),
        ("p95", "{:.1f} ms"),
        ("p99", "{:.1f} ms"),
        ("errors", "{:d}"),
    ]
    print(f"\n{'':10s} {'analyze (1 process)':>22s} {'POST /predict':>22s} {'ratio':>8s}")
    for key, fmt in rows:
        a, s = base[key], svc[key]
        ratio = (s / a) if key in ("p50", "p95", "p99", "rps") and a else float("nan")
        print(f"{key:10s} {fmt.format(a):>22s} {fmt.format(s):>22s} {ratio:8.2f}")
    print(f"\nstatus codes: {svc['codes']}")
    print(
        f"service overhead at p50: {svc['p50'] / base['p50']:.2f}x (goal < 1.5); "
        f"p50 /predict {svc['p50']:.0f} ms (goal < 150); errors {svc['errors']} (goal 0)"
    )


if __name__ == "__main__":
    main()
