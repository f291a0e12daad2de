"""Robustness evaluation and the device degradations behind it, on real LUDB fixture records.

The degradations are checked for what they claim (SNR, spectra, rates, pass bands); the
evaluation runs the shipped clean model on degraded fixture records and must give figures that
move the way physics says they must: a clean record resampled to 250 Hz keeps its accuracy,
strong electrode-motion noise in the P-wave band costs P waves.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.signal as sps
from click.testing import CliRunner

from hearteye.cli import main
from hearteye.delineate.runtime import Delineator
from hearteye.io.wfdb import read_wfdb
from hearteye.train import degrade, robustness

FS = 500.0
RECORDS = ("1", "24", "119")


@pytest.fixture(scope="module")
def ii_lead(fixtures_dir) -> np.ndarray:
    rec = read_wfdb(fixtures_dir / "ludb" / "24")
    return rec.signal[rec.leads.index("II")].astype(np.float64)


@pytest.fixture(scope="module")
def delineator() -> Delineator:
    # The clean model alone: what noise costs it is the physics checked here; the noise
    # model behind the gate is tested in test_noise_gate.py.
    return Delineator(threads=1, noise_model_path=None)


@pytest.fixture(scope="module")
def bases(fixtures_dir) -> list[str]:
    return [str(fixtures_dir / "ludb" / r) for r in RECORDS]


@pytest.mark.parametrize("snr", [12.0, 6.0, 0.0])
def test_noise_is_added_at_the_requested_nst_snr(ii_lead, snr):
    noisy = degrade.add_noise(ii_lead[None], FS, snr, np.random.default_rng(3))
    assert degrade.measured_snr_db(ii_lead[None], noisy, FS)[0] == pytest.approx(snr, abs=0.05)


def test_qrs_peak_to_peak_estimate_matches_the_annotated_complexes(fixtures_dir, ii_lead):
    from hearteye.train.evaluate_delineator import read_ludb_lead

    ref, _ = read_ludb_lead(fixtures_dir / "ludb" / "24", "II")
    ranges = [
        np.ptp(ii_lead[int(a) : int(b) + 1])
        for a, b in zip(ref["qrs_onset"], ref["qrs_offset"], strict=True)
    ]
    est = degrade.qrs_peak_to_peak(ii_lead[None], FS)[0]
    assert est == pytest.approx(np.median(ranges), rel=0.25)


@pytest.mark.parametrize(
    ("kind", "band", "share"),
    [("bw", (0.0, 1.0), 0.9), ("em", (0.4, 15.0), 0.9), ("ma", (12.0, 160.0), 0.9)],
)
def test_noise_types_have_their_documented_spectra(kind, band, share):
    y = degrade.noise(kind, (4, 20_000), FS, np.random.default_rng(1))
    assert np.allclose((y**2).mean(axis=-1), 1.0)
    f, p = sps.welch(y, FS, nperseg=4096, axis=-1)
    p = p.mean(axis=0)
    inside = p[(f >= band[0]) & (f <= band[1])].sum() / p.sum()
    assert inside >= share


def test_round_trip_at_100_hz_removes_what_100_hz_cannot_hold(ii_lead):
    t = np.arange(5000) / FS
    x = np.sin(2 * np.pi * 5 * t) + np.sin(2 * np.pi * 80 * t)
    y = degrade.resample_round_trip(x[None], FS, 100.0)[0]
    assert y.shape == x.shape
    f, p = sps.welch(y[500:-500], FS, nperseg=1000)
    assert p[np.argmin(abs(f - 80))] < 1e-4 * p[np.argmin(abs(f - 5))]
    # at 250 Hz the ECG itself is kept: QRS energy is below 100 Hz
    z = degrade.resample_round_trip(ii_lead[None], FS, 250.0)[0]
    assert np.abs(z - ii_lead)[100:-100].max() < 0.05 * np.ptp(ii_lead)


def test_ac_coupling_removes_an_offset_and_low_pass_limits_the_band():
    t = np.arange(20_000) / FS
    x = 2.0 + np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 120 * t)
    y = degrade.band_limit(x, FS, 0.5, 40.0)
    assert abs(y[5000:].mean()) < 0.01
    f, p = sps.welch(y[5000:], FS, nperseg=2000)
    assert p[np.argmin(abs(f - 120))] < 1e-3 * p[np.argmin(abs(f - 10))]


def test_conditions_give_the_device_record(fixtures_dir):
    rec = read_wfdb(fixtures_dir / "ludb" / "1")
    amb = next(c for c in robustness.CONDITIONS if c.name.startswith("ambulatory"))
    out = robustness.apply(rec, amb, seed=5)
    assert out.fs == 250.0 and out.leads == ("II", "V5") and out.n_samples == 2500
    again = robustness.apply(rec, amb, seed=5)
    assert np.array_equal(out.signal, again.signal)
    assert not np.array_equal(out.signal, robustness.apply(rec, amb, seed=6).signal)


def test_shipped_model_keeps_accuracy_at_250_hz_and_noise_costs_p_waves(bases, delineator):
    by_name = {c.name: c for c in robustness.CONDITIONS}
    clean = robustness.evaluate_condition(bases, by_name["clean"], delineator)
    at250 = robustness.evaluate_condition(bases, by_name["250 Hz"], delineator)
    two = robustness.evaluate_condition(bases, by_name["II + V5"], delineator)
    em = robustness.evaluate_condition(bases, by_name["electrode motion 6 dB"], delineator)
    assert at250["n_leads"] == 36 and two["n_leads"] == 6
    for f in ("p_onset", "p_offset", "t_offset"):
        assert at250["boundaries"][f]["f1"] >= 0.97
    for f in ("qrs_onset", "qrs_offset"):
        assert at250["boundaries"][f]["f1"] >= 0.99
        assert two["boundaries"][f]["f1"] >= 0.99
    assert abs(at250["boundaries"]["p_onset"]["f1"] - clean["boundaries"]["p_onset"]["f1"]) < 0.02
    # The same record with electrode motion in the P band: P waves are lost, QRS far less.
    p_clean = clean["boundaries"]["p_onset"]["f1"]
    assert em["boundaries"]["p_onset"]["f1"] < p_clean - 0.2
    assert em["boundaries"]["qrs_onset"]["f1"] > em["boundaries"]["p_onset"]["f1"]


def test_cli_writes_the_table_and_report(bases, tmp_path):
    split = tmp_path / "split.csv"
    split.write_text("record,path\n" + "".join(f"{b.split('/')[-1]},{b}\n" for b in bases[:2]))
    out = tmp_path / "r.json"
    args = ["evaluate-robustness", "--split-csv", str(split), "--out", str(out)]
    args += ["--condition", "100 Hz", "--condition", "noise 12 dB"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert list(report["conditions"]) == ["100 Hz", "noise 12 dB"]
    assert report["conditions"]["100 Hz"]["n_records"] == 2
    assert "| 100 Hz | 24 |" in result.output
    base = CliRunner().invoke(main, [*args[:3], "--condition", "100 Hz", "--baseline", str(out)])
    assert base.exit_code == 0 and " -> " in base.output
    bad = CliRunner().invoke(main, [*args[:3], "--condition", "300 Hz"])
    assert bad.exit_code == 2 and "unknown" in bad.output


# -- training augmentation and selection ------------------------------------------------------


def _prepared(tmp_path, fixtures_dir):
    """`hearteye prepare`-shaped train/val folders from the fixture records."""
    from hearteye.data.annotations import read_annotation
    from hearteye.data.masks import lead_masks
    from hearteye.signal import preprocess
    from hearteye.train.evaluate_delineator import LUDB_LEAD_EXT

    for split, recs in (("train", ["24", "119"]), ("val", ["1"])):
        x, y, m = [], [], []
        for rec in recs:
            base = fixtures_dir / "ludb" / rec
            x.append(preprocess(read_wfdb(base)).signal.T)
            lm = [lead_masks(*read_annotation(f"{base}.{e}"), 5000) for e in LUDB_LEAD_EXT.values()]
            y.append(np.stack([a for a, _ in lm], axis=1))
            m.append(np.stack([b for _, b in lm], axis=1))
        d = tmp_path / split
        d.mkdir()
        np.save(d / "X_data.npy", np.stack(x))
        np.save(d / "Y_lead_data.npy", np.stack(y))
        np.save(d / "M_lead_data.npy", np.stack(m))
    return tmp_path


def test_device_augment_does_what_each_probability_says(ii_lead):
    pytest.importorskip("torch")
    from hearteye.train.train_delineator import TrainConfig, device_augment

    x = np.stack([ii_lead[:4096], -ii_lead[:4096]])[None].astype(np.float32)
    rng = np.random.default_rng(0)
    flipped = device_augment(x, rng, TrainConfig(p_invert=1.0))
    assert np.array_equal(flipped, -x)
    same = device_augment(x, rng, TrainConfig(p_resample=1.0, device_rates=(1000.0,)))
    assert np.abs(same - x)[..., 100:-100].max() < 1e-2 * np.ptp(x)
    noisy = device_augment(x, rng, TrainConfig(p_noise=1.0, snr_db=(6.0, 6.0)))
    assert degrade.measured_snr_db(x[0], noisy[0], FS) == pytest.approx([6.0, 6.0], abs=0.05)


def test_training_with_device_augmentation_selects_on_degraded_val(tmp_path, fixtures_dir):
    pytest.importorskip("torch")
    from hearteye.train.train_delineator import DEVICE_AUGMENT, TrainConfig, train

    cfg = TrainConfig(
        data=str(_prepared(tmp_path, fixtures_dir)),
        out=str(tmp_path / "m.onnx"),
        max_steps=3,
        eval_every=3,
        batch_windows=2,
        crop=1024,
        threads=1,
        **DEVICE_AUGMENT,
    )
    log = train(cfg)
    sets = log["history"][-1]["val_sets"]
    assert set(sets) == {"clean", "device", "device_II_V5"}
    two, twelve = (log["val"]["robust"][k]["qrs_onset"] for k in ("device_II_V5", "device"))
    assert 0 < two["tp"] + two["fn"] < twelve["tp"] + twelve["fn"]
    assert Delineator(tmp_path / "m.onnx").multiple == 64
