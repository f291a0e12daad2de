"""Beat types on real Challenge records whose cardiologists' labels name premature beats, and
median beats on real LUDB records."""

from __future__ import annotations

import numpy as np
import pytest

from hearteye.delineate.beats import BEAT_TYPES, beat_types, type_counts
from hearteye.delineate.median import WINDOW_S, delineate_median, median_beats
from hearteye.delineate.runtime import get_delineator
from hearteye.io import read_record
from hearteye.signal import preprocess

# Challenge 2020/2021 training records and their SNOMED Dx (labels.csv of the staged samples)
VENTRICULAR = ("A0005", "E00008", "Q0010", "Q0050", "Q0630")  # VEB / VPB / PVC
SUPRAVENTRICULAR = ("A5432", "E00015")  # PAC
SINUS = ("A0002", "E00001", "HR00001")  # NSR only


def _types(path):
    rec = read_record(path)
    pp = preprocess(rec)
    d = get_delineator().delineate_preprocessed(pp, rec.fs)
    display = pp.signal * pp.std[:, None]
    return list(d.beats), beat_types(d.beats, display[~pp.flat], pp.fs), pp, d


@pytest.fixture(scope="module")
def cinc(shared_data):
    path = shared_data / "cinc-challenge-samples" / "records"
    if not path.is_dir():
        pytest.skip(f"Challenge samples not found at {path}")
    return path


@pytest.mark.parametrize("name", VENTRICULAR)
def test_records_labelled_with_pvcs_get_ventricular_premature_beats(cinc, name):
    beats, types, _, _ = _types(cinc / f"{name}.hea")
    counts = type_counts(types)
    assert counts["ventricular_premature"] >= 1, counts
    assert counts["normal"] > counts["ventricular_premature"], counts


@pytest.mark.parametrize("name", SUPRAVENTRICULAR)
def test_records_labelled_with_pacs_get_supraventricular_premature_beats(cinc, name):
    _, types, _, _ = _types(cinc / f"{name}.hea")
    assert type_counts(types)["supraventricular_premature"] >= 1


@pytest.mark.parametrize("name", SINUS)
def test_sinus_records_have_only_normal_beats(cinc, name):
    beats, types, _, _ = _types(cinc / f"{name}.hea")
    qrs = [t for b, t in zip(beats, types, strict=True) if b.qrs_onset is not None]
    assert len(qrs) >= 8 and set(qrs) == {"normal"}


def test_every_type_is_known_and_p_only_beats_get_none(fixtures_dir):
    beats, types, _, _ = _types(fixtures_dir / "cinc" / "A0001.hea")
    assert len(types) == len(beats)
    for b, t in zip(beats, types, strict=True):
        assert (t is None) == (b.qrs_onset is None)
        assert t is None or t in BEAT_TYPES


def test_paced_flags_win_over_shape(fixtures_dir):
    beats, _, pp, _ = _types(fixtures_dir / "ludb" / "1.hea")
    paced = [i % 2 == 0 for i in range(len(beats))]
    types = beat_types(beats, pp.signal, pp.fs, paced)
    assert all(t == "paced" for t, p in zip(types, paced, strict=True) if p)


def test_median_beats_are_aligned_and_delineated(fixtures_dir):
    beats, types, pp, _ = _types(fixtures_dir / "ludb" / "1.hea")
    med = median_beats(pp.signal, beats, types, pp.fs)
    assert med is not None and 6 <= med.n_beats <= types.count("normal")
    assert med.signal.shape == (12, int(round((WINDOW_S[1] - WINDOW_S[0]) * pp.fs)) + 1)
    # aligned on the QRS peak: the spatial magnitude of the median beat peaks there
    mag = np.sqrt((med.signal**2).sum(axis=0))
    assert abs(int(np.argmax(mag)) - med.fiducial) <= 5
    beat = delineate_median(get_delineator(), med, pp.flat)
    assert beat is not None
    assert beat.p_onset < beat.qrs_onset <= med.fiducial <= beat.qrs_offset < beat.t_offset
    # its intervals agree with the per-beat medians of the same record within a few samples
    per_beat = np.median([b.qrs_offset - b.qrs_onset for b in beats if b.qrs_onset is not None])
    assert abs((beat.qrs_offset - beat.qrs_onset) - per_beat) <= 6


def test_too_few_dominant_beats_give_no_median(fixtures_dir):
    beats, types, pp, _ = _types(fixtures_dir / "ludb" / "1.hea")
    assert median_beats(pp.signal, beats, ["unclassifiable"] * len(beats), pp.fs) is None
