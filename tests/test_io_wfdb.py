"""WFDB reader: values identical to wfdb's p_signal, units, formats, Challenge .mat, metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

from hearteye.errors import InvalidRecordError
from hearteye.io import ReadLimits, read_wfdb, read_wfdb_files
from hearteye.io.wfdb import wfdb_length
from hearteye.record import STANDARD_LEADS


def _p_signal(base: Path) -> np.ndarray:
    return wfdb.rdrecord(str(base)).p_signal.T


def _assert_matches_wfdb(path: Path, tol: float = 1e-6):
    rec = read_wfdb(path)
    ref = _p_signal(path.with_suffix(""))
    assert rec.signal.dtype == np.float32 and rec.signal.shape == ref.shape
    assert np.array_equal(np.isnan(rec.signal), np.isnan(ref))
    assert np.nanmax(np.abs(rec.signal - ref)) <= tol
    return rec


@pytest.mark.parametrize("n", [1, 24, 119])
def test_ludb_fixture_matches_wfdb(fixtures_dir, n):
    rec = _assert_matches_wfdb(fixtures_dir / "ludb" / f"{n}.hea")
    assert rec.leads == STANDARD_LEADS and rec.fs == 500 and rec.n_samples == 5000


def test_ludb_metadata(fixtures_dir):
    meta = read_wfdb(fixtures_dir / "ludb" / "1.hea").meta
    assert (meta.age, meta.sex, meta.record_name, meta.source) == (51, "F", "1", "1.hea")
    assert meta.diagnoses[0] == "Rhythm: Sinus bradycardia."
    assert "Left ventricular hypertrophy." in meta.diagnoses
    assert meta.original_units == ("mV",) * 12


@pytest.mark.parametrize(
    "name, age, sex, dx",
    [
        ("A0001", 74, "M", ("59118001",)),
        ("E00001", None, "F", ("426783006",)),  # the header says 'Age: NaN'
    ],
)
def test_challenge_mat_records(fixtures_dir, name, age, sex, dx):
    rec = _assert_matches_wfdb(fixtures_dir / "cinc" / f"{name}.hea")
    assert rec.leads == STANDARD_LEADS and rec.fs == 500
    assert (rec.meta.age, rec.meta.sex, rec.meta.diagnoses) == (age, sex, dx)
    assert rec.meta.extra["dx_coding"] == "SNOMED CT"


def test_all_staged_challenge_records(shared_data):
    headers = sorted((shared_data / "cinc-challenge-samples" / "records").glob("*.hea"))
    headers += sorted((shared_data / "ptb-diagnostic-long" / "records").glob("*.hea"))
    assert len(headers) >= 90
    for hea in headers:
        rec = _assert_matches_wfdb(hea)
        assert rec.leads == STANDARD_LEADS
        assert wfdb_length(hea) == (rec.n_samples, rec.fs)  # the layout `prepare` relies on
        assert rec.meta.diagnoses and all(code.isdigit() for code in rec.meta.diagnoses)


def test_reading_from_memory_equals_reading_from_disk(fixtures_dir):
    folder = fixtures_dir / "cinc"
    files = {p.name: p.read_bytes() for p in folder.glob("A0001.*")}
    a, b = read_wfdb_files(files, "A0001.hea"), read_wfdb(folder / "A0001.hea")
    np.testing.assert_array_equal(a.signal, b.signal)
    assert a.meta == b.meta


def _rewrite_header(src: Path, dst: Path, gain_factor: float, unit: str) -> None:
    """Copy a LUDB header and .dat, expressing the same physical signal in another unit."""
    lines = src.read_text().splitlines()
    for k in range(1, 13):
        parts = lines[k].split()
        gain, rest = parts[2].split("(")
        parts[2] = f"{float(gain) * gain_factor:.10g}({rest.split(')')[0]})/{unit}"
        lines[k] = " ".join(parts)
    dst.write_text("\n".join(lines) + "\n")
    (dst.parent / "1.dat").write_bytes((src.parent / "1.dat").read_bytes())


@pytest.mark.parametrize("unit, factor", [("uV", 1e-3), ("V", 1e3), ("mV", 1.0)])
def test_units_are_converted_to_mv(fixtures_dir, tmp_path, unit, factor):
    # gain in adu/uV is the adu/mV gain / 1000, so values in uV are 1000x the mV values.
    _rewrite_header(fixtures_dir / "ludb" / "1.hea", tmp_path / "1.hea", factor, unit)
    rec = read_wfdb(tmp_path / "1.hea")
    ref = _p_signal(fixtures_dir / "ludb" / "1")
    assert rec.meta.original_units == (unit,) * 12
    assert np.abs(rec.signal - ref).max() <= 1e-6


def _write_two_leads(folder: Path, fmt: str, gain: float) -> None:
    rng = np.random.default_rng(int(fmt))
    t = np.arange(2500) / 500
    sig = np.stack([np.sin(2 * np.pi * 1.3 * t), 0.4 * np.cos(2 * np.pi * 7 * t)], axis=1)
    sig += 0.01 * rng.standard_normal(sig.shape)
    wfdb.wrsamp(
        "r",
        fs=500,
        units=["mV", "mV"],
        sig_name=["ECG I", "Lead II"],
        p_signal=sig,
        fmt=[fmt, fmt],
        adc_gain=[gain, gain],
        baseline=[0, 0],
        write_dir=str(folder),
    )


def _recode(folder: Path, fmt: str) -> None:
    """Turn a format-16 record into format 160, 61 or 8 (wfdb cannot write those)."""
    d = np.fromfile(folder / "r.dat", dtype="<i2").astype(np.int32)
    if fmt == "160":
        data = (d + 32768).astype("<u2").tobytes()
    elif fmt == "61":
        data = d.astype(">i2").tobytes()
    else:  # first differences, relative to the header's initial values (the first sample)
        frames = d.reshape(-1, 2)
        data = np.diff(frames, axis=0, prepend=frames[:1]).astype(np.int8).tobytes()
    (folder / "r.dat").write_bytes(data)
    hea = folder / "r.hea"
    hea.write_text(hea.read_text().replace("r.dat 16 ", f"r.dat {fmt} "))


@pytest.mark.parametrize("fmt", ["16", "212", "80", "24", "32", "516", "160", "61", "8"])
def test_dat_formats_match_wfdb(tmp_path, fmt):
    gain = {"80": 50.0, "212": 1000.0, "8": 20.0}.get(fmt, 1000.0)
    if fmt in ("160", "61", "8"):
        _write_two_leads(tmp_path, "16", gain)
        _recode(tmp_path, fmt)
    else:
        _write_two_leads(tmp_path, fmt, gain)
    rec = _assert_matches_wfdb(tmp_path / "r.hea")
    assert rec.leads == ("I", "II") and rec.n_samples == 2500
    assert np.abs(rec.signal[1]).max() > 0.3  # the decoded values are the signal, not noise
    mem = read_wfdb_files({p.name: p.read_bytes() for p in tmp_path.iterdir()}, "r.hea")
    np.testing.assert_array_equal(mem.signal, rec.signal)


@pytest.mark.parametrize("fmt", ["16", "212", "516"])  # plain, packed, FLAC
def test_max_seconds_decodes_only_the_start(tmp_path, fmt):
    _write_two_leads(tmp_path, fmt, 1000.0)  # 5 s at 500 Hz
    whole = read_wfdb(tmp_path / "r.hea")
    start = read_wfdb(tmp_path / "r.hea", ReadLimits(max_seconds=1.5))
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert read_wfdb_files(files, "r.hea", ReadLimits(max_seconds=1.5)).signal.tobytes() == (
        start.signal.tobytes()
    )
    assert start.n_samples == 750 and start.meta.recording_duration_s == 5.0
    assert start.recording_duration == 5.0 and whole.recording_duration == 5.0
    np.testing.assert_array_equal(start.signal, whole.signal[:, :750])
    assert (
        read_wfdb(tmp_path / "r.hea", ReadLimits(max_seconds=9)).meta.recording_duration_s is None
    )  # shorter than the bound: read whole


def test_missing_sample_count_is_inferred_from_the_file(fixtures_dir, tmp_path):
    text = (fixtures_dir / "ludb" / "1.hea").read_text().replace("1 12 500 5000", "1 12 500", 1)
    (tmp_path / "1.hea").write_text(text)
    (tmp_path / "1.dat").write_bytes((fixtures_dir / "ludb" / "1.dat").read_bytes())
    assert read_wfdb(tmp_path / "1.hea").n_samples == 5000
    assert wfdb_length(tmp_path / "1.hea") == (5000, 500.0)


def test_non_voltage_channels_are_dropped(tmp_path):
    sig = np.stack([np.sin(np.arange(2000) / 50), 80 + np.zeros(2000)], axis=1)
    wfdb.wrsamp(
        "bp",
        fs=250,
        units=["mV", "mmHg"],
        sig_name=["II", "ABP"],
        p_signal=sig,
        fmt=["16", "16"],
        write_dir=str(tmp_path),
    )
    rec = read_wfdb(tmp_path / "bp.hea")
    assert rec.leads == ("II",) and rec.meta.extra["dropped_channels"] == ["ABP"]


def test_missing_header_path_is_a_typed_error(tmp_path):
    with pytest.raises(Exception) as info:
        read_wfdb(tmp_path / "nothing.hea")
    assert getattr(info.value, "code", None) == "file_not_found"


def test_signal_file_symlink_is_not_followed(fixtures_dir, tmp_path):
    (tmp_path / "1.hea").write_bytes((fixtures_dir / "ludb" / "1.hea").read_bytes())
    (tmp_path / "1.dat").symlink_to(fixtures_dir / "ludb" / "1.dat")
    with pytest.raises(InvalidRecordError) as info:
        read_wfdb(tmp_path / "1.hea")
    assert info.value.code == "missing_signal_file"


def _edit_signal_lines(src: Path, dst: Path, edit) -> None:
    """Copy LUDB record ``src`` to ``dst`` with each signal line passed through ``edit``."""
    lines = src.read_text().splitlines()
    out = [lines[0]] + [edit(i, line) for i, line in enumerate(lines[1:13])] + lines[13:]
    dst.write_text("\n".join(out) + "\n")
    (dst.parent / "1.dat").write_bytes((src.parent / "1.dat").read_bytes())


def test_gain_zero_reads_as_uncalibrated_with_the_default_gain(fixtures_dir, tmp_path):
    """WFDB's header(5) and wfdb-python: a gain of 0 means uncalibrated, assume 200 units per
    physical unit. The record reads (equal to wfdb-python's values) and says which leads."""

    def zero_v1_v5(i, line):
        if i in (6, 10):  # V1, V5
            parts = line.split()
            parts[2] = "0" + parts[2][parts[2].index("(") :]
            return " ".join(parts)
        return line

    _edit_signal_lines(fixtures_dir / "ludb" / "1.hea", tmp_path / "1.hea", zero_v1_v5)
    rec = _assert_matches_wfdb(tmp_path / "1.hea")
    assert rec.meta.uncalibrated_leads == ("V1", "V5")
    raw = np.fromfile(tmp_path / "1.dat", dtype="<i2").reshape(-1, 12)
    assert np.allclose(rec.signal[6], (raw[:, 6] + 1) / 200.0, atol=1e-6)  # V1 baseline -1
    assert rec.summary()["uncalibrated_leads"] == ["V1", "V5"]


def test_missing_gain_baseline_and_units_follow_the_specification(fixtures_dir, tmp_path):
    """No gain: uncalibrated, 200. No baseline: the ADC zero. No units: millivolts. Each as
    wfdb-python reads the same header."""

    def strip(i, line):
        parts = line.split()
        if i == 0:  # lead I: format only
            return f"{parts[0]} {parts[1]}"
        if i == 1:  # lead II: gain and units, no baseline; ADC resolution and zero given
            return f"{parts[0]} {parts[1]} 1206/mV 16 100 25 12402 0 ii"
        if i == 2:  # lead III: gain without units
            return f"{parts[0]} {parts[1]} 1229(-5) 0 0 145 -20936 0 iii"
        return line

    _edit_signal_lines(fixtures_dir / "ludb" / "1.hea", tmp_path / "1.hea", strip)
    rec = _assert_matches_wfdb(tmp_path / "1.hea")
    ref = wfdb.rdheader(str(tmp_path / "1"))
    assert ref.adc_gain[0] == 200.0 and ref.baseline[1] == 100
    # A signal line without a description gets a placeholder name; only it is uncalibrated.
    assert rec.leads[:3] == ("signal 1", "II", "III")
    assert rec.meta.uncalibrated_leads == ("signal 1",)
    assert rec.meta.original_units[2] == "mV"


@pytest.mark.parametrize("fmt", ["16", "212"])  # read by numpy block by block; decoded by wfdb
def test_a_long_record_converted_in_blocks_equals_wfdb(fixtures_dir, tmp_path, fmt):
    """A record longer than one conversion block (LUDB leads II and V1 tiled to 37 min, with
    missing samples): the float32 samples are wfdb's p_signal, rounded once, from disk and
    from memory."""
    from hearteye.io import wfdb as reader

    src = wfdb.rdrecord(str(fixtures_dir / "ludb" / "1"), channels=[1, 6], physical=False)
    d = np.tile(src.d_signal, (225, 1))  # 1.125 M frames
    assert len(d) > reader.BLOCK_FRAMES
    d[::100_003] = -32768 if fmt == "16" else -2048  # WFDB's invalid-sample code: NaN
    wfdb.wrsamp(
        "long",
        fs=500,
        units=["mV", "mV"],
        sig_name=["II", "V1"],
        d_signal=d,
        fmt=[fmt, fmt],
        adc_gain=src.adc_gain,
        baseline=src.baseline,
        write_dir=str(tmp_path),
    )
    ref = wfdb.rdrecord(str(tmp_path / "long")).p_signal.T.astype(np.float32)
    rec = read_wfdb(tmp_path / "long.hea")
    assert np.isnan(rec.signal).sum() == np.isnan(ref).sum() > 0
    np.testing.assert_array_equal(rec.signal, ref)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    np.testing.assert_array_equal(read_wfdb_files(files, "long.hea").signal, ref)
