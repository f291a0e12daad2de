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

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from hearteye.data import DATASETS
from hearteye.errors import HeartEyeError

COLUMNS: tuple[str, ...] = (
    "record",
    "patient",
    "label",
    "source",
    "path",
    "mask_source",
    "mains_hz",
)
LABELS: tuple[str, ...] = ("normal", "abnormal")


def build_master(dataset: str, root: str | Path) -> pd.DataFrame:
    """The master table of a data set laid out as distributed (see each adapter)."""
    from hearteye.data import challenge, ludb, mimic, ptbxl

    adapters = {
        "ludb": ludb.build_master,
        "mimic": mimic.build_master,
        "ptbxl": ptbxl.build_master,
        "challenge": challenge.build_master,
    }
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


_TEXT = {"record": str, "patient": str, "split": str}  # ``00012`` stays ``00012``
_SCAN_ROWS = 65_536


def read_master(path: str | Path) -> pd.DataFrame:
    """Read a master or split CSV whole, with ids kept as text."""
    return validate(pd.read_csv(path, dtype=_TEXT))


def iter_master(path: str | Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """A master or split CSV in validated chunks of ``chunk_rows`` rows, in file order.

    Memory stays at one chunk whatever the file's size (800,000 MIMIC-IV-ECG rows held
    whole take ~400 MB). Uniqueness across chunks is `scan_master`'s job.
    """
    with pd.read_csv(path, dtype=_TEXT, chunksize=chunk_rows) as reader:
        for chunk in reader:
            yield validate(chunk)


def scan_master(path: str | Path) -> tuple[int, set[str]]:
    """(rows, mask sources) of a master CSV in one streamed pass, checking the columns and
    that record ids are unique while holding 8 bytes per row (a hash of each id)."""
    missing = [c for c in COLUMNS if c not in pd.read_csv(path, nrows=0).columns]
    if missing:
        raise HeartEyeError(f"master table lacks column(s) {', '.join(missing)}")

    def chunks():
        return pd.read_csv(path, usecols=["record", "mask_source"], dtype=str, chunksize=_SCAN_ROWS)

    def hashes(ids: pd.Series) -> np.ndarray:
        return pd.util.hash_pandas_object(ids, index=False).to_numpy()

    rows, sources, parts = 0, set(), []
    with chunks() as reader:
        for chunk in reader:
            rows += len(chunk)
            sources.update(chunk["mask_source"].dropna().unique().tolist())
            parts.append(hashes(chunk["record"]))
    h = np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)
    shared = h[1:][h[1:] == h[:-1]]
    if len(shared):  # a second, exact look at the few ids whose hashes coincide
        seen: set[str] = set()
        with chunks() as reader:
            for chunk in reader:
                for record in chunk["record"][np.isin(hashes(chunk["record"]), shared)]:
                    if record in seen:
                        raise HeartEyeError(f"record ids must be unique; {record!r} appears twice")
                    seen.add(record)
    return rows, sources
