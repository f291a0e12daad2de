"""Serving: delineate any record with the shipped ONNX model on ONNX Runtime (no torch).

Any number of leads (1..12, shared weights per lead), any sampling rate (the foundation
preprocessing resamples to 500 Hz), any length:

* up to ``SINGLE_WINDOW`` samples (12.3 s at 500 Hz: every resting 10 s ECG) the record is
  one window, edge-padded to the model's length multiple;
* longer records are cut into windows of ``WINDOW`` samples that overlap by ``2 * CONTEXT``.
  **Stitching rule**: each window contributes only its core (the middle ``WINDOW - 2*CONTEXT``
  samples, which tile the record exactly once), so every sample's probability comes from the
  one window in which it has at least ``CONTEXT`` (1 s) of signal on both sides. Boundaries
  are then extracted once from the stitched full-length probabilities: a beat lying across a
  window border is one run in one trace, so it can be neither lost nor counted twice.

Per-lead beats come from each lead's probabilities; the global beats from where at least two
non-flat leads agree (`hearteye.delineate.postprocess.global_beats`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import numpy as np

from hearteye.artefacts import models_dir
from hearteye.delineate.postprocess import Beat, beats_from_probs, global_beats
from hearteye.record import Record
from hearteye.signal import PreprocessConfig, Preprocessed, preprocess

MODEL_ENV = "HEARTEYE_DELINEATOR_MODEL"
WINDOW = 5120  # samples at 500 Hz per window for long records (10.24 s)
CONTEXT = 512  # samples of context kept on each side of a window's core (1.024 s)
SINGLE_WINDOW = 6144  # records up to this many samples run as one window
BATCH_WINDOWS = 16  # windows per ONNX call (bounds memory on long records)


@dataclass(frozen=True)
class Delineation:
    """The complete result, immutable: boundaries in samples at ``fs`` (500 Hz) from the
    start of the record, per lead and global, and the probabilities they came from.

    Built once by `Delineator`; every consumer (the CLI, `hearteye.analyze`, the evaluation)
    uses it as it is.
    """

    fs: float  # rate of the boundaries (the preprocessing target, 500 Hz)
    record_fs: float  # rate of the record as read
    beats: tuple[Beat, ...]
    leads: Mapping[str, tuple[Beat, ...]]
    prob: np.ndarray  # [lead, 3, sample] per-lead probabilities (P, QRS, QT), read-only
    model: str  # name and content hash of the model that produced it

    def global_seconds(self) -> list[dict]:
        """Global beats in seconds, ``None`` (JSON null) for absent waves."""
        return [b.to_seconds(self.fs) for b in self.beats]

    def lead_seconds(self) -> dict[str, list[dict]]:
        """Per-lead beats in seconds."""
        return {lead: [b.to_seconds(self.fs) for b in beats] for lead, beats in self.leads.items()}

    def to_dict(self) -> dict:
        """The CLI shape: the record's rate and the beats in seconds."""
        return {"fs": self.record_fs, "beats": self.global_seconds(), "leads": self.lead_seconds()}


def default_model_path() -> Path:
    override = os.environ.get(MODEL_ENV)
    return Path(override) if override else models_dir() / "delineator.onnx"


