"""Mutations of real fixture uploads for the parser fuzzers (test_parser_fuzz.py and
benchmarks/fuzz_parsers.py): byte flips, overwrites, truncations and insertions applied to a
WFDB header, its signal file, an EDF file, a zip of them, a GE MUSE XML or a DICOM ECG (the
last two synthetic). Every outcome must be a `Record` or a `HeartEyeError`; anything else is a
crash."""

from __future__ import annotations

import io
import zipfile

from hypothesis import strategies as st

from hostile_carts import dicom_ecg, muse_xml
from hostile_corpus import edf_bytes, ludb_dat, ludb_header

HEA = ludb_header().encode()
DAT = ludb_dat()
EDF = edf_bytes()


def _zip(files) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:
            zf.writestr(name, data)
    return buf.getvalue()


ZIP_WFDB = _zip([("1.hea", HEA), ("1.dat", DAT)])
ZIP_EDF = _zip([("x.edf", EDF)])
MUSE = muse_xml(n=1000)  # synthetic cart exports (hostile_carts): no staged file needed
DICOM = dicom_ecg(samples=1000)

# (target name, seed bytes, how the mutated bytes become an upload)
TARGETS = {
    "wfdb_header": (HEA, lambda b: [("1.hea", b), ("1.dat", DAT)]),
    "wfdb_signal": (DAT, lambda b: [("1.hea", HEA), ("1.dat", b)]),
    "edf": (EDF, lambda b: [("x.edf", b)]),
    "edf_header": (EDF[:4864], lambda b: [("x.edf", b + EDF[4864:])]),
    "zip_wfdb": (ZIP_WFDB, lambda b: [("r.zip", b)]),
    "zip_edf": (ZIP_EDF, lambda b: [("r.zip", b)]),
    "muse_xml": (MUSE, lambda b: [("ecg.xml", b)]),
    "dicom": (DICOM, lambda b: [("ecg.dcm", b)]),
}

_INTERESTING = [
    b"0",
    b"-1",
    b"nan",
    b"1e999",
    b" ",
    b"\n",
    b"\x00",
    b"\xff",
    b"99999999",
    b"/",
    b"(",
    b")",
    b"..",
    b"PK\x03\x04",
    b"16",
    b"212",
    b"0.0001",
]


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    data = bytearray(seed)
    # Headers live at the start: bias positions there, but reach the whole file too.
    head = min(len(seed), 8192)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "set", "token", "truncate", "insert", "delete"]))
        n = len(data)
        if n == 0:
            data += draw(st.binary(max_size=16))
            continue
        pos = draw(st.one_of(st.integers(0, min(n, head) - 1), st.integers(0, n - 1)))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[pos] = draw(st.integers(0, 255))
        elif kind == "token":
            tok = draw(st.sampled_from(_INTERESTING))
            data[pos : pos + len(tok)] = tok
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        else:
            del data[pos : pos + draw(st.integers(1, 64))]
    return bytes(data)
