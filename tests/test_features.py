"""Measurements from the cardiologists' own boundaries on real LUDB records: the arithmetic is
checked against hand-computed values from the annotation samples, and nothing is clamped."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from hearteye.data.ludb import reference_beats
from hearteye.features import feature_names, feature_vector, measure
from hearteye.io import read_wfdb
from hearteye.signal import PreprocessConfig, preprocess


@pytest.fixture(scope="module")
def ludb1(fixtures_dir):
    base = fixtures_dir / "ludb" / "1"
    record = read_wfdb(f"{base}.hea")
    display = preprocess(record, PreprocessConfig(zscore=False))
    beats = reference_beats(base)
    return record, display, beats, measure(display.signal, 500.0, record.leads, beats, "F")


def test_intervals_are_medians_of_the_annotated_beats(ludb1):
    _, _, beats, m = ludb1
    g = m["global"]
    qrs = [b for b in beats if b.qrs_onset is not None]
    expected_qrs = np.median([(b.qrs_offset - b.qrs_onset) * 2.0 for b in qrs])
    expected_qt = np.median([(b.t_offset - b.qrs_onset) * 2.0 for b in qrs if b.t_offset])
    expected_pr = np.median([(b.qrs_onset - b.p_onset) * 2.0 for b in qrs if b.p_onset])
    assert g["qrs_duration"].value == pytest.approx(expected_qrs)
    assert g["qt_interval"].value == pytest.approx(expected_qt)
    assert g["pr_interval"].value == pytest.approx(expected_pr)
    rr = np.diff([b.qrs_onset for b in qrs]) * 2.0
    assert g["heart_rate"].value == pytest.approx(60000.0 / rr.mean())
    # LUDB 1 is "sinus bradycardia": the rate must say so, and be flagged.
    assert g["heart_rate"].value < 60 and g["heart_rate"].flag == "low"
    assert g["qtc_bazett"].value == pytest.approx(expected_qt / math.sqrt(rr.mean() / 1000))


def test_wide_qrs_is_reported_as_measured_not_dropped(fixtures_dir):
    base = fixtures_dir / "ludb" / "24"  # complete left bundle branch block
    record = read_wfdb(f"{base}.hea")
    display = preprocess(record, PreprocessConfig(zscore=False))
    g = measure(display.signal, 500.0, record.leads, reference_beats(base), "M")["global"]
    assert g["qrs_duration"].value > 120.0
    assert g["qrs_duration"].flag == "high"


def test_missing_p_waves_give_nan_not_a_guess(ludb1):
    record, display, beats, _ = ludb1
    beats = copy.deepcopy(beats)
    for b in beats:
        b.p_onset = b.p_offset = None
    g = measure(display.signal, 500.0, record.leads, beats)["global"]
    assert math.isnan(g["pr_interval"].value)
    assert math.isnan(g["p_duration"].value)
    assert g["p_wave_fraction"].value == 0.0
    assert g["pr_interval"].to_dict()["value"] is None


def test_axis_is_signed(ludb1):
    """LUDB 1 is labelled left axis deviation (Russian convention: below +30 degrees); an
    unsigned method would land in 0..90. Flipping the limb leads must rotate it by 180."""
    record, display, beats, m = ludb1
    axis = m["global"]["qrs_axis"].value
    assert -90.0 < axis < 30.0, axis
    flipped = display.signal.copy()
    flipped[:6] *= -1
    other = measure(flipped, 500.0, record.leads, beats)["global"]["qrs_axis"].value
    assert abs(((other - axis) % 360.0) - 180.0) < 1.0


def test_feature_vector_layout(ludb1):
    _, _, _, m = ludb1
    vec = feature_vector(m, age=51, sex="F")
    names = feature_names()
    assert vec.shape == (len(names),)
    assert vec[names.index("age")] == 51 and vec[names.index("sex_male")] == 0.0
    assert vec[names.index("qrs_duration")] == m["global"]["qrs_duration"].value
    assert np.isnan(feature_vector(m, None, None)[-2:]).all()


def test_measure_returns_exactly_the_declared_set_with_its_units(ludb1):
    """Batch tables and exports take their columns from `MEASUREMENT_UNITS`: a measurement
    added to `measure` without declaring it (or with another unit) fails here."""
    from hearteye.features import GLOBAL_MEASUREMENTS, MEASUREMENT_UNITS

    g = ludb1[3]["global"]
    assert tuple(g) == GLOBAL_MEASUREMENTS
    assert {k: v.unit for k, v in g.items()} == MEASUREMENT_UNITS


def test_a_t_end_past_the_next_qrs_is_not_a_qt(shared_data):
    """PTB-XL 17 (atrial fibrillation at 150 bpm): the QT mask runs through the fibrillatory
    waves, so some beats' T end lies past the next QRS. Those beats are not measured: the
    QT is shorter than the RR, where counting them gave 1,795 ms (QTc Bazett 2,838 ms)."""
    from hearteye.analyze import measure_record
    from hearteye.io import read_record

    m = measure_record(read_record(shared_data / "ptbxl" / "records100" / "00000" / "00017_lr.hea"))
    g = m.measurements["global"]
    assert g["qt_interval"].value < g["rr_mean"].value
    assert 250 < g["qt_interval"].value < 450
