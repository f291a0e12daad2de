"""WFDB reader: a ``.hea`` header plus the signal files it names, from disk or from memory.

The header is parsed and checked first (lead count, rate, length, formats, gains, and the
byte count every signal file must hold); only then does `wfdb` decode the samples. Every
format `wfdb` decodes is accepted: ``.dat`` formats 8/16/24/32/61/80/160/212/310/311, FLAC
508/516/524, and the MATLAB v4 ``.mat`` signal files of the PhysioNet Challenges (format 16
after a 24-byte header, declared as ``16+24`` in the header).

Digital samples are converted to physical values exactly as ``wfdb.rdrecord(...).p_signal``
does (float64 ``(d - baseline) / gain``, WFDB's invalid-sample code becomes NaN), then scaled
to mV and rounded once to float32, ``BLOCK_FRAMES`` samples of one lead at a time, so the
float64 copy is one block long; plain formats are also read from their file block by block
(memory holds the float32 record and one block, not the file besides).
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import wfdb
from wfdb.io import _signal as wfdb_signal
from wfdb.io import header as wfdb_header

from hearteye.errors import HeartEyeError, InvalidRecordError
from hearteye.io._common import (
    Member,
    ReadLimits,
    check_lead_count,
    check_length,
    check_rate,
    mv_scale,
    parse_age,
    parse_sex,
    resample_to,
)
from hearteye.record import Record, RecordMeta, normalise_lead_name

FORMAT = "wfdb"
_DEFAULT_LIMITS = ReadLimits()
# A header's first line that is not a comment: record name[/segments], signal count, then
# optionally rate, length, time and date ("1 12 500 5000").
_RECORD_LINE = re.compile(rb"^[A-Za-z0-9_.~+-]+(?:/\d+)?[ \t]+\d+(?:[ \t]|$)")
_RATE_FIELD = re.compile(rb"^[\d.]+(?:/[\d.]+)?(?:\([-\d.]+\))?$")
_FORMAT_FIELD = re.compile(rb"^\d+(?:x\d+)?(?::\d+)?(?:\+\d+)?$")
DEFAULT_ADC_GAIN = 200.0  # WFDB's DEFGAIN: ADC units per physical unit when uncalibrated
_UNCOMPRESSED = set(wfdb_signal.ALIGNED_FMTS) | set(wfdb_signal.UNALIGNED_FMTS)
_COMPRESSED = set(wfdb_signal.COMPRESSED_FMTS)
# Signal file names must be plain names in the header's folder: WFDB allows no paths here,
# and refusing them keeps a header from pointing the reader at other files on the server.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")


@dataclass
class WfdbHeader:
    """The checked content of a ``.hea`` file."""

    record_name: str
    fs: float
    sig_len: int | None
    signals: list[dict]  # per signal: file_name, fmt, spf, byte_offset, gain, baseline, ...
    comments: list[str] = field(default_factory=list)
    recording_frames: int | None = None  # the whole sig_len, when only the start is decoded

    @property
    def files(self) -> dict[str, list[dict]]:
        """Signal file name -> the signals stored in it, in header order."""
        out: dict[str, list[dict]] = {}
        for sig in self.signals:
            out.setdefault(sig["file_name"], []).append(sig)
        return out

    def expected_bytes(self, file_name: str) -> int | None:
        """Bytes ``file_name`` must hold for ``sig_len`` frames (None for FLAC formats)."""
        sigs = self.files[file_name]
        fmt = sigs[0]["fmt"]
        if fmt in _COMPRESSED or self.sig_len is None:
            return None
        n = self.sig_len * sum(s["spf"] for s in sigs)
        return sigs[0]["byte_offset"] + wfdb_signal._required_byte_num("read", fmt, n)

    def frame_bytes(self, file_name: str) -> int:
        sigs = self.files[file_name]
        n = sum(s["spf"] for s in sigs)
        return math.ceil(n * wfdb_signal.BIT_RES[sigs[0]["fmt"]] / 8)


# ---------------------------------------------------------------------------- public API


def looks_like_wfdb_header(head: bytes) -> bool:
    """Text (no NUL byte) whose first line that is not a comment is a WFDB record line
    (name, signal count, then a rate and a length if given), followed by as many signal
    lines (file name, format) as it declares: a note that reads "Patient 12 years" is not a
    header."""
    if b"\0" in head[:1024]:
        return False
    lines = [t for t in (line.strip() for line in head.splitlines()[:80]) if t]
    lines = [t for t in lines if not t.startswith(b"#")]
    if not lines or not _RECORD_LINE.match(lines[0]):
        return False
    fields = lines[0].split()
    if len(fields) > 2 and not _RATE_FIELD.match(fields[2]):
        return False
    if len(fields) > 3 and not fields[3].isdigit():
        return False
    n_sig = int(fields[1])
    signal_lines = lines[1 : 1 + min(n_sig, 8)]
    return len(signal_lines) == min(n_sig, 8) and all(
        len(f := line.split()) > 1 and _FORMAT_FIELD.match(f[1]) for line in signal_lines
    )


def read_wfdb_member(main: Member, siblings: Mapping[str, Member], limits: ReadLimits) -> Record:
    """Read a WFDB record that arrived in an upload: ``main`` is the header, ``siblings`` the
    files in its folder. The declared sizes are checked before anything is decompressed, so
    a header naming a missing or oversized signal file is refused without reading it."""
    _check_header_size(main.size, main.name, limits)
    raw = main.load()
    hdr = parse_header(raw, main.name, limits)
    declared = {n: (siblings[n].size if n in siblings else None) for n in hdr.files}
    check_signal_files(hdr, declared, main.name, limits)
    files = {main.name: raw}
    files.update({n: siblings[n].load() for n in hdr.files})
    return read_wfdb_files(files, main.name, limits)


def read_wfdb(path: str | Path, limits: ReadLimits = _DEFAULT_LIMITS) -> Record:
    """Read a WFDB record from its ``.hea`` path (or the path without extension)."""
    hea, hdr = _checked_header(path, limits)
    _keep_start(hdr, limits)
    if _is_plain(hdr):
        return _record_plain(
            hdr,
            lambda name, dtype, count, offset: np.fromfile(
                hea.parent / name, dtype=dtype, count=count, offset=offset
            ),
            hea.name,
        )
    digital = _digital_wfdb(hea.with_suffix(""), hdr, hea.name)
    return _record(hdr, digital, hea.name)


def wfdb_length(path: str | Path, limits: ReadLimits = _DEFAULT_LIMITS) -> tuple[int, float]:
    """(samples per lead, rate) that `read_wfdb` returns for this record, from the header and
    the signal files' sizes alone: no sample is read. Raises what `read_wfdb` would raise
    for the header and files."""
    hea, hdr = _checked_header(path, limits)
    _, max_spf = _ecg_signals(hdr, hea.name)
    return hdr.sig_len * max_spf, hdr.fs * max_spf


def wfdb_files(path: str | Path, limits: ReadLimits = _DEFAULT_LIMITS) -> list[Path]:
    """The files one WFDB record is made of: its header, then its signal files in header
    order (checked as `read_wfdb` checks them; no sample is read)."""
    hea, hdr = _checked_header(path, limits)
    return [hea, *(hea.parent / name for name in hdr.files)]


def _checked_header(path: str | Path, limits: ReadLimits) -> tuple[Path, WfdbHeader]:
    path = Path(path)
    hea = path if path.suffix.lower() == ".hea" else path.with_name(path.name + ".hea")
    if not hea.is_file():
        raise HeartEyeError(f"no WFDB header at {hea.name}", code="file_not_found")
    size = hea.stat().st_size
    _check_header_size(size, hea.name, limits)
    hdr = parse_header(hea.read_bytes(), hea.name, limits)
    sizes = {name: _file_size(hea.parent / name) for name in hdr.files}
    check_signal_files(hdr, sizes, hea.name, limits)
    return hea, hdr


def read_wfdb_files(
    files: Mapping[str, bytes], header_name: str, limits: ReadLimits = _DEFAULT_LIMITS
) -> Record:
    """Read a WFDB record held in memory: ``files`` maps plain file names to their bytes.

    Only the header and the signal files it names are used. Byte-aligned formats (16, 61,
    80, 160, 32) are decoded in memory; the others go through `wfdb`, which reads from disk,
    via a private temporary folder removed on return.
    """
    if header_name not in files:
        raise InvalidRecordError(f"no header named {header_name}", code="missing_header")
    raw = files[header_name]
    _check_header_size(len(raw), header_name, limits)
    hdr = parse_header(raw, header_name, limits)
    sizes = {name: (len(files[name]) if name in files else None) for name in hdr.files}
    check_signal_files(hdr, sizes, header_name, limits)
    _keep_start(hdr, limits)
    if _is_plain(hdr):
        return _record_plain(
            hdr,
            lambda name, dtype, count, offset: np.frombuffer(
                files[name], dtype=dtype, count=count, offset=offset
            ),
            header_name,
        )
    with tempfile.TemporaryDirectory(prefix="hearteye-wfdb-") as tmp:
        base = Path(tmp) / "record"
        base.with_suffix(".hea").write_bytes(raw)
        for name in hdr.files:
            (Path(tmp) / name).write_bytes(files[name])
        digital = _digital_wfdb(base, hdr, header_name)
    return _record(hdr, digital, header_name)


def _keep_start(hdr: WfdbHeader, limits: ReadLimits) -> None:
    """Shorten a checked header to the first ``limits.max_seconds``: only those are decoded
    (wfdb decodes packed and FLAC formats up to ``sampto`` only)."""
    if limits.max_seconds is None:
        return
    frames = max(1, math.ceil(limits.max_seconds * hdr.fs))
    if hdr.sig_len > frames:
        hdr.recording_frames, hdr.sig_len = hdr.sig_len, frames


def parse_header(raw: bytes, source: str, limits: ReadLimits = _DEFAULT_LIMITS) -> WfdbHeader:
    """Parse and check a header's text; raises `InvalidRecordError` on anything unusable."""
    if b"\x00" in raw:
        raise InvalidRecordError(
            f"{source} is not a WFDB header (it holds binary data)", code="invalid_header"
        )
    text = raw.decode("utf-8", errors="replace")
    lines, comments = wfdb_header.parse_header_content(text)
    if not lines:
        raise InvalidRecordError(f"{source} is empty: no record line", code="invalid_header")
    rec = _parse_record_line(lines[0], source)
    if rec["n_seg"] is not None:
        raise InvalidRecordError(
            f"{source} is a multi-segment WFDB record; join its segments into one record "
            "(e.g. with wfdb's rdrecord + wrsamp) and upload that",
            code="unsupported_wfdb_feature",
        )
    n_sig = rec["n_sig"] or 0
    check_lead_count(n_sig, limits, source)
    if len(lines) - 1 != n_sig:
        raise InvalidRecordError(
            f"{source} declares {n_sig} signals but describes {len(lines) - 1}",
            code="invalid_header",
        )
    fs = float(rec["fs"] if rec["fs"] is not None else 250)
    check_rate(fs, limits, source)
    signals = [_parse_signal_line(line, i, source) for i, line in enumerate(lines[1:])]
    max_spf = max(s["spf"] for s in signals)
    check_rate(fs * max_spf, limits, source)
    hdr = WfdbHeader(
        record_name=rec["record_name"],
        fs=fs,
        sig_len=rec["sig_len"],
        signals=signals,
        comments=[c.strip(" \t#") for c in comments],
    )
    _check_files_consistent(hdr, source)
    if hdr.sig_len is not None:
        check_length(n_sig, hdr.sig_len * max_spf, fs * max_spf, limits, source)
    return hdr


