"""Fiducial points (peaks, J point, T onset) on real LUDB records, against the cardiologists'
annotations of the same leads, and their ordering inside each beat."""

from __future__ import annotations

import numpy as np
import pytest

from hearteye.delineate.points import qrs_components, t_points
from hearteye.delineate.postprocess import boundaries
from hearteye.delineate.runtime import Delineator
from hearteye.io.wfdb import read_wfdb
from hearteye.train.evaluate_delineator import EVALUATED, LUDB_LEAD_EXT, Evaluator, read_ludb_lead

RECORDS = ("1", "24", "119")


@pytest.fixture(scope="module")
def delineator() -> Delineator:
    return Delineator(threads=1)


def test_points_match_the_cardiologists_on_the_fixtures(fixtures_dir, delineator):
    ev = Evaluator(500.0)
    for rec in RECORDS:
        base = fixtures_dir / "ludb" / rec
        out = delineator.delineate(read_wfdb(base))
        for lead in LUDB_LEAD_EXT:
            ref, region = read_ludb_lead(base, lead)
            ev.add_lead(ref, boundaries(list(out.leads[lead]), EVALUATED), region)
    rep = ev.report()["boundaries"]
    assert rep["qrs_peak"]["f1"] > 0.99 and abs(rep["qrs_peak"]["error_mean_ms"]) < 12
    assert rep["p_peak"]["f1"] > 0.95 and abs(rep["p_peak"]["error_mean_ms"]) < 10
    assert rep["t_peak"]["f1"] > 0.93 and abs(rep["t_peak"]["error_mean_ms"]) < 15
    assert rep["t_onset"]["f1"] > 0.93 and abs(rep["t_onset"]["error_mean_ms"]) < 25


def test_points_lie_in_order_inside_their_beat(fixtures_dir, delineator):
    out = delineator.delineate(read_wfdb(fixtures_dir / "ludb" / "1"))
    beats = list(out.beats) + [b for bs in out.leads.values() for b in bs]
    n_t = 0
    for b in beats:
        if b.p_peak is not None:
            assert b.p_onset <= b.p_peak <= b.p_offset
        if b.qrs_onset is not None:
            assert b.j_point == b.qrs_offset
            assert b.qrs_onset <= b.qrs_peak <= b.qrs_offset
            for k in ("q_peak", "r_peak", "s_peak", "r_prime_peak"):
                v = getattr(b, k)
                assert v is None or b.qrs_onset <= v <= b.qrs_offset
            if b.q_peak is not None and b.r_peak is not None:
                assert b.q_peak < b.r_peak
            if b.s_peak is not None:
                assert b.r_peak < b.s_peak
        if b.t_offset is not None:
            assert b.j_point <= b.t_onset <= b.t_peak <= b.t_offset
            n_t += 1
        else:
            assert b.t_onset is None and b.t_peak is None
    assert n_t > 80


def test_qrs_components_of_shapes():
    t = np.arange(60, dtype=float)

    def bump(c, w, a):
        return a * np.exp(-0.5 * ((t - c) / w) ** 2)

    qrs = qrs_components(bump(20, 2, -0.2) + bump(30, 3, 1.0) + bump(42, 2, -0.4), 0, 59)
    assert abs(qrs["q_peak"] - 20) <= 1 and abs(qrs["r_peak"] - 30) <= 1
    assert abs(qrs["s_peak"] - 42) <= 1
    assert qrs["qrs_peak"] == qrs["r_peak"] and qrs["r_prime_peak"] is None
    qs = qrs_components(bump(30, 5, -1.0), 0, 59)
    assert qs["r_peak"] is None and qs["s_peak"] is None and abs(qs["q_peak"] - 30) <= 1
    assert qs["qrs_peak"] == qs["q_peak"]
    rsr = qrs_components(bump(20, 3, 1.0) + bump(30, 2, -0.5) + bump(40, 3, 0.8), 0, 59)
    assert abs(rsr["s_peak"] - 30) <= 1 and abs(rsr["r_prime_peak"] - 40) <= 1


def test_t_onset_is_the_knee_after_a_flat_st_segment():
    fs = 500.0
    y = np.zeros(200)
    y[80:] = np.sin(np.linspace(0, np.pi, 120))  # flat ST for 80 samples, then the T wave
    onset, peak = t_points(y, 0, 199, fs)
    assert abs(peak - 140) <= 1 and abs(onset - 80) <= 5
