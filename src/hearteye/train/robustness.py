"""Robustness evaluation of the delineator: the LUDB protocol on degraded copies of records.

Each condition turns a LUDB record into what another device or a noisy ward would have
given (`hearteye.train.degrade` says how each degradation is made and where its model comes
from), the record goes through the serving path (`Delineator.delineate`: preprocessing
resamples it back to 500 Hz) and every kept lead is scored against that lead's own LUDB
annotation with the unchanged evaluator (`hearteye.train.evaluate_delineator`: 150 ms, one-to-one,
annotated region only). Order of the degradations, as in a device: the noise reaches the
electrodes, the front end band-limits, the converter samples at the device's rate.

The noise is seeded by record name and condition, so two models (or two runs) see the same
degraded records. Conditions are chosen on what the ambulatory recordings differ in (rate,
lead set, pass band, noise); use the validation split to choose anything, and the test split
only to report.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from hearteye.delineate.postprocess import FIELDS, boundaries
from hearteye.record import Record
from hearteye.train import degrade
from hearteye.train.evaluate_delineator import (
    LABELS,
    LUDB_LEAD_EXT,
    Evaluator,
    ludb_paths,
    read_ludb_lead,
)


@dataclass(frozen=True)
class Condition:
    """One way a recording can differ from LUDB; ``None`` leaves that property as it is."""

    name: str
    fs: float | None = None  # the device's sampling rate
    leads: tuple[str, ...] | None = None  # leads the device records
    band: tuple[float | None, float | None] | None = None  # high-pass, low-pass (Hz)
    snr_db: float | None = None  # NST-convention SNR of the added noise
    noise: tuple[str, ...] = degrade.NOISE_TYPES  # noise types, equal power


CONDITIONS: tuple[Condition, ...] = (
    Condition("clean"),
    Condition("250 Hz", fs=250.0),
    Condition("100 Hz", fs=100.0),
    Condition("II + V5", leads=("II", "V5")),
    Condition("monitor 0.5-40 Hz", band=(0.5, 40.0)),
    Condition("noise 12 dB", snr_db=12.0),
    Condition("noise 6 dB", snr_db=6.0),
    Condition("wander 6 dB", snr_db=6.0, noise=("bw",)),
    Condition("electrode motion 6 dB", snr_db=6.0, noise=("em",)),
    Condition("muscle 6 dB", snr_db=6.0, noise=("ma",)),
    Condition(
        "ambulatory: II + V5, 250 Hz, 0.5-40 Hz, 12 dB",
        fs=250.0,
        leads=("II", "V5"),
        band=(0.5, 40.0),
        snr_db=12.0,
    ),
)
CONDITION_NAMES = tuple(c.name for c in CONDITIONS)


def apply(record: Record, cond: Condition, seed: int = 0) -> Record:
    """``record`` as the device of ``cond`` would have recorded it (deterministic in seed)."""
    x, leads = record.signal.astype(np.float64), record.leads
    if cond.leads is not None:
        idx = [leads.index(lead) for lead in cond.leads]
        x, leads = x[idx], tuple(cond.leads)
    if cond.snr_db is not None:
        x = degrade.add_noise(x, record.fs, cond.snr_db, np.random.default_rng(seed), cond.noise)
    if cond.band is not None:
        x = degrade.band_limit(x, record.fs, *cond.band)
    fs = record.fs
    if cond.fs is not None and cond.fs != record.fs:
        x, fs = degrade.record_at(x, record.fs, cond.fs), cond.fs
    return replace(record, signal=x.astype(np.float32), fs=float(fs), leads=leads)


def condition_seed(base: str | Path, cond: Condition, seed: int = 0) -> int:
    return zlib.crc32(f"{Path(base).name}|{cond.name}|{seed}".encode())


def evaluate_condition(bases, cond: Condition, delineator, seed: int = 0) -> dict:
    """The LUDB protocol on ``bases`` degraded by ``cond`` (boundaries at 500 Hz)."""
    from hearteye.io.wfdb import read_wfdb

    ev = Evaluator(500.0)
    for base in bases:
        record = read_wfdb(base)
        out = delineator.delineate(apply(record, cond, condition_seed(base, cond, seed)))
        for lead in out.leads:
            if lead in LUDB_LEAD_EXT:
                ref, region = read_ludb_lead(base, lead)
                ev.add_lead(ref, boundaries(list(out.leads[lead])), region)
    rep = ev.report()
    rep["n_records"] = len(bases)
    rep["condition"] = asdict(cond)
    return rep


def evaluate(
    split_csv: str | Path,
    model_path: str | Path | None = None,
    conditions: tuple[Condition, ...] = CONDITIONS,
    seed: int = 0,
    limit: int | None = None,
) -> dict:
    """Every condition on the LUDB records of ``split_csv`` (``limit``: the first n)."""
    from hearteye.delineate.runtime import Delineator

    delineator = Delineator(model_path, threads=1)
    bases = ludb_paths(split_csv)[:limit]
    return {
        "model": delineator.version,
        "split_csv": str(split_csv),
        "seed": seed,
        "conditions": {c.name: evaluate_condition(bases, c, delineator, seed) for c in conditions},
    }


def table_title(report: dict, baseline: dict | None = None) -> str:
    split = Path(report["split_csv"]).name
    n = next(iter(report["conditions"].values()))["n_records"]
    what = f"{baseline['model']} -> {report['model']}" if baseline else report["model"]
    return (
        f"F1 at 150 ms, {split} ({n} LUDB records), noise seed {report['seed']}: {what} "
        "(`hearteye evaluate-robustness`)"
    )


def markdown_table(report: dict, baseline: dict | None = None) -> str:
    """F1 at 150 ms per condition and boundary (and T-end error SD); with ``baseline``, each
    cell reads ``baseline -> this``."""
    head = " | ".join(LABELS[f] for f in FIELDS)
    lines = [
        f"| condition | leads | {head} | T end error SD ms |",
        "|---|---|" + "---|" * (len(FIELDS) + 1),
    ]
    for name, rep in report["conditions"].items():
        base = (baseline or {}).get("conditions", {}).get(name)
        cells = []
        for f in FIELDS:
            now = rep["boundaries"][f]["f1"]
            cells.append(
                f"{base['boundaries'][f]['f1']:.4f} -> {now:.4f}" if base else f"{now:.4f}"
            )
        sd = rep["boundaries"]["t_offset"]["error_sd_ms"]
        sd_cell = (
            f"{base['boundaries']['t_offset']['error_sd_ms']:.1f} -> {sd:.1f}"
            if base
            else f"{sd:.1f}"
        )
        lines.append(f"| {name} | {rep['n_leads']} | " + " | ".join(cells) + f" | {sd_cell} |")
    return "\n".join(lines)


def write(report: dict, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(report, indent=2, allow_nan=True) + "\n")
