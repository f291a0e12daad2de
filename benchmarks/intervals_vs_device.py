"""HeartEye's global measurements beside the recording device's own, on the same signal.

    python benchmarks/intervals_vs_device.py [--formats ../shared/data/formats] [--markdown]

Every staged cart export (GE MUSE, Philips, HL7 aECG, DICOM, SCP-ECG) that states the device's
measurements is read (`hearteye.io.read_record`) and analysed (`hearteye.analyze.analyze`);
HeartEye's heart rate, PR, QRS, QT, QTc and P/QRS/T axes are printed beside the device's
(`meta.device["measurements"]`), with the difference (HeartEye - device). A device that gives
an RR interval but no rate is compared at 60000 / RR. The device's QTc is compared with
HeartEye's QTc by the same formula when the file names it (Bazett, Fridericia), else with
HeartEye's Bazett, marked ``*``.

The summary line gives, per interval and recording (one recording staged in several formats
counts once), the mean and SD of the differences beside the
IEC 60601-2-25 tolerances for interval measurement (|mean| <= 10 ms and SD <= 10 ms for PR and
QRS; |mean| <= 25 ms and SD <= 30 ms for QT). The standard tests programs on its own
calibration and CSE database sets; with a handful of cart files, this is a plausibility check
of HeartEye beside commercial programs (GE 12SL, Philips, Mortara VERITAS, Welch Allyn), not a
conformance test, and the note under the table says so.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from hearteye.analyze import analyze
from hearteye.io import read_record

DEFAULT_FORMATS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "formats"
COLUMNS = ("heart_rate", "pr_interval", "qrs_duration", "qt_interval", "qtc", "p_axis")
COLUMNS += ("qrs_axis", "t_axis")
SHORT = {
    "heart_rate": "HR",
    "pr_interval": "PR",
    "qrs_duration": "QRS",
    "qt_interval": "QT",
    "qtc": "QTc",
    "p_axis": "Pax",
    "qrs_axis": "QRSax",
    "t_axis": "Tax",
}
TOLERANCE = {"pr_interval": (10.0, 10.0), "qrs_duration": (10.0, 10.0), "qt_interval": (25.0, 30.0)}


def device_values(found: dict) -> dict:
    """The device's global values by HeartEye's names (QTc with the formula it names)."""
    out = {k: v["value"] for k, v in found.items() if k in COLUMNS}
    if "heart_rate" not in out and found.get("rr_interval", {}).get("value"):
        out["heart_rate"] = 60000.0 / found["rr_interval"]["value"]
    for formula in ("bazett", "fridericia"):
        if f"qtc_{formula}" in found:
            out["qtc"] = (found[f"qtc_{formula}"]["value"], f"qtc_{formula}")
            break
    else:
        if "qtc" in found:
            out["qtc"] = (found["qtc"]["value"], None)
    return out


def hearteye_value(glob: dict, key: str, qtc_key: str | None):
    name = (qtc_key or "qtc_bazett") if key == "qtc" else key
    m = glob.get(name)
    value = m.get("value") if isinstance(m, dict) else m
    return None if value is None or not math.isfinite(value) else float(value)


def compare(path: Path) -> dict | None:
    record = read_record(path)
    found = ((record.meta.device or {}).get("measurements") or {}).get("global") or {}
    if not found:
        return None
    device = device_values(found)
    glob = analyze(record).to_dict()["measurements"]["global"]
    lead = record.lead("II")[: int(2 * record.fs)]
    fingerprint = hash((record.fs, np.round(np.nan_to_num(lead) * 1000).astype(int).tobytes()))
    row = {"file": path.name, "format": record.meta.format, "values": {}, "signal": fingerprint}
    for key in COLUMNS:
        dev = device.get(key)
        qtc_key = None
        if isinstance(dev, tuple):
            dev, qtc_key = dev
            row["qtc_formula"] = qtc_key
        row["values"][key] = (hearteye_value(glob, key, qtc_key), dev)
    return row


def cell(pair) -> str:
    he, dev = pair
    if he is None or dev is None:
        return f"{_n(he)} / {_n(dev)}"
    return f"{he:.0f} / {dev:.0f} ({he - dev:+.0f})"


def _n(v) -> str:
    return "-" if v is None else f"{v:.0f}"


def print_table(rows: list[dict], markdown: bool) -> None:
    head = ["file", "format"] + [SHORT[c] for c in COLUMNS]
    lines = [head]
    for r in rows:
        qtc = "" if r.get("qtc_formula") else "*"
        cells = [cell(r["values"][c]) + (qtc if c == "qtc" else "") for c in COLUMNS]
        lines.append([r["file"][:34], r["format"]] + cells)
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for line in lines[1:]:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        for line in lines:
            print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))


def summary(rows: list[dict]) -> str:
    """Differences per recording: a recording exported in several formats (the HL7 example
    converted to DICOM and SCP-ECG by ECG Toolkit) counts once, as its first file."""
    seen, unique = set(), []
    for r in rows:
        if r["signal"] not in seen:
            seen.add(r["signal"])
            unique.append(r)
    rows = unique
    parts = []
    for key, (mean_tol, sd_tol) in TOLERANCE.items():
        diffs = [he - dev for he, dev in (r["values"][key] for r in rows) if None not in (he, dev)]
        if len(diffs) < 2:
            parts.append(f"{SHORT[key]}: n={len(diffs)}")
            continue
        mean, sd = float(np.mean(diffs)), float(np.std(diffs, ddof=1))
        ok = abs(mean) <= mean_tol and sd <= sd_tol
        parts.append(
            f"{SHORT[key]} n={len(diffs)} mean {mean:+.1f} ms (<= {mean_tol:g}), "
            f"SD {sd:.1f} ms (<= {sd_tol:g}): {'within' if ok else 'OUTSIDE'}"
        )
    return "IEC 60601-2-25 (HeartEye - device): " + "; ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", type=Path, default=DEFAULT_FORMATS)
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = ap.parse_args()
    files = sorted(p for p in args.formats.glob("*/*") if p.suffix.lower() != ".md")
    files = [p for p in files if p.name != "SHA256SUMS"]
    if not files:
        raise SystemExit(f"no staged cart exports under {args.formats}")
    rows, skipped = [], []
    for path in files:
        try:
            row = compare(path)
        except Exception as err:  # a file HeartEye refuses is listed, not fatal
            skipped.append(f"{path.name}: {getattr(err, 'code', type(err).__name__)}")
            continue
        if row is None:
            skipped.append(f"{path.name}: no device measurements")
        else:
            rows.append(row)
    print("cells: HeartEye / device (difference); ms, bpm, degrees; * QTc formula not stated")
    print("by the file: compared with HeartEye's Bazett")
    print_table(rows, args.markdown)
    print(summary(rows))
    for s in skipped:
        print(f"not compared: {s}")


if __name__ == "__main__":
    main()
