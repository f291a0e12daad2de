"""Pacemaker spikes on real paced PTB-XL records (500 Hz, spikes kept by the cart), none on
real unpaced ones, and what the sampling rate allows (spikes injected into a real record)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import decimate, resample_poly

from hearteye.analyze import analyze
from hearteye.delineate.pacing import MIN_FS, detect_pacing, spike_times
from hearteye.delineate.runtime import get_delineator
from hearteye.io import read_record, read_wfdb
from hearteye.record import Record

LUDB_1 = Path(__file__).parent / "fixtures" / "ludb" / "1"
PACED = ("00144", "00190", "00385", "00498")  # PTB-XL scp_codes {'PACE': 100}


@pytest.fixture(scope="module")
def ptbxl(shared_data):
    path = shared_data / "ptbxl" / "records500" / "00000"
    if not path.is_dir():
        pytest.skip(f"PTB-XL 500 Hz records not found at {path}")
    return path


@pytest.mark.parametrize("name", PACED)
def test_paced_records_show_spikes_that_capture_the_ventricles(ptbxl, name):
    rec = read_wfdb(ptbxl / f"{name}_hr")
    d = get_delineator().delineate(rec)
    pacing = detect_pacing(rec.signal, rec.fs, d.beats, d.fs)
    assert pacing.assessed and len(pacing.spikes) >= 8
    ventricular = [s for s in pacing.spikes if s.capture == "ventricular"]
    assert len(ventricular) >= 3
    gaps = np.diff([s.time_s for s in pacing.spikes])
    assert np.median(gaps) > 0.6  # one stimulus per beat, not a burst of noise


def test_paced_beats_are_typed_and_not_measured_as_native(ptbxl):
    a = analyze(read_record(ptbxl / "00144_hr.hea"))
    types = [b["type"] for b in a.beats if b["qrs_onset"] is not None]
    assert types.count("paced") >= 8
    assert a.pacing["assessed"] and len(a.pacing["spikes"]) >= 8
    native = [b for b in a.beats if b["type"] not in (None, "paced")]
    qrs = a.measurements["global"]["qrs_duration"]["value"]
    if not native:
        assert qrs is None
    else:  # measured on the native beats alone
        widths = [1000 * (b["qrs_offset"] - b["qrs_onset"]) for b in native]
        assert abs(qrs - float(np.median(widths))) < 1.0


def test_unpaced_real_records_have_no_spikes(fixtures_dir):
    for rec in ("1", "24", "119"):
        r = read_wfdb(fixtures_dir / "ludb" / rec)
        assert spike_times(r.signal, r.fs)[0].size == 0


def _with_spikes(fs_high: int, width_s: float, amp_mv: float):
    """LUDB record 1 at ``fs_high`` Hz with a rectangular stimulus of ``width_s`` in every
    lead 20 ms before each annotated QRS onset of lead II (lead-dependent sign and size)."""
    from hearteye.data.annotations import read_annotation

    base = read_wfdb(LUDB_1)
    up = fs_high // 500
    x = resample_poly(base.signal.astype(np.float64), up, 1, axis=1)
    samples, symbols = read_annotation(f"{LUDB_1}.ii")
    onsets = [s for s, nxt in zip(samples[:-1], symbols[1:], strict=True) if nxt == "N"]
    gains = np.linspace(0.6, 1.0, x.shape[0]) * np.where(np.arange(x.shape[0]) % 3, 1, -1)
    w = max(1, int(round(width_s * fs_high)))
    times = []
    for on in onsets:
        i = int(on * up - 0.020 * fs_high)
        x[:, i : i + w] += amp_mv * gains[:, None]
        times.append(i / fs_high)
    return x, times


def test_injected_spikes_need_the_rate_to_see_them():
    """0.5 ms, 4 mV stimuli: found at 2 kHz; after a cart's anti-alias decimation to 500 Hz
    still found (spread over ~2 samples, ~1 mV); below 500 Hz not assessed."""
    x, times = _with_spikes(2000, 0.0005, 4.0)
    idx, _ = spike_times(x, 2000.0)
    assert len(idx) == len(times)
    assert np.abs(idx / 2000.0 - np.asarray(times)).max() < 0.002
    x500 = decimate(x, 4, axis=1, ftype="fir")
    idx, amp = spike_times(x500, 500.0)
    assert len(idx) == len(times) and amp.max() < 4.0
    x250 = decimate(x500, 2, axis=1, ftype="fir")
    rec = Record(signal=x250.astype(np.float32), fs=250.0, leads=tuple(f"L{i}" for i in range(12)))
    p = detect_pacing(rec.signal, rec.fs, [], 500.0)
    assert not p.assessed and p.reason and str(int(MIN_FS)) in p.reason


@pytest.mark.parametrize("name", ("72", "95", "104"))
def test_small_spikes_of_a_paced_train_are_found(ludb_dir, name):
    """LUDB paced records whose spikes stay under MIN_MV (0.25-0.33 mV at the fourth lead):
    a train of capturing spikes, and the paced-rhythm statement."""
    a = analyze(read_record(ludb_dir / f"{name}.hea"))
    spikes = a.pacing["spikes"]
    qrs = [b for b in a.beats if b["qrs_onset"] is not None]
    assert len(spikes) >= len(qrs) // 2
    assert all(s["capture"] != "none" for s in spikes)
    assert max(s["amplitude_mv"] for s in spikes) < 0.6
    assert "PACE" in {s["code"] for s in a.statements}


def test_small_residues_of_unpaced_records_are_not_spikes(fixtures_dir, ludb_dir):
    """Sharp R peaks and notches leave residues of up to ~0.27 mV in four leads (LUDB 164,
    198); alone, or not in a train, they are not spikes."""
    for base in (fixtures_dir / "ludb" / "1", ludb_dir / "164", ludb_dir / "198"):
        rec = read_wfdb(base)
        d = get_delineator().delineate(rec)
        assert spike_times(rec.signal, rec.fs, min_mv=0.15)[0].size > 0 or base.name == "1"
        assert detect_pacing(rec.signal, rec.fs, d.beats, d.fs).spikes == ()


def test_spikes_of_a_long_record_are_found_block_by_block():
    """A record longer than one block (10 min: a real LUDB record tiled, with a stimulus
    every 0.8 s in all leads): the block-wise detector finds exactly the spikes, at the
    same samples and amplitudes, that the running median over the whole record gives."""
    from scipy.ndimage import median_filter

    from hearteye.delineate import pacing

    rec = read_wfdb(LUDB_1)
    x = np.tile(rec.signal, (1, 60))
    assert x.shape[1] > pacing.BLOCK
    x[:, ::400] += 1.5  # a 2 ms pulse every 0.8 s, seen by every lead
    idx, amp = spike_times(x, rec.fs)
    size = max(3, int(round(pacing.MEDIAN_S * rec.fs)) | 1)
    res = np.abs(x - median_filter(x, size=(1, size), mode="nearest"))
    kth = np.partition(res, x.shape[0] - pacing.AGREEING, axis=0)[x.shape[0] - pacing.AGREEING]
    at = np.flatnonzero(kth >= pacing.MIN_MV)
    groups = np.split(at, np.flatnonzero(np.diff(at) > round(pacing.REFRACTORY_S * rec.fs)) + 1)
    peaks = np.array([g[np.argmax(kth[g])] for g in groups])
    assert idx.size >= 0.95 * len(range(0, x.shape[1], 400))
    np.testing.assert_array_equal(idx, peaks)
    np.testing.assert_array_equal(amp, res.max(axis=0)[peaks].astype(np.float64))
