"""A long record preprocessed, delineated and measured chunk by chunk gives the whole record's
result: on real signal (LUDB fixtures resampled to 250 Hz as a Holter; the PTB Diagnostic
long records at 1000 Hz when staged), each compared with the same record held whole."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from hearteye.analyze import measure_record
from hearteye.chunks import Chunking, SignalChunks
from hearteye.delineate.runtime import get_delineator
from hearteye.io import read_wfdb
from hearteye.quality import _filtered_levels
from hearteye.record import Record
from hearteye.signal import PreprocessConfig

HELD = Chunking(stream_above_s=math.inf)
STREAMED = Chunking(stream_above_s=0.0, chunk_s=60.0)
LUDB = ("1", "24", "119")


@pytest.fixture(scope="module")
def holter(fixtures_dir: Path) -> Record:
    """4 min of real signal at 250 Hz, leads II, V1 and V5 (three LUDB records in turn)."""
    recs = [read_wfdb(fixtures_dir / "ludb" / r) for r in LUDB]
    rows = [recs[0].leads.index(lead) for lead in ("II", "V1", "V5")]
    sig = np.concatenate([r.signal[rows] for r in recs] * 8, axis=1)
    x = resample_poly(sig, 1, 2, axis=1).astype(np.float32)
    return Record(signal=x, fs=250.0, leads=("II", "V1", "V5"))


@pytest.fixture(scope="module")
def ptb(shared_data: Path) -> Record:
    """PTB Diagnostic S0002: 115 s, 12 leads, 1000 Hz."""
    path = shared_data / "ptb-diagnostic-long" / "records" / "S0002.hea"
    if not path.is_file():
        pytest.skip(f"PTB Diagnostic long records not found at {path.parent}")
    return read_wfdb(path)


@pytest.mark.parametrize("name", ["holter", "ptb"])
def test_chunks_tile_the_record_with_its_whole_samples(request, name):
    """Own parts tile the output once; on them the chunks' display and z-scored copies are
    the whole record's to float rounding (measured: 3e-8 mV), and so are the moments."""
    rec = request.getfixturevalue(name)
    chunking = Chunking(stream_above_s=0.0, chunk_s=20.0 if name == "ptb" else 60.0)
    held, streamed = SignalChunks.of(rec, chunking=HELD), SignalChunks.of(rec, chunking=chunking)
    assert held.is_held and not streamed.is_held
    assert (streamed.n, streamed.fs) == (held.n, held.fs) and held.fs == 500.0
    chunks = list(streamed.chunks())
    assert len(chunks) >= 4
    owns = [(c.start + c.lo, c.start + c.hi) for c in chunks]
    assert owns[0][0] == 0 and owns[-1][1] == held.n
    assert all(a[1] == b[0] for a, b in zip(owns, owns[1:], strict=False))
    np.testing.assert_allclose(streamed.mean, held.mean, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(streamed.std, held.std, rtol=1e-6)
    assert (streamed.flat == held.flat).all()
    whole = next(held.chunks())
    for c in chunks:
        a, b = c.start + c.lo, c.start + c.hi
        assert np.abs(c.display[:, c.lo : c.hi] - whole.display[:, a:b]).max() < 1e-5  # mV
        assert np.abs(c.z[:, c.lo : c.hi] - whole.z[:, a:b]).max() < 1e-5
    assert np.abs(streamed.head(held.n) - whole.display).max() < 1e-5


def test_windows_come_back_in_order_from_any_chunk(holter):
    """`take`, `take_pair` and `reduce_rows` over chunks give the held record's windows,
    clipped at the record's edges, in the order asked."""
    held = SignalChunks.of(holter, chunking=HELD)
    streamed = SignalChunks.of(holter, chunking=STREAMED)
    rng = np.random.default_rng(0)
    centres = np.concatenate([[0, 3, held.n - 2], rng.integers(0, held.n, 300)])
    offsets = np.arange(-40, 61)
    np.testing.assert_allclose(
        streamed.take(centres, offsets), held.take(centres, offsets), atol=1e-5
    )
    for got, want in zip(
        streamed.take_pair(centres, offsets), held.take_pair(centres, offsets), strict=True
    ):
        np.testing.assert_allclose(got, want, atol=1e-5)

    def peak(block):  # [lead, row, offset] -> one value per row
        return block.max(axis=(0, 2))

    np.testing.assert_allclose(
        streamed.reduce_rows(centres, offsets, peak), peak(held.take(centres, offsets)), atol=1e-5
    )
    with pytest.raises(ValueError):  # a window longer than a chunk's margin
        streamed.take(np.array([held.n // 2]), np.arange(0, 100 * 500))


@pytest.mark.parametrize("name", ["holter", "ptb"])
def test_delineation_in_chunks_gives_the_whole_records_beats(request, name):
    """Each chunk's windows lie on the whole record's grid: every beat, global and per lead,
    with every point, is the one the whole record gives."""
    rec = request.getfixturevalue(name)
    chunking = Chunking(stream_above_s=0.0, chunk_s=30.0 if name == "ptb" else 60.0)
    d = get_delineator()
    whole = d.delineate_chunks(SignalChunks.of(rec, chunking=HELD), rec.fs)
    chunked = d.delineate_chunks(SignalChunks.of(rec, chunking=chunking), rec.fs)
    assert chunked.prob is None and chunked.record_fs == rec.fs
    assert len(whole.beats) > 100
    assert chunked.beats == whole.beats
    assert dict(chunked.leads) == dict(whole.leads)


@pytest.mark.parametrize("name", ["holter", "ptb"])
def test_a_record_measured_in_chunks_is_measured_as_whole(request, name):
    """Quality flags, beat types, pacing, measurements, median beats and statements of the
    streamed path equal the held path's (values to float rounding)."""
    rec = request.getfixturevalue(name)
    chunking = Chunking(stream_above_s=0.0, chunk_s=30.0 if name == "ptb" else 60.0)
    whole, chunked = measure_record(rec, chunking=HELD), measure_record(rec, chunking=chunking)
    assert chunked.delineation.beats == whole.delineation.beats
    assert chunked.beat_types == whole.beat_types and len(set(whole.beat_types)) >= 1
    assert chunked.quality == whole.quality
    assert chunked.pacing == whole.pacing
    for key, m in whole.measurements["global"].items():
        got = chunked.measurements["global"][key]
        assert (math.isnan(m.value) and math.isnan(got.value)) or math.isclose(
            got.value, m.value, rel_tol=1e-6, abs_tol=1e-6
        ), key
        assert got.flag == m.flag
    for lead, waves in whole.measurements["leads"].items():
        np.testing.assert_allclose(
            list(chunked.measurements["leads"][lead].values()), list(waves.values()), atol=1e-5
        )
    assert whole.median is not None
    for key in ("fs", "fiducial_s", "n_beats", "beat", "intervals"):
        assert chunked.median[key] == whole.median[key], key
    for lead, sig in whole.median["signals"].items():
        np.testing.assert_allclose(chunked.median["signals"][lead], sig, atol=2e-4)  # 4 decimals
    np.testing.assert_allclose(chunked.display, whole.display, atol=1e-5)
    got, want = chunked.statements(), whole.statements()
    assert [s["code"] for s in got[0]] == [s["code"] for s in want[0]]
    assert got[1]["overall"] == want[1]["overall"]


def test_amplitude_and_mains_levels_read_in_chunks(holter):
    """The quality step's 99.9th percentile of |x| is the same order statistic, and the mains
    check's Welch spectrum the same mean of the same segments, over chunks as over the
    whole display copy (50 Hz mains added, so the spectrum has something to find)."""
    t = np.arange(holter.n_samples) / holter.fs
    noisy = holter.with_signal(holter.signal + (0.2 * np.sin(2 * np.pi * 50 * t)).astype("f4"))
    cfg = PreprocessConfig(notch_hz=None)
    held, streamed = SignalChunks.of(noisy, cfg, HELD), SignalChunks.of(noisy, cfg, STREAMED)
    level_h, (freqs_h, psd_h) = _filtered_levels(held)
    level_s, (freqs_s, psd_s) = _filtered_levels(streamed)
    np.testing.assert_allclose(level_s, level_h, rtol=1e-5)
    np.testing.assert_array_equal(freqs_s, freqs_h)
    np.testing.assert_allclose(psd_s, psd_h, rtol=1e-4, atol=1e-12)
    at_50 = np.argmin(np.abs(freqs_h - 50.0))
    assert (psd_h[:, at_50] > 100 * np.median(psd_h, axis=1)).all()
