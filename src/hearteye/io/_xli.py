"""Philips XLI waveform codec: LZW (10-bit codes) of second differences, one chunk per lead,
bounded before it expands and decoded with numpy.

Layout (as the reference decoder, sierraecg, and ecgdatakit read it): per chunk an 8-byte
header (compressed size, int32 little-endian; 2 unused bytes; the first "previous value",
int16) then LZW codes, 10 bits each, most significant bit first. Code c < 256 is the byte c;
codes 256 to 1022 name dictionary entries, one made per code after the first (entry e is the
output of code e followed by the first byte of the output of code e + 1); 1023 ends the
stream. The bytes are the 16-bit words' high bytes, then their low bytes; the words are
second differences, rebuilt as ``x[i] = 2 x[i-1] - x[i-2] - (w[i-1] - 64)`` (the header's value
standing in for ``w[1] - 64``).

Bounds: LZW lets a few MB stand for gigabytes (10-bit codes of a 767-entry dictionary expand
up to ~600-fold), and a fixed ratio cannot tell a bomb from a lead (the staged files' chunks
expand 3.7- to 40-fold, a flat lead the most). So each chunk's size is counted from its codes
alone (code c >= 256 outputs one byte more than the code it extends) and refused past twice
what its declared duration and rate need (plus 4 kB), all chunks together past
`ReadLimits.max_decoded_bytes`; a code naming an entry not yet made is refused. Only then are
bytes made.

Why not the library's decoder: ecgdatakit's (and sierraecg's) LZW runs a Python loop per
code and per byte: 18 of the 26-29 ms a 10 s 12-lead Philips file took to read (here: 2.0-2.2
ms for its 16 chunks, base64 and bounds included, against 2.5-2.7 ms before the rows and the
reused buffers below; best of 60, same session; since then the second differences summed
along rows, 0.40 -> 0.13 ms, codes cut in 16 bits, 0.19 -> 0.14 ms, and the output offsets
summed once, not twice). Here every
step is an array operation: code lengths by pointer doubling over the dictionary tree
(log2 of the longest entry, ~7 passes), then each output byte points at the byte it copies
(the same offset in the output of the code it extends) until it reaches the last byte of a
code, whose value is known; the second differences are two cumulative sums along the rows
of a chunks x words array, in 32-bit integers where the sums provably fit (64 otherwise). Same
bytes and samples as ecgdatakit on every staged file (the tests compare both).
"""

from __future__ import annotations

import numpy as np

from hearteye.errors import InvalidRecordError
from hearteye.io._common import ReadLimits

_HEADER = 8
_LAST_CODE = 1022  # (1 << 10) - 2: the dictionary's last entry; a larger code ends a stream


def split_chunks(raw: bytes, source: str, limits: ReadLimits) -> list[tuple[bytes, int]]:
    """Each chunk's LZW bytes and its header's start value; a chunk running past the data is
    refused (``xli_truncated``), as are more chunks than twice the lead limit."""
    chunks, pos = [], 0
    while pos < len(raw):
        size = int.from_bytes(raw[pos : pos + 4], "little", signed=True)
        if pos + _HEADER > len(raw) or size <= 0 or size > len(raw) - pos - _HEADER:
            raise InvalidRecordError(
                f"{source}: XLI chunk {len(chunks) + 1} declares {size} bytes but "
                f"{max(0, len(raw) - pos - _HEADER)} follow; the waveform is truncated",
                code="xli_truncated",
            )
        start = int.from_bytes(raw[pos + 6 : pos + 8], "little", signed=True)
        chunks.append((raw[pos + _HEADER : pos + _HEADER + size], start))
        pos += _HEADER + size
        if len(chunks) > 2 * limits.max_leads:
            raise InvalidRecordError(
                f"{source}: the XLI data holds more than {2 * limits.max_leads} chunks",
                code="too_many_leads",
            )
    return chunks


