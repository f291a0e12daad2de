"""PhysioNet/CinC Challenge 2020/2021 adapter (WFDB header + ``.mat``, SNOMED CT ``#Dx``).

Layout: any folder tree of ``*.hea`` files whose comments hold ``#Age:``, ``#Sex:`` and
``#Dx: code,code,...`` (``../shared/data/cinc-challenge-samples/records`` and
``../shared/data/ptb-diagnostic-long/records`` are laid out so).

* **Label rule**: ``normal`` only when the Dx set is exactly {426783006} (sinus rhythm and no
  other statement), as the Challenge's own "normal" class; any other code, sinus bradycardia
  (426177001) and tachycardia (427084000) included, makes the record ``abnormal``.
* **Patient**: the Challenge files carry no patient ids. A record is its own patient, except
  in the PTB Diagnostic copy (``S`` records), whose consecutive records come from a handful of
  patients: there, records with the same age and sex are grouped as one patient (the only
  grouping the headers allow; it can merge two patients, never split one), and their
  ``source`` is ``ptb``, so a split by source can tell PTB's patients from the Challenge's.
* **Masks**: none (no wave boundaries), so ``mask_source`` is ``none``.
* **Mains**: 50 Hz for the European and Chinese sources (CPSC, PTB, PTB-XL, Chapman,
  Ningbo), 60 Hz for Georgia (``E`` records, USA).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearteye.errors import HeartEyeError

SINUS_RHYTHM = "426783006"


def parse_header_comments(hea: Path) -> dict:
    """Age, sex and Dx codes from a Challenge header's comment lines."""
    out = {"age": None, "sex": None, "dx": []}
    for line in hea.read_text(errors="replace").splitlines():
        if not line.startswith("#") or ":" not in line:
            continue
        key, value = (part.strip() for part in line[1:].split(":", 1))
        key = key.lower()
        if key == "age":
            try:
                out["age"] = float(value)
            except ValueError:
                out["age"] = None  # "NaN" or blank in the Challenge files
        elif key == "sex":
            out["sex"] = {"male": "M", "female": "F", "m": "M", "f": "F"}.get(value.lower())
        elif key == "dx":
            out["dx"] = [c.strip() for c in value.split(",") if c.strip()]
    return out


def dx_label(codes: list[str]) -> str:
    return "normal" if set(codes) == {SINUS_RHYTHM} else "abnormal"


def build_master(root: Path) -> pd.DataFrame:
    headers = sorted(root.rglob("*.hea"))
    if not headers:
        raise HeartEyeError(f"no Challenge records (*.hea) under {root}")
    rows = []
    for hea in headers:
        meta = parse_header_comments(hea)
        rec = hea.stem
        patient = f"challenge-{rec}"
        if rec.startswith("S") and meta["age"] is not None:
            patient = f"challenge-ptb-{int(meta['age'])}{meta['sex'] or 'U'}"
        rows.append(
            {
                "record": rec,
                "patient": patient,
                "label": dx_label(meta["dx"]),
                "source": "ptb" if patient.startswith("challenge-ptb-") else "challenge",
                "path": str(hea.with_suffix("").resolve()),
                "mask_source": "none",
                "mains_hz": 60 if rec.startswith("E") else 50,
                "age": meta["age"],
                "sex": meta["sex"],
                "dx": ";".join(meta["dx"]),
            }
        )
    return pd.DataFrame(rows)
