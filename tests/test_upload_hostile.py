"""The hostile-upload corpus: every case refused with its own typed error, code and message."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest

from hearteye.errors import HeartEyeError
from hearteye.io.upload import parse_upload
from hearteye.record import Record
from hostile_corpus import FIXTURES, build_cases, make_zip

CASES = build_cases()
GENERIC_CODES = {"invalid_input", "invalid_record", "upload_rejected", "unsupported_format"}


def test_corpus_is_large_and_named_uniquely():
    names = [c.name for c in CASES]
    assert len(CASES) >= 25
    assert len(set(names)) == len(names)
    # Each rule answers with its own code, not a catch-all.
    assert not {c.code for c in CASES} & GENERIC_CODES
    assert len({c.code for c in CASES}) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_upload_is_rejected_with_its_own_error(case):
    with pytest.raises(HeartEyeError) as info:
        parse_upload(case.files)
    err = info.value
    assert type(err) is case.error, f"{case.name}: {type(err).__name__}: {err.message}"
    assert err.code == case.code, f"{case.name}: {err.code}: {err.message}"
    assert case.says in err.message.lower(), err.message
    assert err.to_dict()["code"] == case.code


def _mutations(raw: bytes, rng: np.random.Generator, n: int, span: int):
    """Byte flips, truncations and insertions, concentrated in the first ``span`` bytes."""
    for _ in range(n):
        data = bytearray(raw)
        kind = rng.integers(3)
        if kind == 0:
            for pos in rng.integers(0, min(span, len(data)), rng.integers(1, 8)):
                data[pos] = int(rng.integers(256))
        elif kind == 1:
            data = data[: int(rng.integers(0, len(data)))]
        else:
            pos = int(rng.integers(0, min(span, len(data))))
            data[pos:pos] = bytes(rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8))
        yield bytes(data)


@pytest.mark.parametrize("target", ["header", "edf", "zip"])
def test_mutated_uploads_never_raise_untyped_errors(target):
    rng = np.random.default_rng({"header": 1, "edf": 2, "zip": 3}[target])
    hea = (FIXTURES / "ludb" / "1.hea").read_bytes()
    dat = (FIXTURES / "ludb" / "1.dat").read_bytes()
    edf = (FIXTURES / "edf" / "ludb_119.edf").read_bytes()
    zipped = make_zip([("rec/1.hea", hea), ("rec/1.dat", dat)])
    source = {"header": hea, "edf": edf, "zip": zipped}[target]
    outcomes = {"ok": 0, "rejected": 0}
    for mutated in _mutations(source, rng, 150, span=3200):
        files = {
            "header": [("1.hea", mutated), ("1.dat", dat)],
            "edf": [("x.edf", mutated)],
            "zip": [("x.zip", mutated)],
        }[target]
        try:
            record = parse_upload(files)
        except HeartEyeError as err:
            assert err.code and err.message
            outcomes["rejected"] += 1
        else:
            assert isinstance(record, Record)
            outcomes["ok"] += 1
    assert outcomes["rejected"] > 0


def test_stream_is_never_read_past_the_limit():
    class Endless(io.RawIOBase):
        served = 0

        def read(self, n=-1):
            n = 1 << 20 if n is None or n < 0 else n
            self.served += n
            return b"\0" * n

    stream = Endless()
    from hearteye.io.upload import UploadLimits

    limits = UploadLimits(max_upload_bytes=5 << 20)
    with pytest.raises(HeartEyeError) as info:
        parse_upload([("x.edf", stream)], limits)
    assert info.value.code == "upload_too_large"
    assert stream.served <= limits.max_upload_bytes + 1


def test_rejections_leave_no_temporary_files():
    tmp = Path(tempfile.gettempdir())
    before = set(tmp.glob("hearteye-*"))
    for case in CASES[:20]:
        with pytest.raises(HeartEyeError):
            parse_upload(case.files)
    assert set(tmp.glob("hearteye-*")) <= before
