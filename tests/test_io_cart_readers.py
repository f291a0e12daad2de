"""HeartEye reads GE MUSE, Philips, HL7 aECG and DICOM exports itself (for speed); these tests
prove it reads them as the library path did: the same signal (bit for bit), leads, rate and
meta (device findings and patient fields included) on every staged file, against ecgdatakit
(MUSE, Philips, aECG) and pydicom's samples with ecgdatakit's findings (DICOM). The XLI codec
is checked against ecgdatakit's on every staged chunk and on synthetic streams that fill the
dictionary; the DICOM walker on every transfer syntax pydicom writes; the XML parser's second
guard on an entity declaration the prolog check cannot see.
"""

from __future__ import annotations

import importlib
import io
import random
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from hearteye.errors import InvalidRecordError
from hearteye.io import _cart, _xli, aecg, dicom, read_record
from hearteye.io._common import ReadLimits, mv_scale
from hearteye.io.muse import read_muse_bytes
from hearteye.record import normalise_lead_name
from hostile_carts import dicom_ecg, lzw_zero_run, muse_xml

# format -> (label, ecgdatakit module, parser class)
_LIBRARY = {
    "ge_muse_xml": ("GE MUSE XML", "ge_muse_xml", "GEMuseXMLParser"),
    "philips_xml": ("Philips XML", "sierra_xml", "SierraXMLParser"),
    "hl7_aecg": ("HL7 aECG", "hl7_aecg", "HL7aECGParser"),
}
STAGED = {
    "ge_muse_xml/musePHI_muse_ecg1_paced.xml": "ge_muse_xml",
    "ge_muse_xml/musePHI_muse_ecg2.xml": "ge_muse_xml",
    "philips_sierra_xml/129DYPRG.XML": "philips_xml",
    "philips_sierra_xml/3191723_ZZDEMOPTONLY_1-04_orig.xml": "philips_xml",
    "philips_sierra_xml/ad4d3d80-d165_1-04_orig.xml": "philips_xml",
    "hl7_aecg/HL7_aECG_official_Example.xml": "hl7_aecg",
    "dicom_ecg/mortara_eli250_anonymous_ecg.dcm": "dicom_ecg",
    "dicom_ecg/ecgtoolkit_Example_converted.dcm": "dicom_ecg",
}
LIMITS = ReadLimits()


def _library_xml(path: Path, fmt: str):
    label, module, cls = _LIBRARY[fmt]
    parser = getattr(importlib.import_module(f"ecgdatakit.parsing.parsers.{module}"), cls)
    cart = _cart.CartFormat(fmt, label, ".xml", parser)
    parsed = _cart.decode(path.read_bytes(), path.name, cart, LIMITS)
    return _cart.to_record(parsed, path.name, cart, LIMITS)


def _library_dicom(path: Path):
    """The DICOM path before HeartEye read DICOM itself: pydicom's dataset and
    ``waveform_array``, ecgdatakit's findings from that dataset."""
    import pydicom
    from ecgdatakit.parsing.parsers.dicom_waveform import DICOMWaveformParser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(path.read_bytes()))
        parsed = DICOMWaveformParser()._parse_dataset(ds, Path(path.name))
    groups = list(ds.WaveformSequence)
    labels = [str(g.get("MultiplexGroupLabel", "")).upper() for g in groups]
    index = next((i for i, label in enumerate(labels) if "MEDIAN" not in label), 0)
    group = groups[index]
    values = ds.waveform_array(index).T
    raw = np.frombuffer(group.WaveformData, "<i2").reshape(-1, group.NumberOfWaveformChannels)
    pad = group.get("WaveformPaddingValue")
    pad = int.from_bytes(bytes(pad[:2]), "little", signed=True) if pad else None
    fs = float(group.SamplingFrequency)
    names, rows, units = [], [], []
    for ch, definition in enumerate(group.ChannelDefinitionSequence):
        unit = str(definition.ChannelSensitivityUnitsSequence[0].CodeValue)
        row = values[ch].astype(np.float64) * mv_scale(unit)
        if pad is not None:
            row[dicom._trailing(raw[:, ch] == pad, int(fs * 0.1))] = np.nan
        meaning = str(definition.ChannelSourceSequence[0].CodeMeaning)
        names.append(normalise_lead_name(dicom._PAREN.sub("", meaning).split(",")[0]))
        rows.append(row.astype(np.float32))
        units.append(unit)
    cart = _cart.CartFormat("dicom_ecg", "DICOM ECG", ".dcm", None, ("pydicom", "ecgdatakit"))
    findings = _cart.findings_of(parsed)
    return _cart.assemble(names, rows, units, fs, findings, path.name, cart, LIMITS)


