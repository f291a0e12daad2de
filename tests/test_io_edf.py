"""EDF/EDF+ reader: LUDB conversions match their WFDB originals; rates, units, lead names."""

from __future__ import annotations

import numpy as np
import pytest

from hearteye.io import ReadLimits, read_edf, read_edf_bytes, read_wfdb
from hearteye.record import STANDARD_LEADS, normalise_lead_name
from hostile_corpus import write_edf

EDF_TO_LUDB = {
    "ludb_119.edf": 119,
    "ludb_135.edf": 135,
    "ludb_024.edf": 24,
    "ludb_034.edf": 34,
    "ludb_038.edf": 38,
    "ludb_052.edf": 52,
}


def _check_against_wfdb(edf_path, hea_path):
    rec, ref = read_edf(edf_path), read_wfdb(hea_path)
    assert rec.leads == ref.leads == STANDARD_LEADS
    assert rec.fs == ref.fs == 500 and rec.signal.shape == ref.signal.shape
    diff = np.abs(rec.signal - ref.signal).max()
    assert diff <= 1e-3, f"{edf_path.name}: {diff}"
    assert (rec.meta.age, rec.meta.sex) == (ref.meta.age, ref.meta.sex)
    return diff


@pytest.mark.parametrize("name, n", [("ludb_119.edf", 119), ("ludb_024.edf", 24)])
def test_edf_fixtures_match_wfdb_originals(fixtures_dir, name, n):
    _check_against_wfdb(fixtures_dir / "edf" / name, fixtures_dir / "ludb" / f"{n}.hea")


def test_six_staged_edf_files_match_wfdb_originals(shared_data):
    folder = shared_data / "ludb-edf"
    diffs = [
        _check_against_wfdb(folder / name, shared_data / "ludb" / "data" / f"{n}.hea")
        for name, n in EDF_TO_LUDB.items()
    ]
    assert len(diffs) == 6 and max(diffs) < 1e-4  # measured 4.3e-5 (header rounding)


def test_bytes_equal_path(fixtures_dir):
    path = fixtures_dir / "edf" / "ludb_024.edf"
    a, b = read_edf(path), read_edf_bytes(path.read_bytes(), path.name)
    np.testing.assert_array_equal(a.signal, b.signal)
    assert a.meta == b.meta and a.meta.source == "ludb_024.edf"


def test_max_seconds_decodes_only_the_first_data_records(fixtures_dir):
    path = fixtures_dir / "edf" / "ludb_024.edf"
    whole = read_edf(path)
    start = read_edf_bytes(path.read_bytes(), path.name, ReadLimits(max_seconds=2.5))
    per_record = read_edf_record_seconds(path)
    n = int(np.ceil(2.5 / per_record) * per_record * whole.fs)  # whole data records
    assert start.n_samples == n < whole.n_samples
    np.testing.assert_array_equal(start.signal, whole.signal[:, :n])
    assert start.meta.recording_duration_s == pytest.approx(whole.duration)
    assert whole.meta.recording_duration_s is None


def read_edf_record_seconds(path) -> float:
    return float(path.read_bytes()[244:252].decode().strip())  # EDF header: record duration


def test_two_rates_are_resampled_not_padded():
    """ECG I at 500 Hz, ECG II at 250 Hz, a respiration channel and EDF+ annotations."""
    t500, t250 = np.arange(5000) / 500, np.arange(2500) / 250
    channels = [
        {"label": "ECG I", "dimension": "mV", "fs": 500, "data": np.sin(2 * np.pi * 10 * t500)},
        {
            "label": "ECG II",
            "dimension": "uV",
            "fs": 250,
            "pmin": -5000,
            "pmax": 5000,
            "data": 1000 * np.sin(2 * np.pi * 10 * t250),
        },
        {"label": "Resp", "dimension": "%", "fs": 25, "data": np.zeros(250)},
    ]
    rec = read_edf_bytes(write_edf(channels), "two_rates.edf")
    assert rec.fs == 500 and rec.leads == ("I", "II") and rec.n_samples == 5000
    assert rec.meta.extra["resampled_from_hz"] == [250.0, 500.0]
    assert rec.meta.extra["dropped_channels"] == ["Resp"]
    inner = slice(200, 4800)  # away from the filter's edge transients
    expected = np.sin(2 * np.pi * 10 * t500)[inner]
    assert np.abs(rec.signal[1, inner] - expected).max() < 0.01  # uV -> mV, 10 Hz intact
    # zero-padding or sample repetition would leave every other sample at 0 or repeated
    assert np.abs(np.diff(rec.signal[1, inner])).min() > 0


def test_volt_units_and_birthdate_age(tmp_path):
    import pyedflib

    path = tmp_path / "v.edf"
    w = pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS)
    w.setSignalHeaders(
        [
            {
                "label": "EKG V1-REF",
                "dimension": "V",
                "sample_frequency": 500,
                "physical_min": -0.01,
                "physical_max": 0.01,
                "digital_min": -32768,
                "digital_max": 32767,
                "transducer": "",
                "prefilter": "",
            }
        ]
    )
    from datetime import date, datetime

    w.setStartdatetime(datetime(2020, 6, 1, 10, 0, 0))
    w.setBirthdate(date(1950, 7, 1))
    w.setSex(0)  # EDF+ codes: 0 female, 1 male
    x = 0.002 * np.sin(2 * np.pi * 5 * np.arange(5000) / 500)
    w.writeSamples([x])
    w.close()
    rec = read_edf(path)
    assert rec.leads == ("V1",) and rec.meta.original_units == ("V",)
    assert np.abs(rec.signal[0] - x * 1e3).max() < 1e-3  # 2 mV peaks, in mV
    assert rec.meta.age == 69 and rec.meta.sex == "F"


@pytest.mark.parametrize(
    "given, standard",
    [
        ("ECG I", "I"),
        ("Lead II", "II"),
        ("ecg ii", "II"),
        ("avr", "aVR"),
        ("AVL", "aVL"),
        ("EKG aVF", "aVF"),
        ("V1-REF", "V1"),
        ("ECG V6", "V6"),
        ("i", "I"),
        ("III", "III"),
        ("MLII", "MLII"),
        ("Pleth", "Pleth"),
    ],
)
def test_lead_names_are_normalised(given, standard):
    assert normalise_lead_name(given) == standard