class Delineator:
    """An ONNX Runtime session around the delineation model, plus windowing and stitching."""

    def __init__(self, model_path: str | Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        path = Path(model_path) if model_path is not None else default_model_path()
        if not path.is_file():
            raise FileNotFoundError(f"delineation model not found at {path} (set {MODEL_ENV})")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.multiple = int(meta.get("multiple", 64))
        self.fs = float(meta.get("fs", 500.0))
        self.channels = tuple(meta.get("channels", "P,QRS,QT").split(","))
        self.path = path
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        # Name + content hash: what `Analysis.delineator` reports.
        self.version = f"{path.stem}@sha256:{digest}"

    # -- probabilities -------------------------------------------------------------------
    def _run(self, batch: np.ndarray) -> np.ndarray:
        logits = self.session.run(None, {"signal": np.ascontiguousarray(batch, np.float32)})[0]
        return 1.0 / (1.0 + np.exp(-logits))

    def probabilities(
        self,
        x: np.ndarray,
        window: int = WINDOW,
        context: int = CONTEXT,
        single_window: int = SINGLE_WINDOW,
    ) -> np.ndarray:
        """Per-lead probabilities ``[lead, 3, sample]`` for ``x[lead, sample]`` at 500 Hz."""
        x = np.asarray(x, dtype=np.float32)
        n_leads, n = x.shape
        if n <= single_window:
            pad = (-n) % self.multiple
            xb = (
                np.pad(x, ((0, 0), (0, pad)), mode="edge")
                if n
                else np.zeros((n_leads, self.multiple), np.float32)
            )
            return self._run(xb[None])[0][..., :n]
        if window % self.multiple or window <= 2 * context:
            raise ValueError(
                f"window {window} must be a multiple of {self.multiple} "
                f"and longer than twice the context {context}"
            )
        core = window - 2 * context
        n_win = -(-n // core)
        # Pad so that window k covers [k*core - context, k*core + core + context).
        padded = np.pad(
            x,
            ((0, 0), (context, n_win * core - n + context)),
            mode="reflect" if n > context else "edge",
        )
        prob = np.empty((n_leads, len(self.channels), n_win * core), np.float32)
        for b0 in range(0, n_win, BATCH_WINDOWS):
            ks = range(b0, min(b0 + BATCH_WINDOWS, n_win))
            batch = np.stack([padded[:, k * core : k * core + window] for k in ks])
            out = self._run(batch)
            for j, k in enumerate(ks):
                prob[:, :, k * core : (k + 1) * core] = out[j][:, :, context : context + core]
        return prob[..., :n]

    # -- boundaries ----------------------------------------------------------------------
    def delineate_signal(
        self,
        x: np.ndarray,
        leads: tuple[str, ...],
        flat: np.ndarray | None = None,
        record_fs: float | None = None,
        **window_kw,
    ) -> Delineation:
        """Delineate preprocessed ``x[lead, sample]`` at 500 Hz (``record_fs``: the rate the
        record was read at, for the result's description; defaults to 500 Hz)."""
        prob = self.probabilities(x, **window_kw)
        prob.flags.writeable = False
        flat = np.zeros(len(leads), bool) if flat is None else np.asarray(flat, bool)
        per_lead = {
            lead: () if flat[i] else tuple(beats_from_probs(prob[i], self.fs))
            for i, lead in enumerate(_unique(leads))
        }
        return Delineation(
            fs=self.fs,
            record_fs=self.fs if record_fs is None else float(record_fs),
            beats=tuple(global_beats(prob, self.fs, ~flat)),
            leads=MappingProxyType(per_lead),
            prob=prob,
            model=self.version,
        )

    def delineate_preprocessed(
        self, pp: Preprocessed, record_fs: float, **window_kw
    ) -> Delineation:
        """Delineate the output of `hearteye.signal.preprocess` (z-scored, at 500 Hz) of a
        record read at ``record_fs``: the path `hearteye.analyze` takes, so the record is
        filtered once for the display copy and the model alike."""
        if pp.fs != self.fs:
            raise ValueError(f"preprocessing must resample to {self.fs} Hz, got {pp.fs}")
        return self.delineate_signal(pp.signal, pp.leads, pp.flat, record_fs, **window_kw)

    def delineate(
        self, record: Record, config: PreprocessConfig | None = None, **window_kw
    ) -> Delineation:
        """Preprocess (filter, resample to 500 Hz, z-score) and delineate a `Record`."""
        pp = preprocess(record, config or PreprocessConfig())
        return self.delineate_preprocessed(pp, record.fs, **window_kw)


def _unique(leads: tuple[str, ...]) -> list[str]:
    """Lead names as dict keys; a repeated name gets a ``#2`` suffix instead of overwriting."""
    seen: dict[str, int] = {}
    out = []
    for name in leads:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


@lru_cache(maxsize=4)
def get_delineator(model_path: str | None = None, threads: int = 1) -> Delineator:
    """A cached `Delineator` (one ONNX session per model path and thread count)."""
    return Delineator(model_path, threads)


def delineate(record: Record, model_path: str | None = None, threads: int = 1) -> Delineation:
    """Delineate a record with the shipped model (the library entry point)."""
    return get_delineator(None if model_path is None else str(model_path), threads).delineate(
        record
    )
