"""Quality flags: each fault is injected into a real record and must be found; clean records
must come back clean."""

from __future__ import annotations

import numpy as np
import pytest

from hearteye.io import read_wfdb
from hearteye.quality import assess
from hearteye.record import Record


@pytest.fixture()
def record(fixtures_dir) -> Record:
    return read_wfdb(fixtures_dir / "ludb" / "119.hea")


def codes(flags, lead=None):
    return {f.code for f in flags if lead is None or f.lead == lead}


def test_clean_fixture_records_have_no_flags(fixtures_dir):
    for name in ("1", "24", "119"):
        assert assess(read_wfdb(fixtures_dir / "ludb" / f"{name}.hea")) == []


@pytest.mark.slow
def test_false_alarm_rate_on_all_of_ludb(ludb_dir):
    flagged = [p.stem for p in sorted(ludb_dir.glob("*.hea")) if assess(read_wfdb(p))]
    # Measured: LUDB has no disconnected leads; at most a couple of records may trip a flag.
    assert len(flagged) <= 2, flagged


def test_disconnected_lead_is_flagged(record):
    sig = record.signal.copy()
    sig[4] = 0.0
    flags = assess(record.with_signal(sig))
    assert codes(flags) == {"flat_lead"}
    assert [f.lead for f in flags] == ["aVL"]


def test_saturated_lead_is_flagged(record):
    sig = record.signal.copy()
    rail = np.percentile(sig[1], 99.0)  # clip lead II's R peaks at an amplifier rail
    sig[1] = np.minimum(sig[1], rail)
    flags = assess(record.with_signal(sig))
    assert codes(flags) == {"clipping"}
    assert flags[0].lead == "II"


def test_missing_samples_are_flagged(record):
    sig = record.signal.copy()
    sig[7, 1000:1100] = np.nan
    flags = assess(record.with_signal(sig))
    assert "non_finite" in codes(flags, "V2")
    assert "100 of 5000" in next(f.message for f in flags if f.code == "non_finite")


@pytest.mark.parametrize("filtered", [False, True])
def test_implausible_amplitude_is_flagged_and_a_dc_offset_is_not(record, filtered):
    from hearteye.signal import PreprocessConfig, preprocess

    def check(rec):
        pp = preprocess(rec, PreprocessConfig(target_fs=None, zscore=False))
        return assess(rec, filtered=(pp.signal, pp.fs) if filtered else None)

    sig = record.signal.copy()
    sig[2] *= 1000.0  # lead III's gain read per volt instead of per millivolt
    sig[5] += 300.0  # aVF with a 300 mV electrode offset: harmless once filtered
    flags = check(record.with_signal(sig))
    assert [(f.code, f.lead, f.severity) for f in flags] == [
        ("implausible_amplitude", "III", "error")
    ]
    assert check(record) == []


def test_too_short_record_is_an_error(record):
    short = record.with_signal(record.signal[:, :750])  # 1.5 s
    flags = assess(short)
    assert [f.code for f in flags] == ["too_short"]
    assert flags[0].severity == "error"


def test_mains_noise_left_by_a_wrong_notch_is_flagged(record):
    t = np.arange(record.n_samples) / record.fs
    hum = (0.3 * np.sin(2 * np.pi * 50.0 * t)).astype(np.float32)
    noisy = record.with_signal(record.signal + hum)
    assert codes(assess(noisy, notch_hz=60.0)) == {"mains_noise"}
    assert assess(noisy, notch_hz=50.0) == []  # the right notch removes it


