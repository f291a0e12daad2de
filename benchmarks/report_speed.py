"""Time to render the one-page PDF report of a 10 s 12-lead record, side by side with the PNG
plot of the same analysis (the baseline: what the service draws for every record today), and
the exports (FHIR, DICOM, measurements CSV), warm, one process.

    python benchmarks/report_speed.py [--records 1 24 119] [--repeats 5]

Goal: a report renders in under 1 s. Also prints, apart, what a process pays once before its
first report: importing matplotlib and its PDF backend, and the first render (fonts loaded).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from hearteye.analyze import analyze
from hearteye.export.csv import measurements_csv
from hearteye.export.dicom import to_dicom
from hearteye.export.fhir import to_fhir_bundle
from hearteye.io import read_record
from hearteye.plot import render_png
from hearteye.report import render_pdf

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ludb"
PATIENT = {"name": "Jane Doe", "age": 51, "gender": "F"}


def _ms(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - t0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", nargs="+", default=["1", "24", "119"])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    analyses = [analyze(read_record(FIXTURES / f"{r}.hea")) for r in args.records]
    a0 = analyses[0]
    t0 = time.perf_counter()
    import matplotlib.backends.backend_pdf  # noqa: F401  (what render_pdf imports)
    import matplotlib.figure  # noqa: F401

    t1 = time.perf_counter()
    render_pdf(a0, patient=PATIENT)
    t2 = time.perf_counter()
    imports, first = 1000 * (t1 - t0), 1000 * (t2 - t1)
    render_png(a0, patient=PATIENT)  # warm the PNG paper cache too
    tasks = {
        "PNG plot (baseline)": lambda a: render_png(a, patient=PATIENT),
        "PDF report": lambda a: render_pdf(a, patient=PATIENT),
        "FHIR bundle": lambda a: to_fhir_bundle(a, record_id="bench", patient=PATIENT),
        "DICOM": lambda a: to_dicom(a, record_id="bench", patient=PATIENT),
        "measurements CSV": measurements_csv,
    }
    for fn in tasks.values():  # each task's own imports (pydicom's code tables) paid here
        fn(a0)
    times = {name: [] for name in tasks}
    for a in analyses:  # interleaved, so load changes hit every task alike
        for name, fn in tasks.items():
            times[name] += _ms(lambda fn=fn, a=a: fn(a), args.repeats)
    n = len(analyses) * args.repeats
    print(f"LUDB records {', '.join(args.records)} (10 s, 12 leads), {n} renders each, warm")
    print(f"{'':22s} {'median':>8s} {'p95':>8s} {'max':>8s}   (ms)")
    for name, t in times.items():
        t = np.asarray(t)
        print(f"{name:22s} {np.median(t):8.1f} {np.percentile(t, 95):8.1f} {t.max():8.1f}")
    print(f"{'PDF report, first':22s} {first:8.1f}   (first render in the process)")
    print(f"{'import matplotlib+pdf':22s} {imports:8.1f}   (once per process, before it)")
    pdf = np.asarray(times["PDF report"])
    verdict = "met" if max(pdf.max(), first) < 1000 else "NOT met"
    print(f"goal < 1000 ms per report render (first and warm): {verdict}")


if __name__ == "__main__":
    main()
