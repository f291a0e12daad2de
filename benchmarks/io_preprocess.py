"""Read + preprocess throughput over LUDB, side by side with plain `wfdb.rdrecord`; and
reading each cart export (XML, DICOM, SCP-ECG) beside reading the same signal as WFDB.

    python benchmarks/io_preprocess.py [--data ../shared/data/ludb/data] [--repeats 3]
        [--formats ../shared/data/formats] [--formats-only]

Prints records per second for: wfdb.rdrecord alone (the baseline), HeartEye's reader alone,
and HeartEye's reader + the full default preprocessing chain; then the ratio of total time to
read-only time (goal: <= 2, i.e. preprocessing costs no more than reading). Passes are
interleaved and the best of ``--repeats`` is kept, so a noisy neighbour hurts both sides alike.

The second table: each staged cart export read by `hearteye.io.read_record` (bytes to checked
Record, device findings included), beside the same Record written as WFDB format 16 and read
back by the same function, and by `wfdb.rdrecord` (goal: <= 2x the WFDB read). The three reads
take turns in each of ``--repeats`` rounds and the best of each is kept, so the ratios come
from one run. "parse ms" is the floor under a reader: the container alone, nothing decoded
(the hardened XML parse for MUSE, Philips and aECG; the element walk for DICOM).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import wfdb

from hearteye.io import read_record, read_wfdb
from hearteye.signal import preprocess

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DEFAULT_DATA = SHARED / "ludb" / "data"
DEFAULT_FORMATS = SHARED / "formats"


def timed(fn, paths) -> float:
    start = time.perf_counter()
    for p in paths:
        fn(p)
    return time.perf_counter() - start


def as_wfdb(record, folder: Path) -> Path:
    """The record's signal written as WFDB format 16 (uV resolution), its header's path."""
    signal = np.nan_to_num(record.signal.T.astype(np.float64))
    wfdb.wrsamp(
        "same",
        fs=record.fs,
        units=["mV"] * record.n_leads,
        sig_name=list(record.leads),
        p_signal=signal,
        fmt=["16"] * record.n_leads,
        adc_gain=[1000.0] * record.n_leads,
        baseline=[0] * record.n_leads,
        write_dir=str(folder),
    )
    return folder / "same.hea"


def parse_only(fmt: str):
    """The container parse alone for ``fmt`` (bytes -> parsed), or None."""
    from hearteye.io import _xml, dicom
    from hearteye.io._common import ReadLimits

    if fmt in ("ge_muse_xml", "philips_xml", "hl7_aecg") and hasattr(_xml, "parse_document"):
        return lambda data: _xml.parse_document(data, "x", "x")
    if fmt == "dicom_ecg" and hasattr(dicom, "_Dataset"):
        return lambda data: dicom._Dataset.read(data, ReadLimits())
    return None  # SCP-ECG (decoded by ecgdatakit), or a HeartEye without these readers


def interleaved_best_ms(fns: list, repeats: int) -> list[float]:
    """Each function timed once per round, rounds repeated: the best of each, in ms."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return [1000 * b for b in best]


def cart_formats(root: Path, repeats: int) -> None:
    files = sorted(p for p in root.glob("*/*") if p.suffix.lower() not in (".md", ""))
    print(f"\nCart exports vs the same signal as WFDB (read_record, best of {repeats} rounds)")
    print(
        f"{'file':36s} {'format':12s} {'leads x n':>10s} {'ms':>7s} {'parse ms':>8s}"
        f" {'WFDB ms':>8s} {'x':>6s} {'rdrecord ms':>12s} {'x':>6s}"
    )
    worst: dict[str, list[float]] = {}
    for path in files:
        try:
            record = read_record(path)
        except Exception as err:  # the non-compliant SCP file: listed, not timed
            print(f"{path.name[:36]:36s} refused: {getattr(err, 'code', err)}")
            continue
        fmt = record.meta.format
        data = path.read_bytes()
        parse = parse_only(fmt)
        with tempfile.TemporaryDirectory() as tmp:
            hea = as_wfdb(record, Path(tmp))
            base_name = str(hea.with_suffix(""))
            fns = [
                lambda p=path: read_record(p),
                lambda h=hea: read_record(h),
                lambda b=base_name: wfdb.rdrecord(b),
            ]
            if parse is not None:
                fns.append(lambda d=data, f=parse: f(d))
            for fn in fns:  # warm every path (imports, caches)
                fn(), fn()
            ms, base, raw, *floor = interleaved_best_ms(fns, repeats)
        w = worst.setdefault(fmt, [0.0, 0.0])
        w[0], w[1] = max(w[0], ms / base), max(w[1], ms / raw)
        shape = f"{record.n_leads}x{record.n_samples}"
        floor_ms = f"{floor[0]:8.2f}" if floor else f"{'-':>8s}"
        print(
            f"{path.name[:36]:36s} {fmt:12s} {shape:>10s} {ms:7.2f} {floor_ms} {base:8.2f}"
            f" {ms / base:6.2f} {raw:12.2f} {ms / raw:6.2f}"
        )
    for fmt, (ours, theirs) in worst.items():
        print(
            f"{fmt:12s} worst {ours:6.2f}x HeartEye's WFDB reader, {theirs:5.2f}x wfdb.rdrecord"
            f" (goal <= 2: {'met' if ours <= 2 else 'NOT met'} / "
            f"{'met' if theirs <= 2 else 'NOT met'})"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--formats", type=Path, default=DEFAULT_FORMATS)
    ap.add_argument("--formats-only", action="store_true", help="only the cart-export table")
    args = ap.parse_args()
    if args.formats_only:
        cart_formats(args.formats, max(args.repeats, 5))
        return
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
    if args.formats.is_dir():
        cart_formats(args.formats, max(args.repeats, 5))


if __name__ == "__main__":
    main()