def test_mains_check_reads_the_already_filtered_signal(record):
    """`analyze` hands over its filtered 500 Hz copy; the verdict must match the standalone
    check that filters the record itself."""
    from hearteye.signal import PreprocessConfig, preprocess

    t = np.arange(record.n_samples) / record.fs
    noisy = record.with_signal(
        record.signal + (0.3 * np.sin(2 * np.pi * 50.0 * t)).astype(np.float32)
    )
    for notch, expected in ((60.0, {"mains_noise"}), (50.0, set())):
        pp = preprocess(noisy, PreprocessConfig(notch_hz=notch, zscore=False))
        via_filtered = assess(noisy, notch_hz=notch, filtered=(pp.signal, pp.fs))
        assert codes(via_filtered) == expected
        assert codes(via_filtered) == codes(assess(noisy, notch_hz=notch))


def test_a_head_of_a_longer_recording_is_flagged_excerpt_first(record):
    """`assess` itself says when the record is the start of a longer recording; the flag
    comes first and names both lengths, and the whole record gets none."""
    head = record.head(4.0)
    flags = assess(head)
    assert flags[0].code == "excerpt" and flags[0].severity == "warning"
    assert "only its first 4 s" in flags[0].message
    assert "excerpt" not in codes(assess(record))


def test_uncalibrated_leads_are_flagged_and_their_voltages_marked(fixtures_dir, tmp_path):
    """A WFDB gain of 0 on V1 and V5: the quality step names both leads, and the measurements
    built on their amplitudes (Sokolow-Lyon) say why they are unreliable; those that do not
    read them (Cornell: aVL + V3; intervals) stay as they are."""
    from hearteye.analyze import analyze

    src = fixtures_dir / "ludb" / "1.hea"
    lines = src.read_text().splitlines()
    for i in (7, 11):  # signal lines of V1 and V5
        parts = lines[i].split()
        parts[2] = "0" + parts[2][parts[2].index("(") :]
        lines[i] = " ".join(parts)
    (tmp_path / "1.hea").write_text("\n".join(lines) + "\n")
    (tmp_path / "1.dat").write_bytes((src.parent / "1.dat").read_bytes())
    rec = read_wfdb(tmp_path / "1.hea")
    flags = [f for f in assess(rec) if f.code == "uncalibrated"]
    assert [f.lead for f in flags] == ["V1", "V5"]
    g = analyze(rec).measurements["global"]
    assert g["sokolow_lyon"]["unreliable"] == "uncalibrated amplitude in V1, V5"
    assert g["cornell"]["unreliable"] is None and g["qrs_duration"]["unreliable"] is None
    assert (
        g["qrs_duration"]["value"]
        == analyze(read_wfdb(src)).measurements["global"]["qrs_duration"]["value"]
    )


def test_a_long_lead_is_checked_in_blocks_as_a_whole_one(record):
    """A lead longer than one block (1 M samples: 35 min of real LUDB signal tiled) with
    missing samples and clipped runs, one across a block border: the block-wise checks find
    the whole lead's median, standard deviation and clipped runs, so the flags are those of
    the checks run on the lead at once (numpy, as for a 10 s record)."""
    from hearteye import quality

    x = np.tile(record.signal[1], 210)  # lead II, 1.05 M samples
    assert x.size > quality.BLOCK
    x[::997] = np.nan
    rail = np.float32(x[np.isfinite(x)].max() + 1.0)
    for start in (10, 50_000, quality.BLOCK - 2, 700_000, 900_000):
        x[start : start + 1200] = rail  # 0.6 % of the samples at the rail, in 5 runs
    finite = x[np.isfinite(x)]
    n = finite.size
    assert quality._median(x, n) == float(np.median(finite))
    assert abs(quality._std(x) - float(finite.std())) < 1e-6 * float(finite.std())
    at = np.concatenate(([False], finite == rail, [False]))
    edges = np.flatnonzero(np.diff(at.astype(np.int8)))
    runs = edges[1::2] - edges[::2]
    assert sorted(quality._extreme_runs(x, rail).tolist()) == sorted(runs[runs >= 3].tolist())
    flags = quality._lead_flags("II", x)
    assert [f.code for f in flags] == ["non_finite", "clipping"]
    assert f"{runs.sum() / n:.1%}" in flags[1].message
