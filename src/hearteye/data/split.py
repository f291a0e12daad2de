"""Patient-aware train/val/test split of a master table, stratified by label.

Method (scikit-learn's grouped splitters, two stages, deterministic for a given seed):

1. test vs rest: `StratifiedGroupKFold` with ``k = round(1 / test_fraction)`` folds over
   patients, shuffled with ``seed``; fold 0 is the test set.
2. val vs train on the rest: the same with ``k = round((1 - test) / val)``; fold 0 is val.

So a fraction is realised as 1/k of the patients (0.1 -> 1/10, 0.15 -> 1/7): the report
prints the fractions obtained. StratifiedGroupKFold keeps every patient whole and balances the
label distribution across folds as far as whole patients allow. When a stage has fewer
patients than folds, or no label with as many records (tiny sets such as the test fixtures),
`GroupShuffleSplit` with the exact fraction is used instead (group-safe, not stratified).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from hearteye.data.master import LABELS
from hearteye.errors import HeartEyeError

try:
    from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold
except ImportError as exc:  # scikit-learn ships with the [train] extra, not the service
    raise ImportError("hearteye split needs scikit-learn: pip install 'hearteye[train]'") from exc


def _take_fold(df: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the rows held out as ``fraction`` of the patients."""
    hold = np.zeros(len(df), dtype=bool)
    if fraction <= 0 or len(df) == 0:
        return hold
    groups = df["patient"].to_numpy()
    n_groups = len(np.unique(groups))
    k = max(int(round(1.0 / fraction)), 2)
    # StratifiedGroupKFold needs k patients and at least one label with k records.
    if n_groups >= k and df["label"].value_counts().max() >= k:
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            # "least populated class has only n members": expected for rare labels.
            warnings.simplefilter("ignore", UserWarning)
            _, idx = next(splitter.split(np.zeros(len(df)), df["label"].to_numpy(), groups))
    elif n_groups >= 2:
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        _, idx = next(splitter.split(np.zeros(len(df)), groups=groups))
    else:
        return hold
    hold[idx] = True
    return hold


def split_master(
    master: pd.DataFrame, val: float = 0.1, test: float = 0.1, seed: int = 0
) -> dict[str, pd.DataFrame]:
    """Split ``master`` into {'train','val','test'} tables (each with a ``split`` column)."""
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise HeartEyeError(f"fractions val={val}, test={test} must be in [0, 1) and sum below 1")
    df = master.reset_index(drop=True)
    is_test = _take_fold(df, test, seed)
    rest = df[~is_test].reset_index(drop=True)
    val_in_rest = val / (1.0 - test) if val > 0 else 0.0
    is_val = _take_fold(rest, val_in_rest, seed)
    parts = {"train": rest[~is_val], "val": rest[is_val], "test": df[is_test]}
    return {name: part.assign(split=name).reset_index(drop=True) for name, part in parts.items()}


def split_report(parts: dict[str, pd.DataFrame]) -> dict:
    """Records, patients and label counts per set, and the patient-overlap check."""
    total = sum(len(p) for p in parts.values()) or 1
    sets = {}
    for name, part in parts.items():
        counts = part["label"].value_counts()
        sets[name] = {
            "records": int(len(part)),
            "patients": int(part["patient"].nunique()),
            "fraction": round(len(part) / total, 4),
            "labels": {lab: int(counts.get(lab, 0)) for lab in LABELS},
        }
    overlaps = {}
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = set(parts[a]["patient"]) & set(parts[b]["patient"])
            overlaps[f"{a}/{b}"] = sorted(shared)[:10]
    return {
        "sets": sets,
        "patient_overlap": overlaps,
        "no_patient_in_two_sets": not any(overlaps.values()),
    }


def format_report(report: dict) -> str:
    lines = [
        f"{'set':<6} {'records':>8} {'patients':>9} {'fraction':>9} "
        + " ".join(f"{lab:>9}" for lab in LABELS)
    ]
    for name, s in report["sets"].items():
        lines.append(
            f"{name:<6} {s['records']:>8} {s['patients']:>9} {s['fraction']:>9.3f} "
            + " ".join(f"{s['labels'][lab]:>9}" for lab in LABELS)
        )
    ok = report["no_patient_in_two_sets"]
    lines.append("no patient in two sets: " + ("yes" if ok else f"NO {report['patient_overlap']}"))
    return "\n".join(lines)


def write_split(parts: dict[str, pd.DataFrame], out: str | Path, params: dict) -> dict:
    """Write ``{train,val,test}_records.csv`` and ``split_report.json``; return the report."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, part in parts.items():
        part.to_csv(out / f"{name}_records.csv", index=False)
    report = {"params": params, **split_report(parts)}
    (out / "split_report.json").write_text(json.dumps(report, indent=2) + "\n")
    if not report["no_patient_in_two_sets"]:
        raise HeartEyeError(f"patients in two sets: {report['patient_overlap']}")
    return report