class _Streams:
    """All chunks' codes in one array and, per code, its output length, the code it extends
    (an index into the same array) and the literal its output starts with."""

    def __init__(self, chunks: list[bytes]):
        codes, sizes = _codes(chunks)
        n = codes.size
        self.offsets = np.zeros(len(chunks) + 1, dtype=np.intp)
        np.cumsum(sizes, out=self.offsets[1:])
        index = np.arange(n)
        local = index - np.repeat(self.offsets[:-1], sizes)
        literal = codes < 256
        entry = codes - 256
        bad = ~literal & (entry >= local)  # names an entry not made yet
        self.bad = [
            int(np.argmax(bad[a:b])) if bad[a:b].any() else b - a
            for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)
        ]
        parent = np.where(literal | bad, index, index - local + entry)
        # Pointer doubling: depth = distance to the literal that starts a code's output.
        # A start (a literal) has depth 0 and points at itself: when every pointer has
        # reached one, the depths added are all 0 (take's "wrap": indices in range by
        # construction, a code points into its own chunk, at an earlier code or itself).
        # The buffers are reused: a fresh array of this size per step costs more than the
        # step (the allocator maps and faults in new pages each time).
        depth = (parent != index).astype(np.intp)
        up, spare, step = parent.copy(), np.empty_like(parent), np.empty_like(parent)
        while True:
            depth.take(up, out=step, mode="wrap")
            if not step.any():
                break
            depth += step
            up.take(up, out=spare, mode="wrap")
            up, spare = spare, up
        depth += 1
        self.codes, self.lengths, self.parent, self.root = codes, depth, parent, up
        self.start = np.zeros(n + 1, dtype=np.intp)  # each code's first byte in the output
        np.cumsum(depth, out=self.start[1:])

    def total(self, i: int) -> int:
        return int(self.start[self.offsets[i + 1]] - self.start[self.offsets[i]])

    def samples(self, use: int, starts: list[int], source: str) -> list[np.ndarray]:
        """The first ``use`` chunks' samples (int32).

        Bytes: each output byte points at the byte it copies (the same offset in the output
        of the code its code extends) until it meets the last byte of a code, whose value is
        known (a literal, or the first byte of the code after the extended one); doubling
        the pointers ``log2(longest output)`` times resolves them. What depends only on the
        codes is done for all chunks at once; the bytes chunk by chunk, each chunk's written
        straight into its row of one 2-D array: arrays of ~11,000 pointers stay in cache and
        in the allocator's reused memory, where all 132,000 bytes at once took 1.4 ms against
        1.0 (fresh pages mapped and faulted in on every call). Codes after the 768th extend
        only earlier ones (the dictionary is full), so only the first 768 codes' bytes are
        doubled and the rest copied from them once."""
        b = int(self.offsets[use])
        codes, lengths, parent = self.codes[:b], self.lengths[:b], self.parent[:b]
        start = self.start[: b + 1]
        shift = start[:-1] - start[parent]  # how far back a code's output is copied from
        first = codes[self.root[:b]]
        last = np.where(codes < 256, codes, first[np.minimum(parent + 1, b - 1)])
        last = last.astype(np.uint8)
        full = _LAST_CODE - 256 + 2  # codes made before the dictionary is full
        sizes = start[self.offsets[1 : use + 1]] - start[self.offsets[:use]]
        alike = bool((sizes == sizes[0]).all())  # the usual case: one 2-D array, no stacking
        rows = np.empty((use, int(sizes[0])), dtype=np.uint8) if alike else None
        out = []
        for k in range(use):
            a, z = int(self.offsets[k]), int(self.offsets[k + 1])
            lo = int(start[a])
            ref = np.arange(int(start[z]) - lo) - np.repeat(shift[a:z], lengths[a:z])
            ends = start[a + 1 : z + 1] - (lo + 1)
            ref[ends] = ends
            values = rows[k] if rows is not None else np.empty(ref.size, dtype=np.uint8)
            values[ends] = last[a:z]  # every other byte is copied below
            e = min(a + full, z)
            early = int(start[e]) - lo
            pointers = ref[:early]
            for _ in range(max(1, int(lengths[a:e].max() - 1).bit_length())):
                pointers = pointers.take(pointers, mode="wrap")  # in range: see _Streams
            values[:early] = values.take(pointers)
            if early < values.size:
                values[early:] = values.take(ref[early:])
            out.append(values)
        if rows is not None:
            return list(_second_differences(rows, np.asarray(starts[:use]), source))
        return [
            _second_differences(v[None], np.asarray(starts[k : k + 1]), source, k)[0]
            for k, v in enumerate(out)
        ]