def _meta(record) -> dict:
    meta = asdict(record.meta)
    meta["patient_name"] = record.meta.patient_name  # not in repr, compared all the same
    meta["extra"] = {k: v for k, v in meta["extra"].items() if k != "decoder"}
    return meta


@pytest.mark.parametrize("name", sorted(STAGED))
def test_staged_file_reads_as_the_library_path_read_it(formats_dir, name):
    path = formats_dir / name
    fmt = STAGED[name]
    ours = read_record(path)
    library = _library_dicom(path) if fmt == "dicom_ecg" else _library_xml(path, fmt)
    assert ours.leads == library.leads and ours.fs == library.fs
    np.testing.assert_array_equal(ours.signal, library.signal)  # NaN where NaN, bit for bit
    assert _meta(ours) == _meta(library)
    assert ours.meta.device["measurements"]["global"]  # the findings were there to compare
    assert ours.meta.extra["decoder"].startswith("hearteye ")


# ------------------------------------------------------------------------------------ XLI


def _lzw_encode(data: bytes) -> bytes:
    """XLI's LZW (10-bit codes, MSB first, entries 256-1022, no reset), as a cart writes it."""
    table = {bytes([i]): i for i in range(256)}
    codes, current = [], b""
    for byte in data:
        candidate = current + bytes([byte])
        if candidate in table:
            current = candidate
            continue
        codes.append(table[current])
        if len(table) < 1023:
            table[candidate] = len(table)
        current = bytes([byte])
    if current:
        codes.append(table[current])
    bits = "".join(f"{c:010b}" for c in codes) + "1" * 10  # then the end code (1023)
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def _xli_payload(streams: list[bytes], starts: list[int]) -> bytes:
    return b"".join(
        len(s).to_bytes(4, "little") + b"\0\0" + start.to_bytes(2, "little", signed=True) + s
        for s, start in zip(streams, starts, strict=True)
    )


def _ours(raw: bytes, lead_bytes: int) -> list[np.ndarray]:
    chunks = _xli.split_chunks(raw, "x", LIMITS)
    streams = _xli.bounded_streams(chunks, lead_bytes, "x", LIMITS)
    return _xli.decode(streams, [s for _, s in chunks], len(chunks), "x")


def test_xli_decodes_as_ecgdatakit_on_streams_that_fill_the_dictionary():
    from ecgdatakit.parsing.codecs.xli import xli_decode

    rng = random.Random(7)
    payloads = [
        bytes(rng.choice(b"\x00\x01\xff\xfe") for _ in range(12_000)),  # long repeats
        bytes(rng.randrange(256) for _ in range(3_000)),  # little to share
        bytes(4_000) + bytes(rng.randrange(8) for _ in range(4_000)),  # a flat lead, then noise
        b"\x05\x05\x05\x05\x05",  # KwKwK from the second code on
    ]
    raw = _xli_payload([_lzw_encode(p) for p in payloads], [0, -7, 300, 2])
    ours = _ours(raw, 12_000)
    theirs = xli_decode(raw)
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_xli_decodes_every_staged_chunk_as_ecgdatakit(formats_dir):
    import base64
    import re

    from ecgdatakit.parsing.codecs.xli import xli_decode

    checked = 0
    for path in sorted((formats_dir / "philips_sierra_xml").glob("*.[xX][mM][lL]")):
        data = path.read_bytes()
        text = data.decode("utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8")
        found = re.search(r"<parsedwaveforms[^>]*>([^<]*)<", text)
        raw = base64.b64decode("".join(found.group(1).split()))
        for a, b in zip(_ours(raw, 11_000), xli_decode(raw), strict=True):
            np.testing.assert_array_equal(a, b)
            checked += 1
    assert checked == 3 * 16  # 16 chunks a file: the leads and 4 more, all decoded alike


