"""MIMIC-IV-ECG adapter and its machine-measurement rules.

Layout (as PhysioNet distributes it): ``ROOT/record_list.csv`` (``subject_id``, ``study_id``,
``file_name``, ``ecg_time``, ``path``), ``ROOT/machine_measurements.csv`` (``subject_id``,
``study_id``, ``report_0`` .. ``report_17``, ``rr_interval``, ``p_onset``, ``p_end``,
``qrs_onset``, ``qrs_end``, ``t_end``, axes, ...) and the waveforms at ``ROOT/<path>.hea``.

* **Patient**: ``subject_id``. **Record**: ``study_id``.
* **Label rule**: ``normal`` when one machine report line reads "Normal ECG" (case and a
  trailing full stop ignored) and no line mentions "abnormal" or "borderline"; otherwise
  ``abnormal``. "Borderline ECG" and "Otherwise normal ECG" (a finding was made) count as
  abnormal, because the binary target is "nothing to report".
* **Fiducials** (`machine_fiducials`): ``p_onset``, ``p_end``, ``qrs_onset``, ``qrs_end`` and
  ``t_end`` are times in ms of ONE representative beat on the machine's time base. The
  published sample row reads 40, 128, 170, 258, 518 with ``rr_interval`` 659: as ms this is
  PR 130 ms, QRS 88 ms, QT 348 ms at 91 bpm, all physiological; read as 500 Hz samples they
  would be twice that (QT 696 ms at 91 bpm), so the unit is ms. The machine fills values it
  could not measure with 29999 (e.g. P wave in atrial fibrillation), a value no 10 s
  recording can hold. **Missing rule**: a fiducial is missing when it is empty, not a number,
  negative or >= 10,000 ms (the recording length), which catches 29999 and any other fill
  value in that range; a record is *inconsistent* unless
  ``p_onset < p_end <= qrs_onset < qrs_end < t_end``. `hearteye prepare` excludes both kinds
  from mask training and counts them by reason in its manifest.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from hearteye.errors import HeartEyeError

# The machine's one measured beat, in ms: the ``machine`` mask source of the master table.
FIDUCIALS: tuple[str, ...] = ("p_onset", "p_end", "qrs_onset", "qrs_end", "t_end")
MAX_VALID_MS = 10_000.0
REPORT_COLUMNS = tuple(f"report_{i}" for i in range(18))


def report_label(lines: list[str]) -> str:
    """The MIMIC normal rule (module docstring) on a record's report lines."""
    clean = [
        str(v).strip().lower().rstrip(".").strip()
        for v in lines
        if isinstance(v, str) and v.strip()
    ]
    if any("abnormal" in c or "borderline" in c for c in clean):
        return "abnormal"
    return "normal" if "normal ecg" in clean else "abnormal"


def machine_fiducials(row) -> tuple[dict[str, float] | None, str]:
    """(fiducials in ms, "") or (None, reason) with reason ``missing`` or ``inconsistent``."""
    values = {}
    for key in FIDUCIALS:
        raw = row.get(key) if hasattr(row, "get") else row[key]
        try:
            v = float(raw)
        except (TypeError, ValueError):
            return None, "missing"
        if not math.isfinite(v) or v < 0 or v >= MAX_VALID_MS:
            return None, "missing"
        values[key] = v
    v = values
    if not (v["p_onset"] < v["p_end"] <= v["qrs_onset"] < v["qrs_end"] < v["t_end"]):
        return None, "inconsistent"
    return values, ""


def build_master(root: Path) -> pd.DataFrame:
    records, measures = root / "record_list.csv", root / "machine_measurements.csv"
    for f in (records, measures):
        if not f.is_file():
            raise HeartEyeError(f"MIMIC-IV-ECG layout needs {f.name} in {root}")
    rl = pd.read_csv(records, dtype={"subject_id": str, "study_id": str})
    mm = pd.read_csv(measures, dtype={"subject_id": str, "study_id": str}, low_memory=False)
    reports = [c for c in REPORT_COLUMNS if c in mm.columns]
    keep = ["study_id", *reports, *[c for c in (*FIDUCIALS, "rr_interval") if c in mm.columns]]
    df = rl.merge(mm[keep], on="study_id", how="left", validate="one_to_one")
    out = pd.DataFrame(
        {
            "record": df["study_id"],
            "patient": df["subject_id"],
            "label": [report_label(list(r)) for r in df[reports].itertuples(index=False)]
            if reports
            else "abnormal",
            "source": "mimic",
            "path": [str((root / p).resolve()) for p in df["path"]],
            "mask_source": "machine",
            "mains_hz": 60,
        }
    )
    for col in (*FIDUCIALS, "rr_interval"):
        out[col] = df[col] if col in df.columns else float("nan")
    return out
