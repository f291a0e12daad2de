"""The end-to-end core on real records with the shipped models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from hearteye.analyze import analyze
from hearteye.cli import main
from hearteye.delineate.postprocess import FIELDS, POINTS
from hearteye.errors import InvalidRecordError
from hearteye.io import read_record
from hearteye.record import Record


@pytest.fixture(scope="module")
def lbbb(fixtures_dir):
    return read_record(fixtures_dir / "ludb" / "24.hea")


def test_lbbb_record_is_abnormal_for_the_right_reasons(lbbb):
    a = analyze(lbbb)
    assert a.classification == "abnormal"
    assert a.probability_abnormal > 0.5
    g = a.measurements["global"]
    assert g["qrs_duration"]["value"] > 120 and g["qrs_duration"]["flag"] == "high"
    assert any(r["feature"] == "qrs_duration" for r in a.reasons)
    # 19 lead-II waves in 10 s at ~50 bpm: every QRS found, none invented.
    assert sum(b["qrs_onset"] is not None for b in a.beats) in (8, 9)


def test_both_models_are_selectable_and_explain_themselves(lbbb):
    xgb = analyze(lbbb, model="xgboost")
    forest = analyze(lbbb, model="random_forest")
    assert xgb.model.startswith("xgboost") and forest.model.startswith("random_forest")
    assert any(r["effect"] is not None for r in xgb.reasons)  # TreeSHAP contributions
    assert 0.0 <= forest.probability_abnormal <= 1.0


def test_output_is_strict_json(fixtures_dir):
    a = analyze(read_record(fixtures_dir / "edf" / "ludb_119.edf"))
    text = json.dumps(a.to_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["classification"] in ("normal", "abnormal")
    assert set(back["beats"][0]) == set(FIELDS) | set(POINTS) | {"type"}
    assert back["measurements"]["global"]["heart_rate"]["unit"] == "bpm"


@pytest.mark.parametrize("leads", [("II",), ("I", "II", "V1")])
def test_fewer_leads_still_analyse(fixtures_dir, leads):
    full = read_record(fixtures_dir / "ludb" / "119.hea")
    idx = [full.leads.index(name) for name in leads]
    part = Record(signal=full.signal[idx], fs=full.fs, leads=leads, meta=full.meta)
    a = analyze(part)
    assert a.leads == leads
    hr = a.measurements["global"]["heart_rate"]["value"]
    assert hr == pytest.approx(analyze(full).measurements["global"]["heart_rate"]["value"], abs=3)


def test_long_low_rate_record(fixtures_dir):
    """A 60 s record at 250 Hz: resampled, delineated window by window."""
    from hearteye.signal import resample

    base = read_record(fixtures_dir / "ludb" / "119.hea")
    sig, fs = resample(np.tile(base.signal, 6), 500.0, 250.0)
    a = analyze(Record(signal=sig, fs=fs, leads=base.leads, meta=base.meta))
    assert a.fs == 500.0
    n_qrs = sum(b["qrs_onset"] is not None for b in a.beats)
    per_10s = sum(b["qrs_onset"] is not None for b in analyze(base).beats)
    assert abs(n_qrs - 6 * per_10s) <= 6  # the tile seams may add or drop a beat each


def test_max_seconds_analyses_the_start_of_a_long_record_and_says_so(fixtures_dir):
    base = read_record(fixtures_dir / "ludb" / "119.hea")
    long = base.with_signal(np.tile(base.signal, 6))  # 60 s
    a = analyze(long, max_seconds=20)
    head = analyze(long.head(20))
    assert a.record["recording_duration_s"] == 60 and a.record["duration_s"] == 20
    assert a.analysed_seconds == 20 and long.head(20).recording_duration == 60
    assert a.signal.shape[1] == 20 * 500 and a.measurements == head.measurements
    assert a.beats == head.beats and max(b["qrs_offset"] or 0 for b in a.beats) < 20
    assert a.quality[0] == {
        "code": "excerpt",
        "severity": "warning",
        "lead": None,
        "message": "the recording lasts 1 min 00 s; only its first 20 s were analysed, and "
        "every measurement describes that stretch",
    }
    assert a.quality == head.quality  # the head remembers the whole length too
    whole = analyze(long, max_seconds=60)  # not longer than the bound: analysed whole
    assert whole.analysed_seconds == 60 and all(f["code"] != "excerpt" for f in whole.quality)
    assert a.to_dict()["analysed_seconds"] == 20


def test_a_header_with_a_wrong_gain_is_flagged_not_trusted(fixtures_dir, tmp_path):
    import re
    import shutil

    text = (fixtures_dir / "ludb" / "1.hea").read_text()
    # Every lead's gain divided by 10,000 (as if given per 10 V): amplitudes x10,000.
    (tmp_path / "1.hea").write_text(
        re.sub(r"16 (\d+)\(", lambda m: f"16 {int(m.group(1)) / 10000:g}(", text)
    )
    shutil.copy(fixtures_dir / "ludb" / "1.dat", tmp_path / "1.dat")
    a = analyze(read_record(tmp_path / "1.hea"))
    flagged = {f["lead"] for f in a.quality if f["code"] == "implausible_amplitude"}
    assert flagged == set(a.leads)
    assert not [
        f
        for f in analyze(read_record(fixtures_dir / "ludb" / "1.hea")).quality
        if f["code"] == "implausible_amplitude"
    ]


def test_too_short_record_is_a_typed_error(fixtures_dir):
    rec = read_record(fixtures_dir / "ludb" / "1.hea")
    with pytest.raises(InvalidRecordError) as err:
        analyze(rec.with_signal(rec.signal[:, :750]))
    assert err.value.code == "record_too_short"


def test_cli_analyze_json(fixtures_dir):
    result = CliRunner().invoke(main, ["analyze", str(fixtures_dir / "ludb" / "24.hea"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["classification"] == "abnormal"


def test_cli_analyze_reads_only_what_it_analyses(fixtures_dir):
    result = CliRunner().invoke(
        main, ["analyze", str(fixtures_dir / "ludb" / "24.hea"), "--json", "--max-seconds", "6"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["analysed_seconds"] == 6 and out["record"]["duration_s"] == 6
    assert out["record"]["recording_duration_s"] == 10
    assert out["quality"][0]["code"] == "excerpt"


@pytest.mark.parametrize("name", ["1", "24", "119"])
def test_global_intervals_agree_with_the_cardiologists(fixtures_dir, name):
    """Model intervals vs the same measurement on LUDB's annotated boundaries (global
    convention). Tolerance per record: 2.5x the IEC 60601-2-25 population tolerance."""
    from hearteye.analyze import measure_record
    from hearteye.data.ludb import reference_beats
    from hearteye.features import measure

    base = fixtures_dir / "ludb" / name
    record = read_record(f"{base}.hea")
    m = measure_record(record)
    ref = measure(m.display, m.fs, record.leads, reference_beats(base), record.meta.sex)
    for interval, tol in (("pr_interval", 25), ("qrs_duration", 25), ("qt_interval", 60)):
        a, b = m.measurements["global"][interval].value, ref["global"][interval].value
        if np.isnan(b):
            continue
        assert abs(a - b) <= tol, (interval, a, b)


def test_cli_analyze_prints_the_interpretation_a_reader_sees_first(fixtures_dir):
    """The text output leads with the verdict, then the overall line and each statement with
    its severity and code, exactly as the analysis gives them."""
    path = fixtures_dir / "ludb" / "24.hea"
    text = CliRunner().invoke(main, ["analyze", str(path)])
    assert text.exit_code == 0, text.output
    a = analyze(read_record(path))
    lines = text.output.splitlines()
    assert lines[0].startswith(a.classification.upper())
    assert lines[1] == a.interpretation["overall"]
    for s in a.statements:
        assert f"  [{s['severity']}] {s['text']} ({s['code']})" in lines


def test_a_record_over_300_s_is_measured_whole_and_listed_for_its_first_300_s(fixtures_dir):
    """A 320 s record at 250 Hz (real LUDB signal tiled) is analysed whole, in chunks: the
    measurements count every beat, while the display copy and the beat lists (what a
    Holter's summary would hold ~100,000 of per lead) stop at 300 s, and say so."""
    from hearteye.analyze import LISTED_MAX_S, Analysis
    from hearteye.signal import resample

    base = read_record(fixtures_dir / "ludb" / "1.hea")
    rows = [base.leads.index("II"), base.leads.index("V1")]
    sig, fs = resample(np.tile(base.signal[rows], 32), 500.0, 250.0)
    a = analyze(Record(signal=sig, fs=fs, leads=("II", "V1"), meta=base.meta))
    assert a.analysed_seconds == 320 and a.listed_seconds == LISTED_MAX_S == 300
    assert a.signal.shape == (2, 300 * 500)
    anchor = [b["qrs_onset"] if b["qrs_onset"] is not None else b["p_onset"] for b in a.beats]
    assert max(anchor) < 300 < max(anchor) + 2
    for lead in ("II", "V1"):
        assert max(b["qrs_onset"] or b["p_onset"] for b in a.lead_beats[lead]) < 300
    qrs_listed = sum(b["qrs_onset"] is not None for b in a.beats)
    assert a.measurements["global"]["beat_count"]["value"] > qrs_listed + 5  # 20 s more
    assert all(f["code"] != "excerpt" for f in a.quality)
    again = Analysis.from_dict(json.loads(json.dumps(a.to_dict())), a.signal)
    assert again.listed_seconds == 300
    assert analyze(base).listed_seconds == 10  # a resting ECG lists all of itself
