"""PTB-XL adapter.

Layout: ``ROOT/ptbxl_database.csv`` (``ecg_id``, ``patient_id``, ``scp_codes``,
``filename_hr``, ...) and the 500 Hz waveforms at ``ROOT/<filename_hr>.hea``.

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
    csv = root / "ptbxl_database.csv"
    if not csv.is_file():
        raise HeartEyeError(f"PTB-XL layout needs ptbxl_database.csv in {root}")
    db = pd.read_csv(csv, usecols=["ecg_id", "patient_id", "scp_codes", "filename_hr"])
    return pd.DataFrame(
        {
            "record": db["ecg_id"].astype(int).astype(str),
            "patient": db["patient_id"].astype(float).astype(int).astype(str),
            "label": [scp_label(s) for s in db["scp_codes"]],
            "source": "ptbxl",
            "path": [str((root / f).resolve()) for f in db["filename_hr"]],
            "mask_source": "none",
            "mains_hz": 50,
        }
    )
