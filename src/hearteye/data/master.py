"""The master CSV: one row per record, the input of `hearteye split` and `hearteye prepare`.

Columns every adapter writes (extra columns pass through untouched):

``record``       unique record id within the data set (str)
``patient``      patient id; all records of one patient land in one split (str)
``label``        ``normal`` or ``abnormal`` (each adapter documents its rule)
``source``       ``ludb`` | ``mimic`` | ``ptbxl`` | ``challenge``
``path``         absolute path of the WFDB record, without the ``.hea`` extension
``mask_source``  where training masks come from: ``ludb`` (per-lead annotation files
                 beside the record), ``machine`` (one measured beat: ``p_onset``, ``p_end``,
                 ``qrs_onset``, ``qrs_end``, ``t_end`` in ms), or ``none`` (no masks: Y and
                 validity all zero, still useful for classification)
``mains_hz``     mains frequency where the data set was recorded (50 or 60): the notch
                 `hearteye prepare` uses unless told otherwise
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearteye.data import DATASETS
from hearteye.errors import HeartEyeError

COLUMNS: tuple[str, ...] = ("record", "patient", "label", "source", "path", "mask_source",
                            "mains_hz")
LABELS: tuple[str, ...] = ("normal", "abnormal")
FIDUCIALS: tuple[str, ...] = ("p_onset", "p_end", "qrs_onset", "qrs_end", "t_end")


def build_master(dataset: str, root: str | Path) -> pd.DataFrame:
    """The master table of a data set laid out as distributed (see each adapter)."""
    from hearteye.data import challenge, ludb, mimic, ptbxl

    adapters = {"ludb": ludb.build_master, "mimic": mimic.build_master,
                "ptbxl": ptbxl.build_master, "challenge": challenge.build_master}
    if dataset not in adapters:
        raise HeartEyeError(f"unknown data set {dataset!r}; choose one of {', '.join(DATASETS)}")
    root = Path(root)
    if not root.is_dir():
        raise HeartEyeError(f"data set root {root} is not a folder")
    return validate(adapters[dataset](root))


def validate(df: pd.DataFrame) -> pd.DataFrame:
    """Check the columns and values every consumer relies on; ids become strings."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise HeartEyeError(f"master table lacks column(s) {', '.join(missing)}")
    df = df.copy()
    for col in ("record", "patient"):
        df[col] = df[col].astype(str)
    bad = sorted(set(df["label"]) - set(LABELS))
    if bad:
        raise HeartEyeError(f"labels must be {' or '.join(LABELS)}; found {bad[:5]}")
    dup = df["record"][df["record"].duplicated()]
    if len(dup):
        raise HeartEyeError(f"record ids must be unique; {dup.iloc[0]!r} appears twice")
    return df.reset_index(drop=True)


def read_master(path: str | Path) -> pd.DataFrame:
    """Read a master or split CSV with ids kept as text (``00012`` stays ``00012``)."""
    df = pd.read_csv(path, dtype={"record": str, "patient": str, "split": str})
    return validate(df)