@pytest.mark.parametrize(
    ("stream", "code"),
    [
        (lzw_zero_run(4000), "xli_decompression_bomb"),
        (int("0" * 10 + format(300, "010b") + "0000", 2).to_bytes(3, "big"), "xli_corrupt"),
        (bytes([0, 64]), "xli_corrupt"),  # one code: 1 byte out, fewer than two words
    ],
    ids=["bomb", "entry-not-made-yet", "too-short"],
)
def test_xli_refuses_what_no_cart_writes(stream, code):
    with pytest.raises(InvalidRecordError) as info:
        _ours(_xli_payload([stream], [0]), 10_000)
    assert info.value.code == code


def test_xli_refuses_samples_past_32_bits():
    words = np.full(40_000, 0x7FFF, dtype=">i2")  # steep second differences, all alike
    data = words.view(np.uint8).reshape(-1, 2).T.ravel().tobytes()  # high bytes, then low
    with pytest.raises(InvalidRecordError) as info:
        _ours(_xli_payload([_lzw_encode(data)], [0]), 80_000)
    assert info.value.code == "xli_corrupt"


def _reference_samples(words: np.ndarray, start: int) -> np.ndarray:
    """``x[i] = 2 x[i-1] - x[i-2] - g[i]`` one word at a time, in Python integers."""
    w = [int(v) for v in words]
    x = [w[0], w[1]]
    for i in range(2, len(w)):
        g = start if i == 2 else w[i - 1] - 64
        x.append(2 * x[-1] - x[-2] - g)
    return np.array(x, dtype=np.int64)


@pytest.mark.parametrize("steep", [False, True], ids=["32-bit-sums", "64-bit-sums"])
def test_xli_second_differences_are_exact(steep):
    # Small words take the 32-bit path; a slope of 480,000 (back to 0 after) takes the 64-bit
    # one although every sample fits 32 bits. Both must give the word-by-word samples.
    rng = np.random.default_rng(3)
    rows = []
    for k in range(3):
        words = rng.integers(40, 90, 5_000).astype(np.int16)
        if steep:
            h = np.zeros(5_000, dtype=np.int64)
            h[10 + k : 26 + k], h[26 + k : 42 + k] = 30_000, -30_000
            words[2:-1] = (64 - h[3:]).astype(np.int16)  # second difference i: 64 - w[i-1]
        rows.append(words)
    starts = np.array([5, -7, 0])
    data = np.stack(
        [np.concatenate([w.view(np.uint16) >> 8, w.view(np.uint16) & 255]) for w in rows]
    ).astype(np.uint8)
    got = _xli._second_differences(data, starts, "x")
    for k, w in enumerate(rows):
        np.testing.assert_array_equal(got[k], _reference_samples(w, int(starts[k])))


# ---------------------------------------------------------------------------------- DICOM