# ------------------------------------------------------------------------ header checks


def _check_header_size(size: int, source: str, limits: ReadLimits) -> None:
    if size > limits.max_header_bytes:
        raise InvalidRecordError(
            f"{source} is {size} bytes; a WFDB header is a few kB (limit "
            f"{limits.max_header_bytes}). Is it really a header?",
            code="header_too_large",
        )


def _parse_record_line(line: str, source: str) -> dict:
    # wfdb's own parser looks every field up in a pandas table (~0.5 ms a line); the regex
    # is wfdb's, the casts are the few fields HeartEye uses.
    m = wfdb_header.rx_record.match(line)
    try:
        if m is None or not m.group("n_sig"):
            raise ValueError("no signal count")
        # The regex stops at the first field it cannot read ("nan", "-500"): a lying rate
        # would otherwise be dropped and the record read at WFDB's default 250 Hz.
        tokens = line.split()
        if (len(tokens) > 2 and not m.group("fs")) or (len(tokens) > 3 and not m.group("sig_len")):
            raise ValueError("unreadable sampling rate or length")
        return {
            "record_name": m.group("record_name"),
            "n_seg": int(m.group("n_seg")) if m.group("n_seg") else None,
            "n_sig": int(m.group("n_sig")),
            "fs": float(m.group("fs")) if m.group("fs") not in ("", ".") else None,
            "sig_len": int(m.group("sig_len")) if m.group("sig_len") else None,
        }
    except ValueError as exc:
        raise InvalidRecordError(
            f"{source}: the record line {line[:80]!r} is not valid WFDB ({exc})",
            code="invalid_header",
        ) from None


