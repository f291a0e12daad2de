"""PTB-XL adapter.

Two layouts:

* PTB-XL as distributed: ``ROOT/ptbxl_database.csv`` (``ecg_id``, ``patient_id``,
  ``scp_codes``, ``filename_hr``, ...) and the 500 Hz waveforms at ``ROOT/<filename_hr>.hea``;
* a labelled subset (``../shared/data/ptbxl``): ``ROOT/labels.csv``, one row per WFDB record
  (``record`` path without extension, ``ecg_id``, ``patient_id``, ``strat_fold``, ``fs``,
  ``scp_codes`` with ``;`` for ``,``, ``age``, ``sex``), 100 Hz and, for some ECGs, 500 Hz.
  An ECG held at both rates gives two rows (record ids ``NNNNN_lr`` / ``NNNNN_hr``), same
  patient and fold, so a patient-grouped split keeps them together.

Both write the extra columns ``fold`` (PTB-XL's ``strat_fold``: 1-10, patient-disjoint;
fold 9 is the recommended validation fold, 10 the test fold), ``ecg`` (the ECG id, shared by
the two rates), ``fs``, ``age`` and ``sex`` (the headers carry neither).

* **Patient**: ``patient_id`` (written as a float in the CSV; stored as an integer string).
* **Label rule**: ``normal`` when ``scp_codes`` holds ``NORM`` with a likelihood > 0, else
  ``abnormal``. This is the PTB-XL paper's NORM superclass membership (9,528 of 21,837
  records). PTB-XL has no wave boundaries, so ``mask_source`` is ``none``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from hearteye.errors import HeartEyeError


def scp_label(scp_codes: str) -> str:
    try:
        codes = ast.literal_eval(scp_codes) if isinstance(scp_codes, str) else {}
    except (ValueError, SyntaxError):
        codes = {}
    return "normal" if float(codes.get("NORM", 0) or 0) > 0 else "abnormal"


def build_master(root: Path) -> pd.DataFrame:
    if (root / "labels.csv").is_file() and not (root / "ptbxl_database.csv").is_file():
        return _from_labels(root)
    csv = root / "ptbxl_database.csv"
    if not csv.is_file():
        raise HeartEyeError(f"PTB-XL layout needs ptbxl_database.csv or labels.csv in {root}")
    cols = ["ecg_id", "patient_id", "scp_codes", "filename_hr", "strat_fold", "age", "sex"]
    db = pd.read_csv(csv, usecols=lambda c: c in cols)
    return pd.DataFrame(
        {
            "record": db["ecg_id"].astype(int).astype(str),
            "patient": db["patient_id"].astype(float).astype(int).astype(str),
            "label": [scp_label(s) for s in db["scp_codes"]],
            "source": "ptbxl",
            "path": [str((root / f).resolve()) for f in db["filename_hr"]],
            "mask_source": "none",
            "mains_hz": 50,
            **_extras(db, 500.0),
        }
    )


def _extras(db: pd.DataFrame, fs) -> dict:
    out = {"ecg": db["ecg_id"].astype(int).astype(str), "fs": fs}
    if "strat_fold" in db:
        out["fold"] = db["strat_fold"].astype(int)
    if "age" in db:
        out["age"] = db["age"].astype(float)
    if "sex" in db:  # PTB-XL codes sex 0 = male, 1 = female; the subset writes M / F
        out["sex"] = db["sex"].map({0: "M", 1: "F", "M": "M", "F": "F", "0": "M", "1": "F"})
    return out


def _from_labels(root: Path) -> pd.DataFrame:
    db = pd.read_csv(root / "labels.csv")
    return pd.DataFrame(
        {
            "record": [Path(r).name for r in db["record"]],
            "patient": db["patient_id"].astype(float).astype(int).astype(str),
            "label": [scp_label(str(s).replace(";", ",")) for s in db["scp_codes"]],
            "source": "ptbxl",
            "path": [str((root / r).resolve()) for r in db["record"]],
            "mask_source": "none",
            "mains_hz": 50,
            "scp_codes": db["scp_codes"].astype(str),
            **_extras(db, db["fs"].astype(float)),
        }
    )
