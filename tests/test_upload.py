"""Valid uploads in every accepted shape read back to the same record as the file readers."""

from __future__ import annotations

import io
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import wfdb

from hearteye.errors import UploadTooLargeError
from hearteye.io import parse_upload, read_edf, read_record, read_wfdb
from hearteye.io.upload import UploadLimits
from hostile_corpus import FIXTURES, make_zip

LUDB = FIXTURES / "ludb"


def _ludb_files(n: int = 1, with_annotations: bool = False) -> list[tuple[str, bytes]]:
    exts = ["hea", "dat"] + (["i", "ii", "v1"] if with_annotations else [])
    return [(f"{n}.{e}", (LUDB / f"{n}.{e}").read_bytes()) for e in exts]


@pytest.fixture(scope="module")
def ludb1():
    return read_wfdb(LUDB / "1.hea")


def _same(a, b):
    assert a.leads == b.leads and a.fs == b.fs
    np.testing.assert_array_equal(a.signal, b.signal)


def test_bare_wfdb_files(ludb1):
    rec = parse_upload(_ludb_files(with_annotations=True))
    _same(rec, ludb1)
    assert rec.meta.source == "1.hea"
    assert rec.meta.age == 51 and rec.meta.sex == "F"


def test_zip_with_record_in_a_subfolder_and_macos_junk(ludb1):
    entries = [(f"export/ludb/{name}", data) for name, data in _ludb_files(with_annotations=True)]
    entries += [("__MACOSX/export/ludb/._1.hea", b"\0" * 50), ("export/.DS_Store", b"x")]
    rec = parse_upload([("ecg.zip", make_zip(entries))])
    _same(rec, ludb1)


def test_streams_and_a_single_pair_are_accepted(ludb1):
    rec = parse_upload([(name, io.BytesIO(data)) for name, data in _ludb_files()])
    _same(rec, ludb1)
    edf = (FIXTURES / "edf" / "ludb_119.edf").read_bytes()
    single = parse_upload(("ludb_119.edf", edf))
    _same(single, read_edf(FIXTURES / "edf" / "ludb_119.edf"))


def test_zip_with_edf_and_challenge_mat():
    edf = (FIXTURES / "edf" / "ludb_024.edf").read_bytes()
    rec = parse_upload([("a.zip", make_zip([("ludb_024.edf", edf)]))])
    _same(rec, read_edf(FIXTURES / "edf" / "ludb_024.edf"))
    cinc = [(n, (FIXTURES / "cinc" / n).read_bytes()) for n in ("A0001.hea", "A0001.mat")]
    rec = parse_upload([("cinc.zip", make_zip(cinc))])
    _same(rec, read_wfdb(FIXTURES / "cinc" / "A0001.hea"))
    assert rec.meta.diagnoses == ("59118001",)


def test_read_record_dispatches_on_suffix(tmp_path, ludb1):
    _same(read_record(LUDB / "1.hea"), ludb1)
    _same(read_record(LUDB / "1"), ludb1)
    zpath = tmp_path / "rec.zip"
    zpath.write_bytes(make_zip(_ludb_files()))
    _same(read_record(zpath), ludb1)


def test_limits_are_configurable():
    files = _ludb_files()
    with pytest.raises(UploadTooLargeError) as info:
        parse_upload(files, UploadLimits(max_upload_bytes=100_000))
    assert info.value.code == "upload_too_large"
    assert "0 mib" in info.value.message.lower() or "exceeds" in info.value.message


def test_limits_are_frozen():
    with pytest.raises(AttributeError):
        UploadLimits().max_entries = 5  # type: ignore[misc]


def test_reading_from_memory_leaves_no_temporary_files():
    tmp = Path(tempfile.gettempdir())
    before = set(tmp.glob("hearteye-*"))
    parse_upload(_ludb_files())
    parse_upload([("x.edf", (FIXTURES / "edf" / "ludb_119.edf").read_bytes())])
    assert set(tmp.glob("hearteye-*")) <= before


def test_long_recording_reads_within_a_small_multiple_of_its_size(tmp_path):
    """A 1 h 3-lead 256 Hz Holter (format 212): peak memory stays near the output's size.

    The same ratio makes a 24 h recording (66 M samples, 265 MB as float32) fit easily.
    """
    fs, n = 256, 256 * 3600
    t = np.arange(n) / fs
    noise = np.random.default_rng(0).normal(0, 0.02, (n, 3))  # real ECG never repeats exactly
    sig = np.stack([np.sin(2 * np.pi * 1.2 * t) * (k + 1) for k in range(3)], axis=1) + noise
    wfdb.wrsamp(
        "holter",
        fs=fs,
        units=["mV"] * 3,
        sig_name=["ECG1", "ECG2", "ECG3"],
        p_signal=sig,
        fmt=["212"] * 3,
        adc_gain=[200.0] * 3,
        baseline=[0] * 3,
        write_dir=str(tmp_path),
    )
    files = [(p.name, p.read_bytes()) for p in tmp_path.iterdir()]
    out_bytes = 3 * n * 4
    tracemalloc.start()
    try:
        rec = parse_upload([("holter.zip", make_zip(files))])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rec.signal.shape == (3, n) and rec.fs == fs
    assert np.abs(rec.signal - sig.T).max() < 1 / 200
    assert peak < 6 * out_bytes, f"peak {peak >> 20} MiB for {out_bytes >> 20} MiB of output"