def _parse_signal_line(line: str, index: int, source: str) -> dict:
    m = wfdb_header.rx_signal.match(line)
    if m is None or not m.group("fmt"):
        raise InvalidRecordError(
            f"{source}: the signal line {line[:80]!r} is not valid WFDB", code="invalid_header"
        )
    g = m.groupdict()
    name = g["sig_name"].strip() or f"signal {index + 1}"
    file_name = g["file_name"]
    if not _SAFE_NAME.match(file_name):
        raise InvalidRecordError(
            f"{source}: signal file name {file_name!r} for {name} is not a plain file name "
            "in the header's folder",
            code="invalid_signal_file_name",
        )
    fmt = g["fmt"]
    if fmt not in _UNCOMPRESSED | _COMPRESSED:
        raise InvalidRecordError(
            f"{source}: signal {name} uses WFDB format {fmt}, which HeartEye does not read "
            f"(supported: {', '.join(sorted(_UNCOMPRESSED | _COMPRESSED, key=int))})",
            code="unsupported_signal_format",
        )
    gain, calibrated = _parse_gain(g["adc_gain"], name, source)
    try:
        baseline = (
            int(g["baseline"]) if g["baseline"] else (int(g["adc_zero"]) if g["adc_zero"] else 0)
        )
        spf = int(g["samps_per_frame"] or 1)
        byte_offset = int(g["byte_offset"] or 0)
        skew = int(g["skew"] or 0)
    except ValueError:
        raise InvalidRecordError(
            f"{source}: the signal line for {name} has a malformed number", code="invalid_header"
        ) from None
    if not 1 <= spf <= 1024:
        raise InvalidRecordError(
            f"{source}: signal {name} declares {spf} samples per frame", code="invalid_header"
        )
    if byte_offset > 1 << 30:
        raise InvalidRecordError(
            f"{source}: signal {name} starts {byte_offset} bytes into its file",
            code="invalid_header",
        )
    return {
        "file_name": file_name,
        "fmt": fmt,
        "spf": spf,
        "skew": skew,
        "byte_offset": byte_offset,
        "gain": gain,
        "calibrated": calibrated,
        "baseline": baseline,
        "units": g["units"] or "mV",
        "name": name,
    }


