"""Preprocessing measured on sines and real LUDB records, not assumed from the filter design."""

from __future__ import annotations

import numpy as np
import pytest

from hearteye.io import read_wfdb
from hearteye.record import Record
from hearteye.signal import (
    PreprocessConfig,
    bandpass,
    filter_sos,
    filtfilt,
    notch,
    preprocess,
    rational_rate,
    resample,
    resample_ratio,
    resampled_length,
    windows,
    zscore,
)


def sine(freq: float, fs: float, seconds: float = 10.0, amp: float = 1.0, phase: float = 0.3):
    t = np.arange(int(round(seconds * fs))) / fs
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def gain_db(y: np.ndarray, x: np.ndarray, fs: float) -> float:
    """Steady-state gain: RMS ratio over the middle half (edges hold filter transients)."""
    n = x.shape[-1]
    mid = slice(n // 4, 3 * n // 4)
    return 20 * np.log10(np.sqrt(np.mean(y[mid] ** 2)) / np.sqrt(np.mean(x[mid] ** 2)))


def fit_sine(y: np.ndarray, fs: float) -> tuple[float, float]:
    """Frequency (Hz) and amplitude of the dominant sine, by a zero-padded FFT peak."""
    n = y.size
    w = np.hanning(n)
    spec = np.abs(np.fft.rfft(y * w, 64 * n))
    freqs = np.fft.rfftfreq(64 * n, 1 / fs)
    k = int(np.argmax(spec))
    return float(freqs[k]), float(2 * spec[k] / w.sum())


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_notch_attenuates_mains_by_at_least_30_db(mains):
    fs = 500.0
    x = sine(mains, fs)
    y = notch(x, fs, mains)
    assert gain_db(y, x, fs) <= -30.0


def test_full_chain_removes_50_hz_and_keeps_the_ecg_band():
    fs = 500.0
    config = PreprocessConfig(notch_hz=50.0, target_fs=None, zscore=False)
    sos = filter_sos(fs, config)
    assert gain_db(filtfilt(sos, sine(50.0, fs)), sine(50.0, fs), fs) <= -30.0
    # Pass band: the QRS/P/T energy lies in 2-40 Hz; ripple there stays within 0.5 dB.
    gains = [gain_db(filtfilt(sos, sine(f, fs)), sine(f, fs), fs) for f in (2, 5, 10, 20, 30, 40)]
    assert max(gains) - min(gains) < 0.5, gains
    assert min(gains) > -0.5, gains


def test_bandpass_removes_baseline_wander_and_clamps_high_edge_at_low_rates():
    fs = 500.0
    wander = sine(0.1, fs, seconds=60)
    assert gain_db(bandpass(wander, fs, 0.67, 150), wander, fs) < -30.0
    # 150 Hz upper edge cannot be designed at 250 Hz sampling (Nyquist 125): it is clamped.
    low_rate = sine(10.0, 250.0)
    y = bandpass(low_rate, 250.0, 0.67, 150.0)
    assert np.all(np.isfinite(y))
    assert abs(gain_db(y, low_rate, 250.0)) < 0.1


def test_zero_phase_filter_does_not_move_a_peak():
    fs = 500.0
    t = np.arange(5000) / fs
    pulse = np.exp(-(((t - 5.0) / 0.01) ** 2)).astype(np.float32)  # QRS-like 20 ms pulse
    y = bandpass(pulse, fs, 0.67, 150.0)
    assert int(np.argmax(y)) == int(np.argmax(pulse))


@pytest.mark.parametrize("fs_in", [250.0, 533.33, 1000.0, 360.0])
def test_resampling_keeps_frequency_and_amplitude_of_a_10_hz_sine(fs_in):
    x = sine(10.0, fs_in, seconds=10.0, amp=1.5)
    y, fs_out = resample(x, fs_in, 500.0)
    assert fs_out == pytest.approx(500.0, abs=1e-9)
    assert y.size == pytest.approx(5000, abs=2)
    freq, amp = fit_sine(y[200:-200], fs_out)
    assert freq == pytest.approx(10.0, abs=0.01)
    assert amp == pytest.approx(1.5, rel=0.01)


@pytest.mark.parametrize("fs_in", [250.0, 257.0, 360.0, 500.0, 533.33, 1000.0])
@pytest.mark.parametrize("n", [1, 999, 5000, 7561])
def test_resampled_length_is_what_preprocess_returns(fs_in, n):
    rec = Record(signal=np.ones((2, n), np.float32), fs=fs_in, leads=("I", "II"))
    assert resampled_length(n, fs_in, 500.0) == preprocess(rec).signal.shape[1]
    assert resampled_length(n, fs_in, None) == n


def test_rational_rates_read_two_decimal_headers_as_the_exact_rate():
    assert rational_rate(533.33) == pytest.approx(1600 / 3)
    assert resample_ratio(533.33, 500.0) == (15, 16)
    assert resample_ratio(250.0, 500.0) == (2, 1)
    assert resample_ratio(500.0, 500.0) == (1, 1)


def test_zscore_flags_flat_lead_instead_of_dividing_by_zero():
    x = np.stack([sine(5.0, 500.0), np.full(5000, 0.37, np.float32)])
    z, mean, std, flat = zscore(x)
    assert not np.isnan(z).any()
    assert flat.tolist() == [False, True]
    assert np.all(z[1] == 0.0)
    assert z[0].std() == pytest.approx(1.0, abs=1e-4)


def test_windows_are_non_overlapping_and_drop_the_tail():
    x = np.arange(3 * 12345, dtype=np.float32).reshape(3, 12345)
    w, starts = windows(x, fs=500.0, seconds=10.0)
    assert w.shape == (2, 3, 5000)
    assert starts.tolist() == [0, 5000]
    assert np.array_equal(w[1, 2], x[2, 5000:10000])
    short, s = windows(x[:, :4000], fs=500.0)
    assert short.shape[0] == 0 and s.size == 0


def test_preprocess_real_ludb_record(fixtures_dir):
    record = read_wfdb(fixtures_dir / "ludb" / "1.hea")
    out = preprocess(record)
    assert out.signal.shape == (12, 5000)
    assert out.signal.dtype == np.float32
    assert out.fs == 500.0
    assert not out.flat.any()
    np.testing.assert_allclose(out.signal.mean(axis=1), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.signal.std(axis=1), 1.0, atol=1e-3)
    # The dominant deflection (the QRS) is still where the cardiologists annotated it.
    import wfdb

    ann = wfdb.rdann(str(fixtures_dir / "ludb" / "1"), "ii")
    r_peaks = ann.sample[np.array(ann.symbol) == "N"]
    lead_ii = np.abs(out.signal[1])
    for r in r_peaks:
        local = r - 25 + int(np.argmax(lead_ii[r - 25 : r + 25]))
        assert abs(local - r) <= 10  # 20 ms: annotation resolution, not filter shift


def test_preprocess_resamples_and_tolerates_missing_samples(fixtures_dir):
    record = read_wfdb(fixtures_dir / "ludb" / "119.hea")
    half, fs_half = resample(record.signal, 500.0, 250.0)
    half[3, 100:140] = np.nan  # a dropout in lead aVR
    low = Record(signal=half, fs=fs_half, leads=record.leads)
    out = preprocess(low, PreprocessConfig(notch_hz=60.0))
    assert out.fs == 500.0
    assert out.signal.shape == (12, 5000)
    assert np.isfinite(out.signal).all()


def test_config_rejects_nonsense():
    with pytest.raises(ValueError):
        PreprocessConfig(notch_hz=55.0)
    with pytest.raises(ValueError):
        PreprocessConfig(low_hz=40.0, high_hz=10.0)