@pytest.mark.parametrize(
    "syntax",
    ["ImplicitVRLittleEndian", "ExplicitVRLittleEndian", "ExplicitVRBigEndian"]
    + ["DeflatedExplicitVRLittleEndian"],
)
def test_dicom_reads_every_transfer_syntax_as_pydicom(syntax):
    import pydicom
    import pydicom.uid

    ds = pydicom.dcmread(io.BytesIO(dicom_ecg()))
    ds.file_meta.TransferSyntaxUID = getattr(pydicom.uid, syntax)
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    again = pydicom.dcmread(io.BytesIO(buf.getvalue()))
    record = dicom.read_dicom_bytes(buf.getvalue())
    want = (again.waveform_array(0).T * 1e-3).astype(np.float32)
    np.testing.assert_array_equal(record.signal, want)
    assert record.meta.sex == "F" and record.n_leads == 12


def test_dicom_refuses_a_deflated_dataset_that_inflates_past_the_document_limit():
    import zlib

    import pydicom

    ds = pydicom.dcmread(io.BytesIO(dicom_ecg()))
    ds.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    data = buf.getvalue()
    group_length = int.from_bytes(data[140:144], "little")  # (0002,0000), the file meta's
    head = data[: 144 + group_length]
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = bomb.compress(bytes(17 << 20)) + bomb.flush()  # 17 MiB of zeros in 17 kB
    with pytest.raises(InvalidRecordError) as info:
        dicom.read_dicom_bytes(head + body)
    assert info.value.code == "document_too_large"


def test_dicom_refuses_sequences_nested_past_any_ecg():
    import struct

    item = b""
    for _ in range(40):  # a sequence in an item in a sequence ... 40 deep, undefined lengths
        seq = struct.pack("<HH2sHI", 0x0040, 0xA043, b"SQ", 0, 0xFFFFFFFF)
        item = seq + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + item
    meta = struct.pack("<HH2sH", 2, 0x10, b"UI", 20) + b"1.2.840.10008.1.2.1\0"
    with pytest.raises(InvalidRecordError) as info:
        dicom.read_dicom_bytes(bytes(128) + b"DICM" + meta + item)
    assert info.value.code == "corrupt_dicom_ecg"


# -------------------------------------------------------------------------- XML and aECG


def test_an_entity_declaration_the_prolog_check_misses_is_refused_by_the_parser():
    # "]" in a comment ends check_xml's reading of the internal subset before the entity.
    doctype = '<!DOCTYPE RestingECG [<!-- ] --> <!ENTITY x "boom">]>'
    document = muse_xml(doctype=doctype, body_extra="<Note>&x;</Note>")
    with pytest.raises(InvalidRecordError) as info:
        read_muse_bytes(document)
    assert info.value.code == "xml_entity_declaration"


@pytest.mark.parametrize(
    "text",
    [
        "1 -2 +3\n  007 -0 12",
        "1 2.5 -3",  # a decimal
        "1e3 4",  # an exponent
        "12345678901234567 1",  # past 2**53: not exact as an integer read
        "999999999 -999999999\t+0\r\n1",  # 9 digits: the array read
        "1234567890 -1",  # 10 digits: numpy's text reader
    ],
)
def test_aecg_digits_read_as_float_of_each_token(text):
    got = aecg._digits([text, "5 6"], ["A", "B"], "x")
    np.testing.assert_array_equal(got[0], np.array(text.split(), dtype=np.float64))
    np.testing.assert_array_equal(got[1], [5.0, 6.0])


def test_aecg_integers_read_by_array_operations_only_up_to_9_digits():
    got = aecg._integers(" 12 -3\n\t+45   999999999 -0 ")
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, [12, -3, 45, 999999999, 0])
    assert aecg._integers("1 1234567890") is None  # past int32: the caller's other route
    assert aecg._integers("1 2.5") is None
    assert aecg._integers("1 -- 2") is None


@pytest.mark.parametrize("text", ["1 - 2", "2-3", "1 x 3", "- 1", "+-1", "1 2-", "3 -"])
def test_aecg_digits_that_are_not_numbers_are_refused(text):
    with pytest.raises(InvalidRecordError) as info:
        aecg._digits([text], ["MDC_ECG_LEAD_I"], "x")
    assert info.value.code == "corrupt_hl7_aecg"