def _parse_gain(raw: str, name: str, source: str) -> tuple[float, bool]:
    """(ADC gain in units per physical unit, whether the header calibrated it).

    As the WFDB specification (header(5)) and wfdb-python read it: a missing gain or a gain of
    0 means "uncalibrated", and the default of 200 applies. The record is read, and the lead is
    listed in ``RecordMeta.uncalibrated_leads`` so the quality step flags it and amplitudes are
    not trusted; intervals and rhythm do not depend on the gain. A gain that is not a finite
    number makes the header unreadable and is refused.
    """
    if raw == "":
        return DEFAULT_ADC_GAIN, False
    try:
        gain = float(raw)
    except ValueError:
        gain = math.nan
    if not math.isfinite(gain):
        raise InvalidRecordError(
            f"{source}: signal {name} has ADC gain {raw!r}; a gain that is not a finite number "
            "makes the amplitudes undefined. Write the real gain (ADC units per mV) in the header",
            code="invalid_gain",
        )
    if gain == 0:
        return DEFAULT_ADC_GAIN, False
    return gain, True


def _check_files_consistent(hdr: WfdbHeader, source: str) -> None:
    for name, sigs in hdr.files.items():
        if len({(s["fmt"], s["byte_offset"]) for s in sigs}) > 1:
            raise InvalidRecordError(
                f"{source}: signals stored in {name} disagree on format or byte offset",
                code="invalid_header",
            )


