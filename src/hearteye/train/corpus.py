"""The labelled corpus behind the statement models and the normal/abnormal classifier.

One table, one row per WFDB record, from four sources laid out as in ``../shared/data``:

* ``ptbxl``      PTB-XL (``labels.csv`` beside ``records100/`` and ``records500/``): the raw
  ``scp_codes``, ``strat_fold`` and patient id. An ECG held at both rates has two rows (same
  patient, same fold); `select_one_rate` keeps one per ECG where a split needs it.
* ``challenge``  PhysioNet/CinC 2020/2021 samples (``labels.csv``): SNOMED CT ``dx_snomed``. The
  records that are PTB-XL ECGs also present in ``ptbxl`` (``HRnnnnn`` = ecg_id nnnnn) are
  dropped, so no ECG is counted twice or crosses a split.
* ``ludb``       LUDB (``ludb.csv``): free-text findings per column.
* ``ptb``        PTB Diagnostic, Challenge copy (``labels.csv``): 38-115 s records; only the
  first 10 s are measured, like any 10 s resting ECG.

`extract` runs every record once through `hearteye.analyze.measure_record` (the serving code)
and stores what the interpretation step reads (display signal as float16, beats, measurements,
quality flags) in one pickle per record under a cache folder, so rules and models can be
iterated on without repeating delineation.
"""

from __future__ import annotations

import csv
import logging
import math
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from hearteye.data.challenge import dx_label
from hearteye.data.ludb import labels_from_csv

log = logging.getLogger("hearteye.corpus")

PTB_TAKE_S = 10.0


def _ptbxl(root: Path) -> pd.DataFrame:
    df = pd.read_csv(root / "labels.csv")
    return pd.DataFrame(
        {
            "source": "ptbxl",
            "record": [Path(r).name for r in df["record"]],
            "ecg": df["ecg_id"].astype(int).astype(str),
            "patient": "ptbxl-" + df["patient_id"].astype(float).astype(int).astype(str),
            "path": [str(root / r) for r in df["record"]],
            "fs": df["fs"].astype(float),
            "fold": df["strat_fold"].astype(int),
            "age": df["age"].astype(float),
            "sex": df["sex"].map({"M": "M", "F": "F"}),
            "labels": df["scp_codes"].astype(str),
            "normal": df["normal"].astype(int) == 1,
            "mains_hz": 50,
        }
    )


def _sex(value) -> str | None:
    return {"male": "M", "female": "F", "m": "M", "f": "F"}.get(str(value).strip().lower())


def _challenge(root: Path, ptbxl_ecgs: set[str]) -> pd.DataFrame:
    df = pd.read_csv(root / "labels.csv", dtype=str)
    rows = []
    for r in df.itertuples(index=False):
        ecg = str(int(float(r.ptbxl_ecg_id))) if isinstance(r.ptbxl_ecg_id, str) else None
        if ecg is not None and ecg in ptbxl_ecgs:
            continue  # the same ECG is in the PTB-XL set
        age = float(r.age) if r.age not in (None, "", "NaN") and isinstance(r.age, str) else None
        rows.append(
            {
                "source": "challenge",
                "record": r.record,
                "ecg": r.record,
                "patient": f"challenge-{r.record}",
                "path": str(root / "records" / r.record),
                "fs": float(r.fs),
                "fold": 0,
                "age": age,
                "sex": _sex(r.sex),
                "labels": r.dx_snomed,
                "normal": dx_label(r.dx_snomed.split(";")) == "normal",
                "mains_hz": 60 if r.record.startswith("E") else 50,
            }
        )
    return pd.DataFrame(rows)


