"""The preprocessed record, held whole or served chunk by chunk: what every step after
preprocessing reads its samples from.

`SignalChunks.of(record)` preprocesses a record (`hearteye.signal.preprocess`) into the two
copies the analysis reads, both at 500 Hz: the display copy in mV (band-passed and notched)
and the model's z-scored copy. A record up to `Chunking.stream_above_s` (300 s: every resting
ECG, and every record the service analyses by default) is preprocessed whole and held, as one
chunk. A longer one is never held preprocessed (a 24 h 2-lead 250 Hz Holter would be 2 x 346
MB at 500 Hz): each pass over it preprocesses it again, chunk by chunk, and each step keeps
only what it reduces the samples to (beats, per-beat values, sums, the windows of a bounded
subset of beats). Steps read samples only through a pass: `chunks`, `take` (windows around
beats), `reduce_rows`, `map_beats`, `head`; a pass over a held record costs nothing, so a 10 s
ECG takes the same path as a Holter.

Rules, and why:

* **Chunks.** Own parts of ``chunk_s`` (300 s) tile the output exactly once; each chunk is
  preprocessed with ``margin_s`` (24 s) of the record on both sides. Zero-phase filtering of
  a piece differs from the whole record's only near its ends (the 0.67 Hz high-pass settles
  within ~3 s, the notch within ~1 s, the resampler's FIR within ~20 ms), so on its own part
  a chunk's samples are the whole record's to float rounding (`tests/test_chunks.py` measures
  it on a real record). The margin is also where a beat anchored in the own part finds its P
  wave and T end, and the delineator two windows of context (`hearteye.delineate.runtime`).
* **Grid.** Every cut lies on a sample of both rates (at 500 Hz, a multiple of the
  resampling ratio's numerator), so output sample ``i`` of a chunk is output sample
  ``start + i`` of the whole record, polyphase alignment included.
* **Z-score.** The mean and standard deviation per lead come from a first pass over the own
  parts (each chunk's moments, combined exactly as in Chan et al. 1979), so every chunk is
  scaled as the whole record is; flat leads (standard deviation under ``FLAT_STD_MV``) are
  zero in both copies, as `preprocess` and `hearteye.analyze` make them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

from hearteye.record import Record
from hearteye.signal import (
    FLAT_STD_MV,
    PreprocessConfig,
    Preprocessed,
    chain_filter,
    preprocess,
    rational_rate,
    resample_ratio,
    resampled_length,
)


def merge_moments(acc: tuple, count: int, mean, m2) -> tuple:
    """Running ``(count, mean, m2)`` (m2: sum of squared deviations) with one more block's
    ``count``, ``mean`` and ``m2`` added, exactly (Chan, Golub and LeVeque 1979); scalars or
    per-lead arrays. Start from ``(0, 0.0, 0.0)``; the variance is ``m2 / count``."""
    n, m, s = acc
    delta, total = mean - m, n + count
    return total, m + delta * count / total, s + m2 + delta**2 * n * count / total


@dataclass(frozen=True)
class Chunking:
    """When and how a record is preprocessed in chunks (see the module rules)."""

    stream_above_s: float = 300.0  # records longer than this are never held preprocessed
    chunk_s: float = 300.0  # own part of each chunk
    margin_s: float = 24.0  # record preprocessed on each side of the own part

    def __post_init__(self) -> None:
        if not (self.chunk_s > 0 and self.margin_s > 0):
            raise ValueError("chunk_s and margin_s must be positive")


@dataclass(frozen=True)
class Chunk:
    """Output samples ``start .. start + n`` of the preprocessed record: ``display`` in mV
    and ``z`` z-scored, float32 ``[lead, sample]``. Columns ``lo:hi`` are the chunk's own
    part (the own parts of a record's chunks tile it once); the rest is margin."""

    index: int
    start: int
    lo: int
    hi: int
    display: np.ndarray
    z: np.ndarray | None


class SignalChunks:
    """The preprocessed record (see the module): ``n`` samples per lead at ``fs``, with the
    per-lead ``mean`` and ``std`` (mV, float32) of the filtered signal and the ``flat`` leads."""

    def __init__(
        self,
        *,
        fs: float,
        leads: tuple[str, ...],
        n: int,
        flat: np.ndarray,
        mean: np.ndarray,
        std: np.ndarray,
        held: Chunk | None = None,
        source: _Source | None = None,
    ) -> None:
        self.fs, self.leads, self.n = fs, tuple(leads), n
        self.flat, self.mean, self.std = flat, mean, std
        self._held, self._source = held, source

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def of(
        cls,
        record: Record,
        config: PreprocessConfig | None = None,
        chunking: Chunking | None = None,
    ) -> SignalChunks:
        """The record preprocessed by ``config`` (default `PreprocessConfig()`; it must
        z-score and resample): held whole up to ``chunking.stream_above_s``, streamed in
        chunks beyond (default `Chunking()`)."""
        config, chunking = config or PreprocessConfig(), chunking or Chunking()
        if not config.zscore or config.target_fs is None:
            raise ValueError("SignalChunks needs a config that resamples and z-scores")
        if record.duration <= chunking.stream_above_s:
            return cls.held(preprocess(record, config))
        return _Source(record, config, chunking).chunks()

    @classmethod
    def held(cls, pp: Preprocessed) -> SignalChunks:
        """The output of `preprocess` (z-scored), held: one chunk."""
        display = pp.signal * pp.std[:, None] + pp.mean[:, None]
        display[pp.flat] = 0.0
        n = pp.signal.shape[1]
        chunk = Chunk(0, 0, 0, n, display, pp.signal)
        return cls(
            fs=pp.fs, leads=pp.leads, n=n, flat=pp.flat, mean=pp.mean, std=pp.std, held=chunk
        )

    @classmethod
    def of_display(
        cls, display: np.ndarray, fs: float, leads: Sequence[str] | None = None
    ) -> SignalChunks:
        """A display signal (mV ``[lead, sample]``) already in memory, as one chunk without
        its z-scored twin: how the steps that read samples accept a plain array."""
        x = np.asarray(display)
        n_leads, n = x.shape
        names = tuple(leads) if leads is not None else tuple(str(i) for i in range(n_leads))
        zeros = np.zeros(n_leads, np.float32)
        chunk = Chunk(0, 0, 0, n, x, None)
        flat = np.zeros(n_leads, bool)
        return cls(fs=float(fs), leads=names, n=n, flat=flat, mean=zeros, std=zeros, held=chunk)

    @classmethod
    def wrap(cls, x: np.ndarray | SignalChunks, fs: float) -> SignalChunks:
        """``x`` as the steps read samples: a `SignalChunks` as it is, a display array
        (mV ``[lead, sample]``) as `of_display`."""
        return x if isinstance(x, SignalChunks) else cls.of_display(x, fs)

    @property
    def is_held(self) -> bool:
        """Whether the record is held whole (one chunk; passes cost nothing)."""
        return self._held is not None

    # -- passes ---------------------------------------------------------------------------
    def chunks(self, needed: Iterable[int] | None = None) -> Iterator[Chunk]:
        """One pass: the chunks in order (only those numbered in ``needed``, when given)."""
        if self._held is not None:
            yield self._held
            return
        assert self._source is not None
        numbers = range(self._source.count) if needed is None else sorted(set(needed))
        for k in numbers:
            yield self._source.chunk(k)

    def chunk_of(self, sample: np.ndarray) -> np.ndarray:
        """The number of the chunk whose own part holds each output ``sample``."""
        s = np.asarray(sample, dtype=np.int64)
        if self._held is not None:
            return np.zeros(s.shape, np.int64)
        assert self._source is not None
        return np.clip(s // self._source.step, 0, self._source.count - 1)

    def take(self, centres: np.ndarray, offsets: np.ndarray, which: str = "display") -> np.ndarray:
        """The display (or ``"z"``) copy's samples ``centres[row] + offsets``, clipped to the
        record (an edge window repeats the edge sample): ``[lead, row, offset]`` float32, in
        one pass. Windows must be short (within a chunk's margin), as windows around a
        beat are."""
        return self._gather(centres, offsets, (which,))[0]

    def take_pair(self, centres: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`take` of the display and the z-scored copy together, in one pass."""
        display, z = self._gather(centres, offsets, ("display", "z"))
        return display, z

    def reduce_rows(
        self,
        centres: np.ndarray,
        offsets: np.ndarray,
        fn: Callable[[np.ndarray], np.ndarray],
        which: str = "display",
    ) -> np.ndarray:
        """``fn(take(centres, offsets))`` without holding every window at once: ``fn`` maps
        a block ``[lead, row, offset]`` to one result per row (first axis); the results come
        back in row order. For reductions over many windows (every beat of a Holter)."""
        centres, offsets = np.asarray(centres, np.int64), np.asarray(offsets, np.int64)
        if self._held is not None:
            return np.asarray(fn(self._window(self._held, centres, offsets, which)))
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for chunk, rows in self._rows_by_chunk(centres, offsets):
            block = self._window(chunk, centres[rows], offsets, which)
            out.append((rows, np.asarray(fn(block))))
        if not out:
            return np.asarray(fn(np.zeros((len(self.leads), 0, len(offsets)), np.float32)))
        res = np.empty((len(centres), *out[0][1].shape[1:]), out[0][1].dtype)
        for rows, r in out:
            res[rows] = r
        return res

    def map_beats(self, fn: Callable[[np.ndarray, list], Sequence], beats: Sequence) -> list:
        """``fn(display, beats)`` (one result per beat) without holding the record
        preprocessed: each chunk's display copy with the beats anchored in its own part,
        shifted to its samples (beats have ``anchor()`` and ``shifted(offset)``, as
        `hearteye.delineate.postprocess.Beat`). Results in the order of ``beats``."""
        beats = list(beats)
        if self._held is not None:
            return list(fn(self._held.display, beats))
        anchors = np.array([b.anchor() for b in beats], dtype=np.float64)
        owner = self.chunk_of(np.floor(anchors).astype(np.int64)) if beats else anchors
        out: list = [None] * len(beats)
        for chunk in self.chunks(np.unique(owner).tolist()):
            mine = np.flatnonzero(owner == chunk.index)
            local = [beats[i].shifted(-chunk.start) for i in mine]
            for i, r in zip(mine, fn(chunk.display, local), strict=True):
                out[i] = r
        return out

    def head(self, n: int) -> np.ndarray:
        """The display copy's first ``n`` samples (fewer when the record is shorter)."""
        n = min(max(int(n), 0), self.n)
        if self._held is not None:
            return self._held.display[:, :n]
        out = np.empty((len(self.leads), n), np.float32)
        needed = range(int(self.chunk_of(np.array(max(n - 1, 0)))) + 1) if n else []
        for chunk in self.chunks(needed):
            a, b = chunk.start + chunk.lo, min(chunk.start + chunk.hi, n)
            out[:, a:b] = chunk.display[:, chunk.lo : chunk.lo + b - a]
        return out

    # -- internals ------------------------------------------------------------------------
    def _window(self, chunk: Chunk, centres: np.ndarray, offsets: np.ndarray, which: str):
        """``[lead, row, offset]`` samples of ``chunk`` at record samples ``centres +
        offsets``, clipped to the record."""
        x = chunk.display if which == "display" else chunk.z
        if x is None:
            raise ValueError("this signal has no z-scored copy")
        idx = np.clip(centres[:, None] + offsets[None, :], 0, self.n - 1)
        if chunk.start:
            idx -= chunk.start
        return x[:, idx]

    def _gather(
        self, centres: np.ndarray, offsets: np.ndarray, names: tuple[str, ...]
    ) -> list[np.ndarray]:
        centres, offsets = np.asarray(centres, np.int64), np.asarray(offsets, np.int64)
        if self._held is not None:
            return [self._window(self._held, centres, offsets, w) for w in names]
        out = [np.empty((len(self.leads), len(centres), len(offsets)), np.float32) for _ in names]
        for chunk, rows in self._rows_by_chunk(centres, offsets):
            for o, w in zip(out, names, strict=True):
                o[:, rows] = self._window(chunk, centres[rows], offsets, w)
        return out

    def _rows_by_chunk(
        self, centres: np.ndarray, offsets: np.ndarray
    ) -> Iterator[tuple[Chunk, np.ndarray]]:
        """Each chunk of one pass with the windows it serves (by each window's first sample,
        clipped); a window reaching past that chunk's margin is refused."""
        if not len(centres):
            return
        lo = np.clip(centres + offsets.min(), 0, self.n - 1)
        hi = np.clip(centres + offsets.max(), 0, self.n - 1)
        owner = self.chunk_of(lo)
        for chunk in self.chunks(np.unique(owner).tolist()):
            rows = np.flatnonzero(owner == chunk.index)
            if hi[rows].max() >= chunk.start + chunk.display.shape[1]:
                raise ValueError("a window reaches past its chunk's margin: windows must be short")
            yield chunk, rows


class _Source:
    """A record and its chunk plan (output samples at the preprocessing's target rate)."""

    def __init__(self, record: Record, config: PreprocessConfig, chunking: Chunking) -> None:
        self.record, self.config = record, config
        fs, target = float(record.fs), float(config.target_fs or record.fs)
        self.up, self.down = resample_ratio(fs, target)
        self.fs = fs if self.up == self.down else float(rational_rate(fs) * self.up / self.down)
        self.n = resampled_length(record.n_samples, fs, target)
        up = self.up
        self.step = max(up, int(round(chunking.chunk_s * self.fs / up)) * up)
        self.margin = max(up, math.ceil(chunking.margin_s * self.fs / up) * up)
        self.count = max(1, -(-self.n // self.step))
        self.chain = chain_filter(fs, config)

    def filtered(self, k: int) -> tuple[np.ndarray, int, int, int]:
        """Chunk ``k`` filtered and resampled (float64 mV): (x, start, lo, hi)."""
        o0, o1 = k * self.step, min((k + 1) * self.step, self.n)
        e0, e1 = max(o0 - self.margin, 0), min(o1 + self.margin, self.n)
        a = e0 // self.up * self.down
        b = self.record.n_samples if e1 == self.n else e1 // self.up * self.down
        x = self.record.signal[:, a:b].astype(np.float64)
        if not np.isfinite(x).all():
            x = np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        if self.chain is not None:
            x = self.chain(x)
        if self.up != self.down:
            x = sps.resample_poly(x, self.up, self.down, axis=-1)
        return x[:, : e1 - e0], e0, o0 - e0, o1 - e0

    def chunks(self) -> SignalChunks:
        """The first pass: the record's per-lead moments, then the streamed signal."""
        n_leads = self.record.n_leads
        acc = (0, np.zeros(n_leads), np.zeros(n_leads))
        for k in range(self.count):
            x, _, lo, hi = self.filtered(k)
            own = x[:, lo:hi]
            mk = own.mean(axis=1)
            acc = merge_moments(acc, own.shape[1], mk, ((own - mk[:, None]) ** 2).sum(axis=1))
        count, mean, m2 = acc
        self.mean, self.std = mean, np.sqrt(m2 / max(count, 1))
        self.flat = ~(self.std > FLAT_STD_MV)
        return SignalChunks(
            fs=self.fs,
            leads=self.record.leads,
            n=self.n,
            flat=self.flat,
            mean=self.mean.astype(np.float32),
            std=self.std.astype(np.float32),
            source=self,
        )

    def chunk(self, k: int) -> Chunk:
        """Chunk ``k`` in both copies, scaled by the record's moments, as
        `hearteye.signal.zscore` and `hearteye.analyze` scale a held record."""
        x, start, lo, hi = self.filtered(k)
        flat = self.flat
        z = ((x - self.mean[:, None]) / np.where(flat, 1.0, self.std)[:, None]).astype(np.float32)
        z[flat] = 0.0
        display = z * self.std.astype(np.float32)[:, None] + self.mean.astype(np.float32)[:, None]
        display[flat] = 0.0
        return Chunk(k, start, lo, hi, display, z)
