"""Serving: delineate any record with the shipped ONNX model on ONNX Runtime (no torch).

Any number of leads (1..12, shared weights per lead), any sampling rate (the foundation
preprocessing resamples to 500 Hz), any length:

* up to ``SINGLE_WINDOW`` samples (12.3 s at 500 Hz: every resting 10 s ECG) the record is
  one window, edge-padded to the model's length multiple;
* longer records are cut into windows of ``WINDOW`` samples that overlap by ``2 * CONTEXT``.
  **Stitching rule**: each window contributes only its core (the middle ``WINDOW - 2*CONTEXT``
  samples, which tile the record exactly once), so every sample's probability comes from the
  one window in which it has at least ``CONTEXT`` (1 s) of signal on both sides. Boundaries
  are extracted from the stitched probabilities: a beat lying across a window border is one
  run in one trace, so it can be neither lost nor counted twice.
* **Bounded memory**: records longer than ``KEEP_PROB_SAMPLES`` (5 min) are stitched block by
  block (``BLOCK_WINDOWS`` windows plus ``MARGIN_WINDOWS`` on each side); each block keeps
  only the beats anchored in its own part. The margin (8 s) is longer than any beat's extent,
  so every kept beat is built from the same runs as in the whole trace, and no beat is kept
  twice; the probabilities are not kept (``prob`` is ``None``). A record longer than that is
  not held preprocessed either (`hearteye.chunks`): `Delineator.delineate_chunks` delineates
  it chunk by chunk, each chunk's windows placed on the whole record's grid (``phase``), so
  the probabilities, and the beats anchored in each chunk's own part, are those of the whole
  record to float rounding.

Fiducial points (peaks, J point, T onset) are read from the preprocessed signal inside the
boundaries (`hearteye.delineate.points`).

Per-lead beats come from each lead's probabilities; the global beats from where at least two
non-flat leads agree (`hearteye.delineate.postprocess.global_beats`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import numpy as np

from hearteye.artefacts import models_dir
from hearteye.chunks import Chunking, SignalChunks
from hearteye.delineate.noise_gate import is_noisy
from hearteye.delineate.points import global_points, lead_points
from hearteye.delineate.postprocess import Beat, beats_from_probs, global_beats
from hearteye.record import Record
from hearteye.signal import PreprocessConfig, Preprocessed, preprocess

MODEL_ENV = "HEARTEYE_DELINEATOR_MODEL"
NOISE_MODEL_ENV = "HEARTEYE_DELINEATOR_NOISE_MODEL"  # "" turns the noise model off
NOISE_MODEL_NAME = "delineator_noise.onnx"
WINDOW = 5120  # samples at 500 Hz per window for long records (10.24 s)
CONTEXT = 512  # samples of context kept on each side of a window's core (1.024 s)
SINGLE_WINDOW = 6144  # records up to this many samples run as one window
BATCH_WINDOWS = 4  # windows per ONNX call: bounds memory, and is no slower than 16 on CPU
BLOCK_WINDOWS = 64  # windows per streamed block of a long record (~4.4 min at 500 Hz)
MARGIN_WINDOWS = 1  # extra windows on each side of a block (8 s: longer than any beat)
KEEP_PROB_SAMPLES = 300 * 500  # records up to 5 min keep their probabilities in the result


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
    # [lead, 3, sample] per-lead probabilities (P, QRS, QT), read-only; None for records
    # longer than KEEP_PROB_SAMPLES, which are streamed and keep only their beats
    prob: np.ndarray | None
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


def default_noise_model_path() -> Path | None:
    """The noise-trained model that noisy windows go to (`hearteye.delineate.noise_gate`),
    or None where it is not shipped or ``HEARTEYE_DELINEATOR_NOISE_MODEL`` is empty."""
    override = os.environ.get(NOISE_MODEL_ENV)
    if override is not None:
        return Path(override) if override else None
    path = models_dir() / NOISE_MODEL_NAME
    return path if path.is_file() else None


def _session(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _version(path: Path) -> str:
    return f"{path.stem}@sha256:{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"


class Delineator:
    """An ONNX Runtime session around the delineation model, plus windowing and stitching."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        threads: int = 1,
        noise_model_path: str | Path | None | bool = True,
    ) -> None:
        """``noise_model_path``: the model for noisy windows (`hearteye.delineate.noise_gate`);
        ``True`` takes the shipped one when ``model_path`` is the shipped model too (a model
        under evaluation runs alone), ``None`` or ``False`` turns the gate off."""
        path = Path(model_path) if model_path is not None else default_model_path()
        if not path.is_file():
            raise FileNotFoundError(f"delineation model not found at {path} (set {MODEL_ENV})")
        if noise_model_path is True:
            noise_model_path = default_noise_model_path() if model_path is None else None
        self.session = _session(path, threads)
        self.noise_session = None
        meta = self.session.get_modelmeta().custom_metadata_map
        self.multiple = int(meta.get("multiple", 64))
        self.fs = float(meta.get("fs", 500.0))
        self.channels = tuple(meta.get("channels", "P,QRS,QT").split(","))
        self.path = path
        # Name + content hash: what `Analysis.delineator` reports (both models when gated).
        self.version = _version(path)
        if noise_model_path:
            noise_path = Path(noise_model_path)
            if not noise_path.is_file():
                raise FileNotFoundError(f"noise model not found at {noise_path}")
            self.noise_session = _session(noise_path, threads)
            self.version += "+" + _version(noise_path)

    # -- probabilities -------------------------------------------------------------------
    def _run(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities of a batch of windows: the clean model's, replaced by the noise
        model's for each window the gate sends there (`hearteye.delineate.noise_gate`)."""
        batch = np.ascontiguousarray(batch, np.float32)
        prob = _sigmoid(self.session.run(None, {"signal": batch})[0])
        if self.noise_session is not None:
            noisy = [j for j in range(len(batch)) if is_noisy(batch[j], prob[j], self.fs)]
            if noisy:
                logits = self.noise_session.run(None, {"signal": batch[noisy]})[0]
                prob[noisy] = _sigmoid(logits)
        return prob

    def _check_windows(self, window: int, context: int) -> int:
        if window % self.multiple or window <= 2 * context:
            raise ValueError(
                f"window {window} must be a multiple of {self.multiple} "
                f"and longer than twice the context {context}"
            )
        return window - 2 * context

    def _cores(
        self, x: np.ndarray, k0: int, k1: int, window: int, context: int, phase: int = 0
    ) -> np.ndarray:
        """Stitched probabilities ``[lead, 3, (k1 - k0) * core]`` of windows ``k0..k1-1``
        (window k's core is samples ``[k*core - phase, (k+1)*core - phase)``; beyond either
        end, reflected)."""
        core = window - 2 * context
        n = x.shape[-1]
        out = np.empty((x.shape[0], len(self.channels), (k1 - k0) * core), np.float32)
        for b0 in range(k0, k1, BATCH_WINDOWS):
            ks = range(b0, min(b0 + BATCH_WINDOWS, k1))
            batch = np.stack([_window(x, k * core - phase - context, window, n) for k in ks])
            res = self._run(batch)
            for j, k in enumerate(ks):
                out[:, :, (k - k0) * core : (k - k0 + 1) * core] = res[j][
                    :, :, context : context + core
                ]
        return out

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
        core = self._check_windows(window, context)
        return self._cores(x, 0, -(-n // core), window, context)[..., :n]

    def probability_blocks(
        self,
        x: np.ndarray,
        window: int = WINDOW,
        context: int = CONTEXT,
        block_windows: int = BLOCK_WINDOWS,
        phase: int = 0,
    ) -> Iterator[tuple[int, int, int, np.ndarray]]:
        """The stitched probabilities of a long record, one bounded block at a time.

        Yields ``(start, keep_from, keep_to, prob)``: ``prob[lead, 3, :]`` covers samples
        ``start ..`` of the record, the same values `probabilities` gives there; beats
        anchored in ``[keep_from, keep_to)`` are the block's own. Each block reaches
        ``MARGIN_WINDOWS`` windows beyond its own part on both sides, so the beats it
        keeps are assembled from exactly the runs the whole trace would give them.
        ``phase``: the window grid starts ``phase`` samples before ``x`` (a chunk of a
        longer record starting ``phase`` samples past a window border of the record's)."""
        x = np.asarray(x, dtype=np.float32)
        n = x.shape[-1]
        core = self._check_windows(window, context)
        phase %= core
        n_win = -(-(n + phase) // core)
        for k0 in range(0, n_win, block_windows):
            k1 = min(k0 + block_windows, n_win)
            a, b = max(k0 - MARGIN_WINDOWS, 0), min(k1 + MARGIN_WINDOWS, n_win)
            prob = self._cores(x, a, b, window, context, phase)
            start = a * core - phase
            if start < 0:
                prob, start = prob[..., -start:], 0
            yield (
                start,
                max(k0 * core - phase, 0),
                min(k1 * core - phase, n),
                prob[..., : n - start],
            )

    # -- boundaries ----------------------------------------------------------------------
    def delineate_signal(
        self,
        x: np.ndarray,
        leads: tuple[str, ...],
        flat: np.ndarray | None = None,
        record_fs: float | None = None,
        block_windows: int = BLOCK_WINDOWS,
        keep_prob_samples: int = KEEP_PROB_SAMPLES,
        phase: int = 0,
        **window_kw,
    ) -> Delineation:
        """Delineate preprocessed ``x[lead, sample]`` at 500 Hz (``record_fs``: the rate the
        record was read at, for the result's description; defaults to 500 Hz).

        Up to ``keep_prob_samples`` the probabilities are computed whole and kept in the
        result; longer records are streamed in blocks (`probability_blocks`, windows placed
        with ``phase``) and only the beats are kept (``prob`` is ``None``): memory stays
        bounded by one block."""
        x = np.asarray(x, dtype=np.float32)
        flat = np.zeros(len(leads), bool) if flat is None else np.asarray(flat, bool)
        names = _unique(leads)
        if x.shape[-1] <= keep_prob_samples:
            prob = self.probabilities(x, **window_kw)
            prob.flags.writeable = False
            per_lead, glob = _beats(prob, flat, self.fs, 0, 0, x.shape[-1])
        else:
            prob = None
            per_lead, glob = [[] for _ in names], []
            kw = {k: v for k, v in window_kw.items() if k != "single_window"}
            for start, lo, hi, block in self.probability_blocks(
                x, block_windows=block_windows, phase=phase, **kw
            ):
                pl, gb = _beats(block, flat, self.fs, start, lo, hi)
                for acc, got in zip(per_lead, pl, strict=True):
                    acc.extend(got)
                glob.extend(gb)
        usable = ~flat
        xs = x if usable.all() else x[usable]  # one copy at most, not one per beat
        return Delineation(
            fs=self.fs,
            record_fs=self.fs if record_fs is None else float(record_fs),
            beats=tuple(global_points(xs, b, self.fs) for b in glob) if usable.any() else (),
            leads=MappingProxyType(
                {
                    lead: tuple(lead_points(x[i], b, self.fs) for b in per_lead[i])
                    for i, lead in enumerate(names)
                }
            ),
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

    def delineate_chunks(
        self, sc: SignalChunks, record_fs: float, lead_beats_until: int | None = None
    ) -> Delineation:
        """Delineate a preprocessed record (`hearteye.chunks.SignalChunks`, at 500 Hz) of a
        record read at ``record_fs``: the path `hearteye.analyze` takes. A held record is one
        piece (`delineate_signal`); a streamed one is delineated chunk by chunk, keeping the
        beats anchored in each chunk's own part, with every chunk's windows on the record's
        grid. ``lead_beats_until``: of a streamed record keep the per-lead beats anchored
        before this sample only (what the caller lists), not the ~100,000 per lead of a
        24 h recording."""
        if sc.fs != self.fs:
            raise ValueError(f"preprocessing must resample to {self.fs} Hz, got {sc.fs}")
        if sc.is_held:
            chunk = next(sc.chunks())
            return self.delineate_signal(chunk.z, sc.leads, sc.flat, record_fs)
        names = _unique(sc.leads)
        per_lead: list[list[Beat]] = [[] for _ in names]
        glob: list[Beat] = []
        for chunk in sc.chunks():
            d = self.delineate_signal(
                chunk.z, sc.leads, sc.flat, record_fs, keep_prob_samples=0, phase=chunk.start
            )
            lo, hi = chunk.start + chunk.lo, chunk.start + chunk.hi
            glob.extend(_own(d.beats, chunk.start, lo, hi))
            if lead_beats_until is not None:
                hi = min(hi, lead_beats_until)
            for acc, name in zip(per_lead, names, strict=True):
                acc.extend(_own(d.leads[name], chunk.start, lo, hi))
        return Delineation(
            fs=self.fs,
            record_fs=float(record_fs),
            beats=tuple(glob),
            leads=MappingProxyType({n: tuple(b) for n, b in zip(names, per_lead, strict=True)}),
            prob=None,
            model=self.version,
        )

    def delineate_long(
        self,
        record: Record,
        config: PreprocessConfig | None = None,
        chunk_s: float = Chunking.chunk_s,
        margin_s: float = Chunking.margin_s,
    ) -> Delineation:
        """Delineate ``record`` chunk by chunk whatever its length (`delineate_chunks` of a
        record streamed in chunks of ``chunk_s``): memory holds the record as read, one chunk
        and the beats."""
        chunking = Chunking(stream_above_s=0.0, chunk_s=chunk_s, margin_s=margin_s)
        sc = SignalChunks.of(record, config or PreprocessConfig(), chunking)
        return self.delineate_chunks(sc, record.fs)

    def delineate(
        self, record: Record, config: PreprocessConfig | None = None, **window_kw
    ) -> Delineation:
        """Preprocess (filter, resample to 500 Hz, z-score) and delineate a `Record`; one
        longer than `hearteye.chunks.Chunking.stream_above_s` chunk by chunk (bounded
        memory)."""
        cfg = config or PreprocessConfig()
        if window_kw:
            return self.delineate_preprocessed(preprocess(record, cfg), record.fs, **window_kw)
        return self.delineate_chunks(SignalChunks.of(record, cfg), record.fs)


def _own(beats, start: int, lo: int, hi: int) -> list[Beat]:
    """``beats`` of a chunk starting at record sample ``start``, in record samples, keeping
    those anchored in ``[lo, hi)``."""
    out = (b.shifted(start) for b in beats)
    return [b for b in out if lo <= b.anchor() < hi]


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def _window(x: np.ndarray, a: int, window: int, n: int) -> np.ndarray:
    """Samples ``[a, a + window)`` of ``x[lead, sample]``, reflected where they run past either
    end (numpy's "reflect", as if the whole record had been padded)."""
    left, right = max(-a, 0), max(a + window - n, 0)
    if not left and not right:
        return x[:, a : a + window]
    # Reflection reaches back ``right`` samples from the end: slice wide enough for it.
    lo = min(max(a, 0), max(n - 1 - right, 0))
    seg = np.pad(x[:, lo : min(a + window, n)], ((0, 0), (left, right)), mode="reflect")
    return seg[:, max(a, 0) - lo :][:, :window] if a > 0 else seg[:, :window]


def _beats(
    prob: np.ndarray, flat: np.ndarray, fs: float, start: int, lo: int, hi: int
) -> tuple[list[list[Beat]], list[Beat]]:
    """Per-lead and global beats of a block of probabilities starting at sample ``start``,
    in record samples, keeping those anchored in ``[lo, hi)``."""

    def keep(beats: list[Beat]) -> list[Beat]:
        out = [b.shifted(start) if start else b for b in beats]
        return [b for b in out if lo <= b.anchor() < hi]

    per_lead = [[] if flat[i] else keep(beats_from_probs(prob[i], fs)) for i in range(len(prob))]
    return per_lead, keep(global_beats(prob, fs, ~flat))


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