def _file_size(path: Path) -> int | None:
    # A symlink or a folder under a signal file's name is treated as missing: the reader
    # only follows plain files in the header's own folder.
    if path.is_symlink() or not path.is_file():
        return None
    return path.stat().st_size


def check_signal_files(
    hdr: WfdbHeader,
    sizes: Mapping[str, int | None],
    source: str,
    limits: ReadLimits = _DEFAULT_LIMITS,
) -> None:
    """Every file the header names is present (size not None) and holds the byte count the
    header implies. Fills in ``hdr.sig_len`` when the header omits it, as WFDB does."""
    missing = [n for n, s in sizes.items() if s is None]
    if missing:
        raise InvalidRecordError(
            f"{source} names the signal file {', '.join(missing)}, which is missing; "
            "upload it together with the header",
            code="missing_signal_file",
            details={"missing": missing},
        )
    if hdr.sig_len is None:
        hdr.sig_len = _infer_sig_len(hdr, sizes, source)
        n_sig = len(hdr.signals)
        spf = max(s["spf"] for s in hdr.signals)
        check_length(n_sig, hdr.sig_len * spf, hdr.fs * spf, limits, source)
    for name, size in sizes.items():
        _check_one_file(hdr, name, size, source)


def _infer_sig_len(hdr: WfdbHeader, sizes: Mapping[str, int | None], source: str) -> int:
    # WFDB lets a header omit the length; it is then the first file's frame count.
    name = hdr.signals[0]["file_name"]
    sigs = hdr.files[name]
    if sigs[0]["fmt"] in _COMPRESSED:
        raise InvalidRecordError(
            f"{source}: a FLAC-coded record must state its sample count", code="invalid_header"
        )
    payload = sizes[name] - sigs[0]["byte_offset"]
    bits = wfdb_signal.BIT_RES[sigs[0]["fmt"]] * sum(s["spf"] for s in sigs)
    if sigs[0]["fmt"] in ("310", "311"):
        return max(payload // 4 * 3 // sum(s["spf"] for s in sigs), 0)
    return max(payload * 8 // bits, 0)


def _check_one_file(hdr: WfdbHeader, name: str, size: int, source: str) -> None:
    offset = hdr.files[name][0]["byte_offset"]
    if size <= offset:
        raise InvalidRecordError(
            f"signal file {name} is empty ({size} bytes) but {source} promises "
            f"{hdr.sig_len} samples per signal; upload the complete file",
            code="empty_signal_file",
        )
    expected = hdr.expected_bytes(name)
    if expected is None:
        return
    if size < expected:
        raise InvalidRecordError(
            f"signal file {name} is truncated: {source} promises {hdr.sig_len} samples per "
            f"signal ({expected} bytes) but the file holds {size} bytes",
            code="truncated_signal",
            details={"expected_bytes": expected, "actual_bytes": size},
        )
    # Up to one frame of slack: some writers pad the last byte or word of packed formats.
    if size - expected > hdr.frame_bytes(name) + 4:
        raise InvalidRecordError(
            f"signal file {name} holds {size} bytes but {source} describes only {expected} "
            f"({hdr.sig_len} samples per signal); the header's sample count or format is wrong",
            code="signal_size_mismatch",
            details={"expected_bytes": expected, "actual_bytes": size},
        )


# -------------------------------------------------------------------------------- decode


# Byte-aligned formats without skew or multi-rate frames: numpy decodes them directly,
# ~20x faster than wfdb.rdrecord and with no temporary files. (dtype, offset-binary shift)
_PLAIN = {
    "16": ("<i2", 0),
    "61": (">i2", 0),
    "80": ("u1", 128),
    "160": ("<u2", 32768),
    "32": ("<i4", 0),
}


BLOCK_FRAMES = 1 << 20  # frames decoded and converted at a time


def _is_plain(hdr: WfdbHeader) -> bool:
    return all(s["fmt"] in _PLAIN and s["spf"] == 1 and s["skew"] == 0 for s in hdr.signals)


def _record_plain(hdr: WfdbHeader, load, source: str) -> Record:
    """The record of a plain-format header; ``load(name, dtype, count, offset)`` gives an
    array of that many samples. Read and converted ``BLOCK_FRAMES`` frames at a time, so
    memory holds the record in float32 and one block (a 24 h Holter's file is ~90 MB)."""
    keep, _ = _ecg_signals(hdr, source)
    out = np.empty((len(keep), hdr.sig_len), dtype=np.float32)
    for name, sigs in hdr.files.items():
        dtype, shift = _PLAIN[sigs[0]["fmt"]]
        width = len(sigs) * np.dtype(dtype).itemsize
        for f0 in range(0, hdr.sig_len, BLOCK_FRAMES):
            f1 = min(f0 + BLOCK_FRAMES, hdr.sig_len)
            frames = load(name, dtype, (f1 - f0) * len(sigs), sigs[0]["byte_offset"] + f0 * width)
            frames = frames.reshape(f1 - f0, len(sigs))
            for k, sig in enumerate(sigs):
                i = hdr.signals.index(sig)
                if i in keep:
                    col = frames[:, k].astype(np.int32) - shift if shift else frames[:, k]
                    out[keep.index(i), f0:f1] = _to_mv(col, sig, 1, f1 - f0)
    return _signal_record(hdr, out, source, keep)


def _digital_wfdb(base: Path, hdr: WfdbHeader, source: str) -> list[np.ndarray]:
    """Per signal, its digital samples as wfdb decodes them (packed, FLAC, multi-rate)."""
    expanded = any(s["spf"] != 1 for s in hdr.signals)
    bits = max(wfdb_signal.BIT_RES[s["fmt"]] for s in hdr.signals)
    res = 16 if bits <= 16 and all(s["fmt"] != "8" for s in hdr.signals) else 32
    try:
        rec = wfdb.rdrecord(
            str(base),
            sampto=hdr.sig_len,
            physical=False,
            return_res=res,
            smooth_frames=not expanded,
        )
    except MemoryError:
        raise
    except Exception as exc:  # wfdb's decoders raise a zoo of untyped errors on bad data
        raise InvalidRecordError(
            f"{source}: the signal data could not be decoded ({type(exc).__name__}: {exc})",
            code="unreadable_signal",
        ) from None
    if expanded:
        return list(rec.e_d_signal)
    return [rec.d_signal[:, i] for i in range(rec.d_signal.shape[1])]


def _ecg_signals(hdr: WfdbHeader, source: str) -> tuple[list[int], int]:
    """Indices of the signals in a voltage unit, and their largest samples-per-frame."""
    signals = hdr.signals
    keep = [i for i, s in enumerate(signals) if mv_scale(s["units"]) is not None]
    if not keep:
        raise InvalidRecordError(
            f"{source}: no signal is in a voltage unit (found "
            f"{', '.join(sorted({s['units'] for s in signals}))}); ECG leads must be in uV, mV "
            "or V",
            code="no_ecg_channels",
        )
    return keep, max(signals[i]["spf"] for i in keep)


def _record(hdr: WfdbHeader, digital: list[np.ndarray], source: str) -> Record:
    signals = hdr.signals
    keep, max_spf = _ecg_signals(hdr, source)
    n_out = hdr.sig_len * max_spf
    out = np.empty((len(keep), n_out), dtype=np.float32)
    for row, i in enumerate(keep):
        if signals[i]["spf"] != max_spf:  # resampled whole
            out[row] = _to_mv(digital[i], signals[i], max_spf, n_out)
            continue
        for a in range(0, n_out, BLOCK_FRAMES):  # float64 one block at a time, not one lead
            b = min(a + BLOCK_FRAMES, n_out)
            out[row, a:b] = _to_mv(digital[i][a:b], signals[i], max_spf, b - a)
    return _signal_record(hdr, out, source, keep)


def _signal_record(hdr: WfdbHeader, out: np.ndarray, source: str, keep: list[int]) -> Record:
    max_spf = max(hdr.signals[i]["spf"] for i in keep)
    return Record(
        signal=out,
        fs=hdr.fs * max_spf,
        leads=tuple(normalise_lead_name(hdr.signals[i]["name"]) for i in keep),
        meta=_meta(hdr, source, keep),
    )


def _to_mv(digital: np.ndarray, sig: dict, max_spf: int, n_out: int) -> np.ndarray:
    """One lead to float mV, bit-for-bit the float64 value wfdb's p_signal holds, then float32."""
    x = digital.astype(np.float64)
    invalid = wfdb_signal.INVALID_SAMPLE_VALUE[sig["fmt"]]
    nan_at = digital == invalid if invalid is not None else None
    x -= sig["baseline"]
    x /= sig["gain"]
    scale = mv_scale(sig["units"])
    if scale != 1.0:
        x *= scale
    if nan_at is not None:
        x[nan_at] = np.nan
    if sig["spf"] != max_spf:
        # A lead sampled more slowly than the record's fastest lead (WFDB samples-per-frame).
        ratio = Fraction(max_spf, sig["spf"])
        x = resample_to(np.nan_to_num(x), ratio.numerator, ratio.denominator)
    return x[:n_out]


_LUDB_FIELD = re.compile(r"^<(\w+)>:\s*(.*)$")
_CINC_FIELD = re.compile(r"^(Age|Sex|Dx)\s*:\s*(.*)$", re.IGNORECASE)


def _meta(hdr: WfdbHeader, source: str, keep: list[int]) -> RecordMeta:
    age, sex, dx, extra = _parse_comments(hdr.comments)
    dropped = [hdr.signals[i]["name"] for i in range(len(hdr.signals)) if i not in keep]
    if dropped:
        extra["dropped_channels"] = dropped
    return RecordMeta(
        age=age,
        sex=sex,
        diagnoses=dx,
        source=source,
        record_name=hdr.record_name,
        original_units=tuple(hdr.signals[i]["units"] for i in keep),
        uncalibrated_leads=tuple(
            normalise_lead_name(hdr.signals[i]["name"])
            for i in keep
            if not hdr.signals[i]["calibrated"]
        ),
        original_fs=hdr.fs,
        recording_duration_s=None
        if hdr.recording_frames is None
        else hdr.recording_frames / hdr.fs,
        format=FORMAT,
        extra=extra,
    )


def _parse_comments(comments: list[str]) -> tuple[float | None, str | None, tuple, dict]:
    """Age, sex and diagnoses from LUDB (``<age>: 51``) or Challenge (``Age: 74``) comments.

    LUDB lists diagnoses as the comment lines after ``<diagnoses>:``; the Challenges give
    SNOMED CT codes, comma separated, on the ``Dx:`` line.
    """
    age = sex = None
    dx: list[str] = []
    extra: dict = {}
    in_ludb_dx = False
    for line in comments:
        line = line.strip()
        if in_ludb_dx:
            if line:
                dx.append(line)
            continue
        m = _LUDB_FIELD.match(line) or _CINC_FIELD.match(line)
        if not m:
            continue
        key, value = m.group(1).lower(), m.group(2).strip()
        if key == "age":
            age = parse_age(value)
        elif key == "sex":
            sex = parse_sex(value)
        elif key == "diagnoses":
            in_ludb_dx = True
            if value:
                dx.append(value)
        elif key == "dx":
            dx.extend(code.strip() for code in value.split(",") if code.strip())
            extra["dx_coding"] = "SNOMED CT"
    return age, sex, tuple(dx), extra