def _codes(chunks: list[bytes]) -> tuple[np.ndarray, list[int]]:
    """Every chunk's 10-bit codes (most significant bit first, up to its end code or its last
    whole code), one after the other, and how many each has."""
    g = np.frombuffer(b"".join(c + bytes(-len(c) % 5) for c in chunks), dtype=np.uint8)
    g = g.reshape(-1, 5).astype(np.uint16)
    # 4 codes in each 5 bytes, cut out in 16 bits (a 40-bit word of uint64 took 1.3x as long)
    every = np.empty((g.shape[0], 4), dtype=np.uint16)
    every[:, 0] = (g[:, 0] << 2) | (g[:, 1] >> 6)
    every[:, 1] = ((g[:, 1] & 63) << 4) | (g[:, 2] >> 4)
    every[:, 2] = ((g[:, 2] & 15) << 6) | (g[:, 3] >> 2)
    every[:, 3] = ((g[:, 3] & 3) << 8) | g[:, 4]
    every = every.ravel()
    kept, sizes, pos = [], [], 0
    for c in chunks:
        codes = every[pos : pos + len(c) * 8 // 10]
        pos += (len(c) + 4) // 5 * 4
        end = np.flatnonzero(codes > _LAST_CODE)
        codes = codes[: end[0]] if end.size else codes
        kept.append(codes)
        sizes.append(codes.size)
    return np.concatenate(kept).astype(np.intp) if kept else np.zeros(0, dtype=np.intp), sizes


def decode(streams: _Streams, starts: list[int], use: int, source: str) -> list[np.ndarray]:
    """The samples (int32) of the first ``use`` chunks (``streams`` from `bounded_streams`,
    ``starts`` their headers' start values); a chunk of fewer than 4 bytes is refused."""
    for i in range(len(starts)):
        total = streams.total(i)
        if total < 4:
            raise InvalidRecordError(
                f"{source}: XLI chunk {i + 1} holds only {total} bytes after decompression",
                code="xli_corrupt",
            )
    return streams.samples(min(use, len(starts)), starts, source)


def bounded_streams(
    chunks: list[tuple[bytes, int]], lead_bytes: int, source: str, limits: ReadLimits
) -> _Streams:
    """The chunks' codes, sizes counted and checked in file order: a code naming an entry
    not made yet (``xli_corrupt``) or a chunk expanding past its cap
    (``xli_decompression_bomb``), whichever comes first in the stream."""
    cap_max = min(limits.max_decoded_bytes, 2 * lead_bytes + 4096)
    # Each code outputs at least a byte, so codes past cap + 1 cannot change the verdict.
    streams = _Streams([c[: (cap_max + 2) * 10 // 8 + 5] for c, _ in chunks])
    sizes = streams.start
    budget = limits.max_decoded_bytes
    for i, (chunk, _) in enumerate(chunks):
        cap = min(budget, 2 * lead_bytes + 4096)
        a, b = int(streams.offsets[i]), int(streams.offsets[i + 1])
        bad = a + streams.bad[i]  # the first code naming an entry not made yet, or b
        total = int(sizes[bad] - sizes[a])  # what the codes before it make
        if total > cap:  # passed the cap before any bad code
            raise InvalidRecordError(
                f"{source}: XLI chunk {i + 1} expands past {cap} bytes from "
                f"{len(chunk)}, more than its declared duration and rate need; this looks "
                "like a decompression bomb",
                code="xli_decompression_bomb",
                details={"compressed_bytes": len(chunk), "limit_bytes": cap},
            )
        if bad < b:
            raise InvalidRecordError(
                f"{source}: XLI chunk {i + 1} is not a valid LZW stream", code="xli_corrupt"
            )
        budget -= total
    return streams


def _second_differences(
    data: np.ndarray, starts: np.ndarray, source: str, first: int = 0
) -> np.ndarray:
    """Samples from chunks' bytes (one chunk a row): 16-bit words (high bytes first, then low
    bytes; an odd count gets a zero low byte) undone as second differences in 64-bit
    integers; a sample past 32 bits is a damaged chunk (``first``: the first row's chunk).

    With ``x[i] = 2 x[i-1] - x[i-2] - g[i]`` (``g[2]`` the header's value, ``g[i] = w[i-1] - 64``
    after), x is the double cumulative sum of ``w[0], w[1] - 2 w[0], -g[2], -g[3], ...``."""
    if data.shape[1] % 2:
        data = np.concatenate([data, np.zeros((data.shape[0], 1), dtype=np.uint8)], axis=1)
    half = data.shape[1] // 2
    w = ((data[:, :half].astype(np.uint16) << 8) | data[:, half:]).view(np.int16)
    # One row a chunk, summed along the rows: numpy 2.4 accumulates a contiguous row 3x as
    # fast as down the columns of a words x chunks array (0.045 against 0.14 ms for 12 x
    # 5,500 words), with no transposes. In 32 bits while that is exact: |first sum| <= 32,832
    # per word + 131,071 < 2**31 for up to 65,000 words, and the second sum's
    # |x| <= words * max |first sum|.
    h = np.empty((data.shape[0], half), dtype=np.int32 if half <= 65_000 else np.int64)
    h[:, 0] = w[:, 0]
    if half > 1:
        h[:, 1] = w[:, 1]
        h[:, 1] -= 2 * h[:, 0]
    if half > 2:
        h[:, 2] = -starts
        np.subtract(64, w[:, 2:-1], out=h[:, 3:])
    np.cumsum(h, axis=1, out=h)
    if h.dtype == np.int32 and half * max(-int(h.min()), int(h.max())) < 1 << 31:
        return np.cumsum(h, axis=1, out=h)
    h = h.astype(np.int64)
    # Exact in 64 bits while |slope| <= 2**32 (at most 2**25 words); past that a sample is
    # past 32 bits anyway.
    if half > 1 << 23 and np.abs(h).max() > 1 << 32:
        raise _too_large(source, first + int(np.argmax(np.abs(h).max(axis=1) > 1 << 32)))
    np.cumsum(h, axis=1, out=h)
    if h.min() < -(1 << 31) or h.max() >= 1 << 31:
        outside = (h < -(1 << 31)) | (h >= 1 << 31)
        raise _too_large(source, first + int(np.argmax(outside.any(axis=1))))
    return h.astype(np.int32)


def _too_large(source: str, index: int) -> InvalidRecordError:
    return InvalidRecordError(
        f"{source}: XLI chunk {index + 1} decodes to samples beyond 32 bits; it is damaged",
        code="xli_corrupt",
    )