def _ludb(root: Path) -> pd.DataFrame:
    normal = labels_from_csv(root / "ludb.csv")  # the LUDB adapter's normal rule
    rows = []
    with open(root / "ludb.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            rec = r["ID"].strip()
            findings = []
            for col, value in r.items():
                if col in ("ID", "Sex", "Age"):
                    continue
                findings += [x.strip() for x in (value or "").split("\n") if x.strip()]
            age = r["Age"].strip()
            rows.append(
                {
                    "source": "ludb",
                    "record": rec,
                    "ecg": rec,
                    "patient": f"ludb-{rec}",
                    "path": str(root / "data" / rec),
                    "fs": 500.0,
                    "fold": 0,
                    "age": float(age) if age.replace(".", "").isdigit() else None,
                    "sex": _sex(r["Sex"]),
                    "labels": "|".join(findings),
                    "normal": normal.get(rec) == "normal",
                    "mains_hz": 50,
                }
            )
    return pd.DataFrame(rows)


def _ptb(root: Path) -> pd.DataFrame:
    df = pd.read_csv(root / "labels.csv", dtype=str)
    return pd.DataFrame(
        {
            "source": "ptb",
            "record": df["record"],
            "ecg": df["record"],
            # consecutive records with the same age and sex: one patient (see the adapter)
            "patient": "ptb-" + df["age"] + df["sex"].str[0],
            "path": [str(root / "records" / r) for r in df["record"]],
            "fs": df["fs"].astype(float),
            "fold": 0,
            "age": df["age"].astype(float),
            "sex": [_sex(s) for s in df["sex"]],
            "labels": df["dx_snomed"],
            "normal": [dx_label(d.split(";")) == "normal" for d in df["dx_snomed"]],
            "mains_hz": 50,
        }
    )


def build_table(data_root: Path) -> pd.DataFrame:
    """All sources found under ``data_root`` (the shared data folder), one row per record."""
    parts = []
    ptbxl = _ptbxl(data_root / "ptbxl") if (data_root / "ptbxl/labels.csv").is_file() else None
    if ptbxl is not None:
        parts.append(ptbxl)
    ecgs = set(ptbxl["ecg"]) if ptbxl is not None else set()
    if (data_root / "cinc-challenge-samples/labels.csv").is_file():
        parts.append(_challenge(data_root / "cinc-challenge-samples", ecgs))
    if (data_root / "ludb/ludb.csv").is_file():
        parts.append(_ludb(data_root / "ludb"))
    if (data_root / "ptb-diagnostic-long/labels.csv").is_file():
        parts.append(_ptb(data_root / "ptb-diagnostic-long"))
    table = pd.concat(parts, ignore_index=True)
    table["key"] = table["source"] + "/" + table["record"]
    return table


def select_one_rate(table: pd.DataFrame, prefer_fs: float = 500.0) -> pd.DataFrame:
    """One row per ECG: the ``prefer_fs`` copy where an ECG is held at two rates."""
    order = (table["fs"] != prefer_fs).astype(int)
    t = table.assign(_o=order).sort_values(["source", "ecg", "_o"], kind="stable")
    return t.drop_duplicates(["source", "ecg"]).drop(columns="_o").sort_index()


# --- the cache -----------------------------------------------------------------------------------


def cache_path(cache: Path, key: str) -> Path:
    return cache / f"{key.replace('/', '__')}.pkl"


def slim(measured) -> dict:
    """What the interpretation step reads, from a `hearteye.analyze.Measured`."""
    d = measured.delineation
    return {
        "leads": tuple(measured.record.leads),
        "fs": float(measured.fs),
        "display": measured.display.astype(np.float16),
        "beats": d.beats,
        "measurements": measured.measurements,
        "quality": [f.to_dict() for f in measured.quality],
        "features": measured.features(),
        # Found on the record as read (not the display copy): the paced-rhythm statement.
        "pacing": measured.pacing.to_dict(),
        "paced_beats": [t == "paced" for t in measured.beat_types],
    }


def extract(table: pd.DataFrame, cache: Path) -> tuple[int, int]:
    """Measure every record of ``table`` not yet in ``cache``. Returns (done now, failed)."""
    from hearteye.analyze import measure_record
    from hearteye.errors import HeartEyeError
    from hearteye.io import read_record
    from hearteye.record import RecordMeta

    cache.mkdir(parents=True, exist_ok=True)
    done = failed = 0
    for row in table.itertuples(index=False):
        out = cache_path(cache, row.key)
        if out.is_file():
            continue
        try:
            record = read_record(f"{row.path}.hea")
            if row.source == "ptb":
                record = record.head(PTB_TAKE_S)
            age = None if row.age is None or math.isnan(row.age) else float(row.age)
            sex = row.sex if isinstance(row.sex, str) else None
            meta: RecordMeta = replace(record.meta, age=age, sex=sex)
            record = replace(record, meta=meta)
            m = measure_record(record, notch_hz=float(row.mains_hz))
        except (HeartEyeError, OSError, ValueError) as exc:
            failed += 1
            log.warning("%s skipped: %s", row.key, exc)
            continue
        with open(out, "wb") as fh:
            pickle.dump(slim(m), fh, protocol=pickle.HIGHEST_PROTOCOL)
        done += 1
        if done % 100 == 0:
            log.info("%d records measured", done)
    return done, failed


def load(cache: Path, key: str) -> dict | None:
    path = cache_path(cache, key)
    if not path.is_file():
        return None
    with open(path, "rb") as fh:
        return pickle.load(fh)
