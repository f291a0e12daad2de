"""The per-record work of `hearteye prepare`: read, preprocess, window, build masks.

`process_record` is a pure function of one master-table row and the parameters (it reads the
record's files, writes nothing), so the same call runs in-process, in a process pool or on a
Dask worker and yields the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hearteye.data import masks as M
from hearteye.data.annotations import read_annotation
from hearteye.data.ludb import LEAD_EXTENSIONS
from hearteye.data.mimic import machine_fiducials
from hearteye.data.qrs import detect_qrs
from hearteye.io.wfdb import read_wfdb, wfdb_length
from hearteye.record import STANDARD_LEADS, normalise_lead_name
from hearteye.signal import PreprocessConfig, preprocess, resampled_length, windows

N_LEADS = len(STANDARD_LEADS)
_LEAD_INDEX = {name: i for i, name in enumerate(STANDARD_LEADS)}
# Columns of one df_info row, in file order.
INFO_COLUMNS = (
    "record",
    "patient",
    "split",
    "label",
    "source",
    "mask_source",
    "window",
    "start_sample",
    "fs_origin",
    "n_samples_origin",
    "valid_fraction",
    "missing_leads",
    "flat_leads",
)


@dataclass(frozen=True)
class PrepareParams:
    """Everything that decides the bytes of the output; hashed into the shard markers."""

    low_hz: float | None = 0.67
    high_hz: float | None = 150.0
    order: int = 2
    notch: str = "auto"  # "auto" (the master's mains_hz), "50", "60" or "none"
    target_fs: float = 500.0
    window_s: float = 10.0
    per_lead: bool = True  # also write Y_lead / M_lead (set when any record has them)

    def config_for(self, mains_hz) -> PreprocessConfig:
        if self.notch == "auto":
            notch = float(mains_hz) if mains_hz in (50, 60, 50.0, 60.0, "50", "60") else None
        else:
            notch = None if self.notch == "none" else float(self.notch)
        return PreprocessConfig(
            low_hz=self.low_hz,
            high_hz=self.high_hz,
            order=self.order,
            notch_hz=notch,
            target_fs=self.target_fs,
            zscore=True,
        )

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.target_fs))


class Excluded(Exception):
    """A record left out on purpose (e.g. missing machine measurements), counted by reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class RecordOutput:
    x: np.ndarray  # float32 [window, sample, lead] (may be a strided view)
    y: np.ndarray  # uint8 [window, sample, 3]
    m: np.ndarray  # uint8 [window, sample]
    y_lead: np.ndarray | None  # uint8 [window, sample, lead, 3]
    m_lead: np.ndarray | None  # uint8 [window, sample, lead]
    info: list[tuple]  # df_info rows, INFO_COLUMNS order


def planned_windows(row: dict, params: PrepareParams) -> int:
    """Windows `process_record` will return for ``row``, from the header alone (~0.2 ms).

    0 for a record that will be excluded or cannot be read: `process_record` then reports
    why. Lets the output files be laid out before any record is processed.
    """
    if row.get("mask_source") == "machine" and machine_fiducials(row)[0] is None:
        return 0
    try:
        n, fs = wfdb_length(row["path"])
    except Exception:  # noqa: BLE001 - the worker raises it again, and it is counted there
        return 0
    return resampled_length(n, fs, params.target_fs) // params.window_samples


def _ludb_masks(path: str, leads: tuple[str, ...], fs_from: float, fs_to: float, n: int):
    """Per-lead masks [12, n, 3] / validity [12, n] from the annotation files beside ``path``."""
    lead_masks = np.zeros((N_LEADS, n, 3), dtype=np.uint8)
    lead_valid = np.zeros((N_LEADS, n), dtype=np.uint8)
    for ext in LEAD_EXTENSIONS:
        ann = Path(f"{path}.{ext}")
        if not ann.is_file():
            continue  # lead not annotated: validity stays 0 for it
        samples, symbols = read_annotation(ann)
        samples = M.rescale_samples(samples, fs_from, fs_to)
        idx = _LEAD_INDEX[normalise_lead_name(ext)]
        lead_masks[idx], lead_valid[idx] = M.lead_masks(samples, symbols, n)
    return lead_masks, lead_valid


def process_record(row: dict, params: PrepareParams) -> RecordOutput:
    """One master-table row -> its windows, masks and df_info rows.

    Raises `Excluded` for records deliberately left out; any other exception is a failure
    the caller logs and counts.
    """
    source = row.get("mask_source", "none")
    fiducials = None
    if source == "machine":
        fiducials, reason = machine_fiducials(row)
        if fiducials is None:
            raise Excluded(f"machine_measurements_{reason}")
    record = read_wfdb(row["path"])
    pre = preprocess(record, params.config_for(row.get("mains_hz")))
    n = pre.signal.shape[1]

    # Standard lead order; leads the record lacks stay zero and are flagged per window.
    x_std = np.zeros((N_LEADS, n), dtype=np.float32)
    present = np.zeros(N_LEADS, dtype=bool)
    flat = []
    for i, name in enumerate(pre.leads):
        j = _LEAD_INDEX.get(name)
        if j is None or present[j]:
            continue
        x_std[j] = pre.signal[i]
        present[j] = True
        if pre.flat[i]:
            flat.append(name)
    missing = [STANDARD_LEADS[j] for j in range(N_LEADS) if not present[j]]

    lead_masks = lead_valid = None
    if source == "ludb":
        lead_masks, lead_valid = _ludb_masks(row["path"], pre.leads, record.fs, pre.fs, n)
        mask, valid = M.combine_leads(lead_masks, lead_valid)
    elif source == "machine":
        qrs = detect_qrs(pre.signal, pre.fs, pre.flat)
        mask, valid = M.template_masks(qrs, fiducials, pre.fs, n)
    else:
        mask, valid = np.zeros((n, 3), np.uint8), np.zeros(n, np.uint8)

    xw, starts = windows(x_std, pre.fs, params.window_s)  # [w, lead, sample]
    w, size = len(starts), params.window_samples
    cut = slice(0, w * size)
    out = RecordOutput(
        # Transposed views: the one copy happens when the shard writes them to its map.
        x=xw.transpose(0, 2, 1),
        y=mask[cut].reshape(w, size, 3),
        m=valid[cut].reshape(w, size),
        y_lead=None,
        m_lead=None,
        info=[],
    )
    if params.per_lead:
        if lead_masks is None:
            out.y_lead = np.zeros((w, size, N_LEADS, 3), np.uint8)
            out.m_lead = np.zeros((w, size, N_LEADS), np.uint8)
        else:
            out.y_lead = lead_masks[:, cut].reshape(N_LEADS, w, size, 3).transpose(1, 2, 0, 3)
            out.m_lead = lead_valid[:, cut].reshape(N_LEADS, w, size).transpose(1, 2, 0)
    for k, start in enumerate(starts):
        out.info.append(
            (
                row["record"],
                row["patient"],
                row.get("split", ""),
                row["label"],
                row.get("source", ""),
                source,
                k,
                int(start),
                float(record.fs),
                int(record.n_samples),
                round(float(out.m[k].mean()), 6),
                ";".join(missing),
                ";".join(flat),
            )
        )  # in INFO_COLUMNS order
    return out
