"""The noise gate (`hearteye.delineate.noise_gate`) on real LUDB records.

A clean record never reaches the noise model (its delineation is bit-identical to the clean
model's alone); the same record with 6 dB of NST-type noise does, and gets its P waves back;
atrial fibrillation with the same noise stays with the clean model, which marks no P waves
there instead of inventing them.
"""

from __future__ import annotations

import numpy as np
import pytest

from hearteye.delineate import noise_gate
from hearteye.delineate.runtime import Delineator, default_noise_model_path
from hearteye.io.wfdb import read_wfdb
from hearteye.signal import PreprocessConfig, preprocess
from hearteye.train import robustness

NOISE_6DB = next(c for c in robustness.CONDITIONS if c.name == "noise 6 dB")


@pytest.fixture(scope="module")
def gated() -> Delineator:
    d = Delineator(threads=1)
    assert d.noise_session is not None, "the noise model ships beside the clean one"
    return d


@pytest.fixture(scope="module")
def clean_only() -> Delineator:
    return Delineator(threads=1, noise_model_path=None)


def _noisy(base, cond=NOISE_6DB):
    return robustness.apply(read_wfdb(base), cond, robustness.condition_seed(base, cond))


def _routed(gated, clean_only, record) -> bool:
    """Whether the gated delineator gave ``record`` the noise model's probabilities."""
    a, b = gated.delineate(record), clean_only.delineate(record)
    return not np.array_equal(a.prob, b.prob)


def test_a_clean_record_stays_with_the_clean_model(fixtures_dir, gated, clean_only):
    record = read_wfdb(fixtures_dir / "ludb" / "1")
    assert not _routed(gated, clean_only, record)


def test_a_noisy_record_goes_to_the_noise_model_and_keeps_its_p_waves(
    fixtures_dir, gated, clean_only
):
    base = str(fixtures_dir / "ludb" / "119")
    assert _routed(gated, clean_only, _noisy(base))
    f1 = {
        name: robustness.evaluate_condition([base], NOISE_6DB, d)["boundaries"]["p_onset"]["f1"]
        for name, d in (("gated", gated), ("clean", clean_only))
    }
    assert f1["gated"] >= 0.93
    assert f1["gated"] > f1["clean"] + 0.1, f1


def test_atrial_fibrillation_with_noise_stays_with_the_clean_model(ludb_dir, gated, clean_only):
    # LUDB 112: atrial fibrillation (ludb.csv). Not LUDB 8: its AF has an almost regular
    # ventricular response (RR CV 0.055), and with noise it does go to the noise model.
    base = str(ludb_dir / "112")
    record = _noisy(base)
    x = preprocess(record, PreprocessConfig()).signal
    assert noise_gate.noise_ratio_of(x, clean_only.probabilities(x), 500.0) > noise_gate.NOISE_RATIO
    assert not _routed(gated, clean_only, record)  # noisy, but irregular: no invented P waves


def test_the_gate_is_off_for_a_model_under_evaluation_and_by_setting(monkeypatch, fixtures_dir):
    shipped = Delineator(threads=1)
    assert "+delineator_noise@sha256:" in shipped.version
    assert Delineator(shipped.path, threads=1).noise_session is None
    monkeypatch.setenv("HEARTEYE_DELINEATOR_NOISE_MODEL", "")
    assert default_noise_model_path() is None
    assert Delineator(threads=1).noise_session is None
