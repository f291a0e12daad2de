"""LUDB adapter: master table of the Lobachevsky University ECG database.

Layout: ``ROOT/data/N.hea`` + ``N.dat`` + per-lead annotations ``N.i`` ... ``N.v6``, and
``ROOT/ludb.csv`` with the diagnoses (a folder holding the records directly also works).

* **Patient**: LUDB has one record per subject, so ``patient = "ludb-" + record``.
* **Label rule** (``normal``): the rhythm is exactly "Sinus rhythm", the electric axis is
  normal, vertical or horizontal (the three are the normal range, -30..+90 degrees, in the
  Russian convention LUDB uses), and every other diagnosis column of ``ludb.csv`` is empty.
  Everything else is ``abnormal``. On LUDB 1.0.1 this gives 23 normal records (axes: normal 15,
  vertical 6, horizontal 2), the count the data set's SOURCE.md derives independently.
  Without ``ludb.csv`` (the test fixtures), the same rule is applied to the ``.hea`` comment
  lines, which carry the same statements.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearteye.errors import HeartEyeError

NORMAL_RHYTHM = "sinus rhythm"
NORMAL_AXES = {"normal", "vertical", "horizontal"}
AXIS_PREFIX = "electric axis of the heart:"
LEAD_EXTENSIONS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
# ludb.csv columns that are not findings
_NOT_FINDINGS = {"ID", "Sex", "Age", "Rhythms", "Electric axis of the heart"}


def _clean(value) -> str:
    return "" if pd.isna(value) else str(value).strip()


def is_normal(rhythm: str, axis: str, findings: list[str]) -> bool:
    """The LUDB normal rule (module docstring), on the statements as text."""
    axis = axis.strip().lower().removeprefix(AXIS_PREFIX).strip().rstrip(".")
    return (
        rhythm.strip().lower().rstrip(".") == NORMAL_RHYTHM
        and axis in NORMAL_AXES
        and not any(f.strip() for f in findings)
    )


def labels_from_csv(csv: Path) -> dict[str, str]:
    table = pd.read_csv(csv)
    findings = [c for c in table.columns if c not in _NOT_FINDINGS]
    out = {}
    for _, row in table.iterrows():
        normal = is_normal(
            _clean(row["Rhythms"]),
            _clean(row["Electric axis of the heart"]),
            [_clean(row[c]) for c in findings],
        )
        out[str(int(row["ID"]))] = "normal" if normal else "abnormal"
    return out


def _label_from_header(hea: Path) -> str:
    rhythm, axis, findings = "", "", []
    for line in hea.read_text(errors="replace").splitlines():
        text = line.lstrip("#").strip()
        if not line.startswith("#") or not text or text.startswith("<"):
            continue  # signal lines and the <age>/<sex>/<diagnoses> tags
        if text.lower().startswith("rhythm:"):
            rhythm = text.split(":", 1)[1]
        elif text.lower().startswith(AXIS_PREFIX):
            axis = text
        else:
            findings.append(text)
    return "normal" if is_normal(rhythm, axis, findings) else "abnormal"


def build_master(root: Path) -> pd.DataFrame:
    data = root / "data" if (root / "data").is_dir() else root
    headers = sorted(data.glob("*.hea"), key=lambda p: (len(p.stem), p.stem))
    if not headers:
        raise HeartEyeError(f"no LUDB records (*.hea) under {data}")
    csv = next((p for p in (root / "ludb.csv", data / "ludb.csv") if p.is_file()), None)
    labels = labels_from_csv(csv) if csv else {}
    rows = []
    for hea in headers:
        rec = hea.stem
        rows.append(
            {
                "record": rec,
                "patient": f"ludb-{rec}",
                "label": labels.get(rec) or _label_from_header(hea),
                "source": "ludb",
                "path": str(hea.with_suffix("").resolve()),
                "mask_source": "ludb",
                "mains_hz": 50,
            }
        )
    return pd.DataFrame(rows)


def reference_beats(base: str | Path, n_samples: int = 5000) -> list:
    """The cardiologists' global beats of one LUDB record (boundaries in samples at 500 Hz).

    The 12 per-lead annotations are combined exactly as the training masks are
    (`hearteye.data.masks.combine_leads`: earliest onset to latest offset across leads, the
    global-interval convention) and cut into beats by the same assembly the model's output
    goes through (`hearteye.delineate.postprocess.beats_from_runs`), so reference and model
    intervals are measured by one rule.
    """
    import numpy as np

    from hearteye.data.annotations import read_annotation
    from hearteye.data.masks import combine_leads, lead_masks
    from hearteye.delineate.postprocess import beats_from_runs, runs

    per_lead = [lead_masks(*read_annotation(f"{base}.{ext}"), n_samples) for ext in LEAD_EXTENSIONS]
    mask, _ = combine_leads(np.stack([m for m, _ in per_lead]), np.stack([v for _, v in per_lead]))
    return beats_from_runs(runs(mask[:, 0]), runs(mask[:, 1]), runs(mask[:, 2]), 500.0)
