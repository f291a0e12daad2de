"""Philips XML (SierraECG 1.03, PhilipsECG 1.04: PageWriter, HeartStart, TraceMasterVue,
IntelliSpace ECG), recognised by its root element ``restingecgdata`` (UTF-8 or UTF-16).

The waveforms are base64 text, usually XLI-compressed: per lead an LZW stream (10-bit codes)
of second differences; XLI also stores III, aVR, aVL and aVF as residuals that the decoder
rebuilds from I and II. Decoded by `ecgdatakit` (its XLI codec agrees with `sierraecg`, the
reference implementation, on every staged file; the tests show it).

Neither decoder bounds what LZW may expand to: a few MB of codes can stand for gigabytes
(10-bit codes of a 1022-entry dictionary expand up to ~600-fold). A fixed ratio cannot tell
a bomb from a lead: the staged files' chunks expand 3.7- to 40-fold (a flat lead the most,
and a flat lead of a longer recording further still). So before decoding, this module walks
the XLI chunks itself, counting what each LZW code expands to without expanding it, and
stops each chunk at twice the bytes its declared duration and rate need (plus 4 kB), and all
of them at `ReadLimits.max_decoded_bytes`; it also counts the chunks against the declared
lead count. The measurements, statements (with their edited flags) and the confirmation
status go to ``meta.device``; see `hearteye.io._cart`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hearteye.errors import InvalidRecordError
from hearteye.io._cart import CartFormat, decode, read_from_member, read_from_path, to_record
from hearteye.io._common import Member, ReadLimits
from hearteye.io._xml import check_xml, root_element
from hearteye.record import Record

FORMAT = "philips_xml"
_DEFAULT_LIMITS = ReadLimits()
_WAVES = re.compile(r"<parsedwaveforms\b([^>]*)>([^<]*)<", re.IGNORECASE)
_ATTR = re.compile(r'(\w+)\s*=\s*"([^"]*)"')
_RATE = re.compile(r"<samplingrate>\s*(\d+)", re.IGNORECASE)
_CHUNK_HEADER = 8
_LAST_CODE = 1022  # (1 << 10) - 2: the dictionary's last entry; a larger code ends the stream


def _parser():
    from ecgdatakit.parsing.parsers.sierra_xml import SierraXMLParser

    return SierraXMLParser()


CART = CartFormat(FORMAT, "Philips XML", ".xml", _parser)


def looks_like_philips(head: bytes) -> bool:
    return root_element(head) == "restingecgdata"


def read_philips_bytes(
    data: bytes, source: str = "upload.xml", limits: ReadLimits = _DEFAULT_LIMITS
) -> Record:
    check_xml(data, source, CART.label)
    check_xli(data, source, limits)
    return to_record(decode(data, source, CART, limits), source, CART, limits)


def read_philips(path: str | Path, limits: ReadLimits = _DEFAULT_LIMITS) -> Record:
    return read_from_path(path, limits, CART, read_philips_bytes)


def read_philips_member(main: Member, siblings: Mapping[str, Member], limits: ReadLimits) -> Record:
    return read_from_member(main, limits, CART, read_philips_bytes)


# ---------------------------------------------------------------------------- XLI bounds


def check_xli(data: bytes, source: str, limits: ReadLimits) -> None:
    """Walk the XLI chunks with bounded LZW before the decoder expands them unbounded."""
    found = _WAVES.search(_text(data))
    if found is None:
        return  # no waveform: the decoder says so with its own error
    attrs = {k.lower(): v for k, v in _ATTR.findall(found.group(1))}
    method = attrs.get("compression") or attrs.get("compressmethod") or ""
    if method.upper() != "XLI":
        return
    raw = _base64(found.group(2), source)
    chunks = _chunks(raw, source, limits)
    declared = attrs.get("numberofleads")
    if declared and declared.isdigit() and len(chunks) < int(declared):
        raise InvalidRecordError(
            f"{source}: the waveform declares {declared} leads but its XLI data holds "
            f"{len(chunks)}; the lead count disagrees with the data",
            code="lead_count_mismatch",
        )
    per_lead = _declared_lead_bytes(attrs, found.string)
    budget = limits.max_decoded_bytes
    for i, chunk in enumerate(chunks):
        cap = min(budget, 2 * per_lead + 4096)
        budget -= _bounded_lzw_size(chunk, cap, source, i)


def _declared_lead_bytes(attrs: dict, text: str) -> int:
    """Bytes one lead's 16-bit samples take, from the declared duration and rate (the rate
    from the signal characteristics in SierraECG 1.03; 1 kHz, the highest a Philips cart
    records, when neither states it)."""
    duration_ms = _number(attrs.get("durationperchannel")) or 0.0
    rate = _number(attrs.get("samplespersecond"))
    if rate is None:
        m = _RATE.search(text)
        rate = _number(m.group(1)) if m else None
    return int(duration_ms / 1000 * (rate or 1000.0) * 2)


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and 0 < value < 1e7 else None


def _text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8", errors="replace")


def _base64(text: str, source: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRecordError(
            f"{source}: the waveform's base64 text is broken (truncated or with foreign "
            "characters); export the file again",
            code="invalid_base64",
        ) from None


def _chunks(raw: bytes, source: str, limits: ReadLimits) -> list[bytes]:
    chunks, pos = [], 0
    while pos < len(raw):
        size = int.from_bytes(raw[pos : pos + 4], "little", signed=True)
        if pos + _CHUNK_HEADER > len(raw) or size <= 0 or size > len(raw) - pos - _CHUNK_HEADER:
            raise InvalidRecordError(
                f"{source}: XLI chunk {len(chunks) + 1} declares {size} bytes but "
                f"{max(0, len(raw) - pos - _CHUNK_HEADER)} follow; the waveform is truncated",
                code="xli_truncated",
            )
        chunks.append(raw[pos + _CHUNK_HEADER : pos + _CHUNK_HEADER + size])
        pos += _CHUNK_HEADER + size
        if len(chunks) > 2 * limits.max_leads:
            raise InvalidRecordError(
                f"{source}: the XLI data holds more than {2 * limits.max_leads} chunks",
                code="too_many_leads",
            )
    return chunks


def _bounded_lzw_size(chunk: bytes, cap: int, source: str, index: int) -> int:
    """Bytes the chunk's LZW stream expands to, counted without expanding it; refused as
    soon as it passes ``cap``.

    XLI's LZW (10-bit codes, MSB first, codes 256-1022 added one per code after the first,
    1023 ends the stream) lets lengths be counted alone: the entry made at position j + 1
    is the output at j plus one byte, so a code c >= 256 at position i outputs
    ``length[c - 256] + 1`` bytes, and must name an entry already made (c - 256 < i).
    """
    bits = np.unpackbits(np.frombuffer(chunk, dtype=np.uint8))
    n = bits.size // 10
    codes = bits[: n * 10].reshape(n, 10) @ (1 << np.arange(9, -1, -1))
    lengths: list[int] = []
    total = 0
    for i, code in enumerate(codes.tolist()):
        if code > _LAST_CODE:
            break
        if code < 256:
            size = 1
        elif code - 256 < i:
            size = lengths[code - 256] + 1
        else:
            raise InvalidRecordError(
                f"{source}: XLI chunk {index + 1} is not a valid LZW stream", code="xli_corrupt"
            )
        lengths.append(size)
        total += size
        if total > cap:
            raise InvalidRecordError(
                f"{source}: XLI chunk {index + 1} expands past {cap} bytes from "
                f"{len(chunk)}, more than its declared duration and rate need; this looks "
                "like a decompression bomb",
                code="xli_decompression_bomb",
                details={"compressed_bytes": len(chunk), "limit_bytes": cap},
            )
    return total
