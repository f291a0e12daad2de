"""Statements, the overall line and the verdict rule, on real records."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from hearteye.analyze import analyze, measure_record
from hearteye.interpret import rules
from hearteye.interpret.catalogue import CATALOGUE, P_WAVE_CODES, SEVERITIES, by_snomed
from hearteye.interpret.engine import interpret, overall, statement
from hearteye.interpret.evidence import gather
from hearteye.interpret.verdict import reconcile
from hearteye.io import read_record


def codes(analysis) -> set[str]:
    return {s["code"] for s in analysis.statements}


def challenge(shared_data, name):
    path = shared_data / "cinc-challenge-samples" / "records" / f"{name}.hea"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    return read_record(path)


# --- the catalogue ---------------------------------------------------------------------------


def test_catalogue_covers_the_challenge_scored_classes(shared_data):
    mapping = shared_data / "cinc-challenge-samples" / "dx_mapping_scored.csv"
    if not mapping.is_file():
        pytest.skip("dx_mapping_scored.csv not available")
    import csv

    known = by_snomed()
    with open(mapping, newline="") as fh:
        scored = {row["SNOMEDCTCode"]: row["Abbreviation"] for row in csv.DictReader(fh)}
    # BBB (6374002) is coded as LBBB or RBBB, never as a bare "bundle branch block"
    missing = {abbr for sid, abbr in scored.items() if sid not in known and abbr != "BBB"}
    assert not missing


def test_every_entry_is_well_formed():
    for e in CATALOGUE.values():
        assert e.severity in SEVERITIES
        assert e.text[0].isupper()
        assert e.snomed is None or e.snomed.isdigit()


# --- rules on real measurements ----------------------------------------------------------------


def test_stemi_thresholds_follow_the_fourth_universal_definition():
    assert rules.stemi_threshold("II", "M", 60) == 0.1
    assert rules.stemi_threshold("V2", "M", 60) == 0.2
    assert rules.stemi_threshold("V2", "M", 35) == 0.25
    assert rules.stemi_threshold("V3", "F", 35) == 0.15


def _evidence(record):
    m = measure_record(record)
    return gather(m.display, m.fs, record.leads, m.delineation.beats, m.measurements)


def test_rbbb_record_has_the_rbbb_shape_and_a_wide_qrs(fixtures_dir):
    # CPSC 2018 A0001: coded RBBB by its cardiologists
    ev = _evidence(read_record(fixtures_dir / "cinc" / "A0001.hea"))
    assert rules.bbb_pattern(ev) == "R"
    assert ev.g("qrs_duration") >= 120
    found = {f.code for f in rules.conduction(ev)}
    assert "CRBBB" in found and "CLBBB" not in found


def test_sinus_record_rules_find_sinus_rhythm_and_no_af(fixtures_dir):
    ev = _evidence(read_record(fixtures_dir / "ludb" / "1.hea"))  # LUDB 1: sinus bradycardia
    found = {f.code for f in rules.rhythm(ev)}
    assert not rules.is_af(ev)
    assert "SBRAD" in found
    evidence = next(f.evidence for f in rules.rhythm(ev) if f.code == "SBRAD")
    assert evidence["heart_rate_bpm"] < 60
    assert evidence["thresholds"]["heart_rate_below"] == 60


# --- whole records ------------------------------------------------------------------------------


def test_af_record_says_af_and_no_p_wave_statement(shared_data):
    a = analyze(challenge(shared_data, "A0003"))  # CPSC 2018: atrial fibrillation
    assert "AFIB" in codes(a)
    assert not codes(a) & P_WAVE_CODES
    assert a.interpretation["overall"] == "Abnormal ECG"
    assert a.classification == "abnormal"


def test_lbbb_record_says_lbbb_and_not_rbbb(shared_data):
    # PTB-XL ECG 545, fold 9 (validation: no model was trained on it), coded CLBBB
    path = shared_data / "ptbxl" / "records100" / "00000" / "00545_lr.hea"
    if not path.is_file():
        pytest.skip("PTB-XL subset not available")
    a = analyze(read_record(path))
    assert "CLBBB" in codes(a)
    assert "CRBBB" not in codes(a)
    assert a.classification == "abnormal"


def test_lbbb_from_another_hospital(fixtures_dir):
    # LUDB 24 (complete LBBB, 500 Hz, another country and cart than PTB-XL): the learned LBBB
    # statement gives it p < 0.05 (PTB-XL's LBBBs have twice its precordial voltage); the
    # Strauss criterion made beside it ("either") finds it.
    a = analyze(read_record(fixtures_dir / "ludb" / "24.hea"))
    lbbb = next(s for s in a.statements if s["code"] == "CLBBB")
    assert "CRBBB" not in codes(a)
    assert lbbb["evidence"]["qrs_ms"] >= rules.QRS_LBBB_MS["F"]


@pytest.mark.parametrize("record", ["ludb/data/103", "cinc-challenge-samples/records/Q0096"])
def test_flutter_record_says_flutter_and_not_af(shared_data, record):
    # Both coded atrial flutter by their cardiologists; neither trained nor chose anything.
    path = shared_data / f"{record}.hea"
    if not path.is_file():
        pytest.skip(f"{record} not staged")
    a = analyze(read_record(path))
    flutter = next(s for s in a.statements if s["code"] == "AFLT")
    assert "AFIB" not in codes(a) and not codes(a) & P_WAVE_CODES
    assert 228 <= flutter["evidence"]["atrial_rate_per_min"] <= 390
    assert flutter["evidence"]["atrial_concentration"] >= rules.FLUTTER_CONCENTRATION
    assert a.interpretation["overall"] == "Abnormal ECG"


def test_sinus_bradycardia_by_its_definition(shared_data):
    # Challenge JS00004 (Chapman-Shaoxing), coded sinus bradycardia; PTB-XL's labels would
    # have taught a model its own < 50 bpm habit, the rule says < 60.
    path = shared_data / "cinc-challenge-samples" / "records" / "JS00004.hea"
    if not path.is_file():
        pytest.skip("Challenge samples not staged")
    a = analyze(read_record(path))
    brady = next(s for s in a.statements if s["code"] == "SBRAD")
    assert brady["method"] == "rule"
    assert 40 <= brady["evidence"]["heart_rate_bpm"] < 60


def test_rbbb_fixture_says_rbbb_and_not_lbbb(fixtures_dir):
    a = analyze(read_record(fixtures_dir / "cinc" / "A0001.hea"))
    assert "CRBBB" in codes(a)
    assert "CLBBB" not in codes(a)


def test_flat_lead_yields_a_technical_statement_and_is_left_out(fixtures_dir):
    record = read_record(fixtures_dir / "ludb" / "1.hea")
    signal = record.signal.copy()
    v3 = record.leads.index("V3")
    signal[v3] = 0.0
    a = analyze(replace(record, signal=signal))
    flat = [s for s in a.statements if s["code"] == "FLAT"]
    assert flat and flat[0]["category"] == "technical"
    assert flat[0]["leads"] == ["V3"]
    assert not any("V3" in s["leads"] for s in a.statements if s["code"] != "FLAT")
    assert a.interpretation["technical"]


def test_statements_carry_evidence_and_serialise(fixtures_dir):
    a = analyze(read_record(fixtures_dir / "cinc" / "A0001.hea"))
    text = json.dumps(a.to_dict(), allow_nan=False)
    out = json.loads(text)
    assert out["interpretation"]["overall"] in (
        "Normal ECG",
        "Otherwise normal ECG",
        "Borderline ECG",
        "Abnormal ECG",
    )
    for s in out["statements"]:
        assert set(s) >= {"code", "snomed", "text", "category", "severity", "evidence"}
        assert s["evidence"]
        if s["method"] == "model":
            assert 0 <= s["evidence"]["probability"] <= 1


# --- the verdict rule --------------------------------------------------------------------------


MEAS = {"global": {}}


def test_abnormal_statement_forces_abnormal_whatever_the_probability():
    s = [statement("SR", "rule", {"x": 1}), statement("CLBBB", "rule", {"x": 1})]
    label, source, out, interp = reconcile(0.01, 0.5, [], s, MEAS)
    assert (label, source) == ("abnormal", "statements")
    assert interp["overall"] == "Abnormal ECG"


def test_model_alone_makes_it_borderline_never_normal():
    s = [statement("SR", "rule", {"x": 1})]
    label, source, out, interp = reconcile(0.9, 0.5, [{"feature": "qrs_duration"}], s, MEAS)
    assert (label, source) == ("abnormal", "model")
    assert "ABNMODEL" in {x["code"] for x in out}
    assert interp["overall"] == "Borderline ECG"


def test_normal_verdict_only_without_abnormal_statements():
    s = [statement("SBRAD", "rule", {"x": 1})]
    label, source, _out, interp = reconcile(0.1, 0.5, [], s, MEAS)
    assert (label, source) == ("normal", "none")
    assert interp["overall"] == "Otherwise normal ECG"
    label, *_ = reconcile(0.1, 0.5, [], s + [statement("FLAT", "rule", {"x": 1})], MEAS)
    assert label == "normal"  # a technical statement is no finding


@pytest.mark.parametrize("name", ["A0001", "E00001"])
def test_verdict_and_overall_line_agree_on_real_records(fixtures_dir, name):
    a = analyze(read_record(fixtures_dir / "cinc" / f"{name}.hea"))
    line = a.interpretation["overall"]
    if line == "Abnormal ECG":
        assert a.classification == "abnormal"
    if a.classification == "abnormal":
        assert line in ("Borderline ECG", "Abnormal ECG")
    else:
        assert not any(s["severity"] in ("abnormal", "critical") for s in a.statements)


def test_critical_alerts_from_measurements():
    class M:
        def __init__(self, v):
            self.value = v

    interp = overall([], {"global": {"heart_rate": M(170.0), "qtc_framingham": M(520.0)}})
    assert {a["code"] for a in interp["alerts"]} == {"HR_HIGH", "QTC_LONG"}
    assert interp["severity"] == "critical"
    # Bazett's QTc over-corrects at fast rates; the alert does not read it.
    interp = overall([], {"global": {"qtc_bazett": M(520.0), "qtc_framingham": M(470.0)}})
    assert interp["alerts"] == []


@pytest.mark.parametrize(
    ("record", "prolonged"),
    [
        ("records500/00000/00039_hr", True),  # PTB-XL LNGQT, 88 bpm, QT 484 ms
        ("records500/00000/00391_hr", False),  # PTB-XL NORM, 99 bpm, QT 377 ms
    ],
)
def test_prolonged_qt_by_a_rate_correction_that_holds_at_fast_rates(shared_data, record, prolonged):
    """PTB-XL's normal ECG 00391 at 99 bpm has a Bazett QTc of 483 ms, over the 480 ms limit,
    from a QT of 377 ms; its Framingham QTc is 437. ECG 00039, coded prolonged QT, is over the
    limit by either. The QT rule reads Framingham's, and says so in its evidence."""
    a = analyze(read_record(shared_data / "ptbxl" / f"{record}.hea"))
    glob = a.measurements["global"]
    assert glob["qtc_bazett"]["value"] >= 480
    found = [s for s in a.statements if s["code"] == "LNGQT"]
    assert bool(found) is prolonged
    if prolonged:
        assert found[0]["evidence"]["qtc_framingham_ms"] >= 480
    else:
        assert glob["qtc_framingham"]["value"] < 470


def test_interpret_without_models_uses_rules_only(fixtures_dir):
    record = read_record(fixtures_dir / "cinc" / "A0001.hea")
    m = measure_record(record)
    statements, _ = interpret(
        m.display,
        m.fs,
        record.leads,
        m.delineation.beats,
        m.measurements,
        [f.to_dict() for f in m.quality],
        record.meta.age,
        record.meta.sex,
        models=False,
    )
    assert statements and all(s["method"] == "rule" for s in statements)
    assert np.isfinite([s["evidence"].get("qrs_ms", 0) or 0 for s in statements]).all()


# --- learned models: the numpy evaluator equals XGBoost -------------------------------------


def test_numpy_tree_evaluation_equals_xgboost(fixtures_dir):
    import xgboost as xgb

    from hearteye.interpret.engine import evidence_features, get_statement_models

    sm = get_statement_models()
    if sm is None or not sm.boosters:
        pytest.skip("no learned statement models shipped")
    rows = []
    for name in ("cinc/A0001", "cinc/E00001", "ludb/1", "ludb/24", "ludb/119"):
        m = measure_record(read_record(fixtures_dir / f"{name}.hea"))
        ev = gather(m.display, m.fs, m.record.leads, m.delineation.beats, m.measurements)
        rows.append(np.concatenate([m.features(), evidence_features(ev)]))
    x = np.asarray(rows, np.float32)
    dm = xgb.DMatrix(x, missing=np.nan)
    for code, booster in sm.boosters.items():
        ref = booster.predict(dm, validate_features=False)
        mine = [sm.ensembles.predict(r)[code] for r in x]
        np.testing.assert_allclose(mine, ref, atol=1e-5)


# --- reference labels ---------------------------------------------------------------------


def test_source_labels_map_to_catalogue_codes():
    from hearteye.train.statement_labels import codes_for

    assert codes_for("ptbxl", "{'IMI': 15.0; 'LPR': 100.0; 'SR': 0.0}") == {
        "IMI",
        "MI",
        "1AVB",
        "SR",
    }
    # Challenge: LBBB's two scored ids are one statement; old MI counts as MI
    assert codes_for("challenge", "733534002;164867002") == {"CLBBB", "MI"}
    ludb = codes_for("ludb", "Sinus rhythm|Incomplete right bundle branch block")
    assert ludb == {"SR", "IRBBB"}  # "Complete ..." must not match "Incomplete ..."
    assert codes_for("ludb", "Electric axis of the heart: left axis deviation") == {"LAD"}
    # The Challenge's "T wave abnormal" and PTB-XL's nonspecific T statements: one statement
    assert codes_for("challenge", "164934002") == {"NDT"}
    for scp in ("NDT", "NT_", "LOWT", "TAB_"):
        assert codes_for("ptbxl", f"{{'{scp}': 100.0}}") == {"NDT"}
    assert CATALOGUE["NDT"].snomed == "164934002"


@pytest.mark.parametrize("ecg", ["00144", "00190", "00385", "00498"])
def test_paced_records_say_paced_and_nothing_the_paced_complex_fakes(shared_data, ecg):
    """PTB-XL's four paced ECGs at 500 Hz (PACE in their SCP codes): the spikes found on the
    unfiltered record make the paced-rhythm statement, with its evidence, and the statements
    a paced QRS would fake (bundle branch block, first-degree block, infarct, ST) are not
    made."""
    from hearteye.interpret.engine import PACED_CONFOUNDED

    rec = read_record(shared_data / "ptbxl" / "records500" / "00000" / f"{ecg}_hr.hea")
    a = analyze(rec)
    pace = [s for s in a.statements if s["code"] == "PACE"]
    assert len(pace) == 1 and pace[0]["method"] == "rule"
    assert pace[0]["evidence"]["paced_fraction"] >= 0.5
    assert pace[0]["evidence"]["ventricular_capture"] >= 1
    assert not {s["code"] for s in a.statements} & PACED_CONFOUNDED
    assert a.classification == "abnormal"


def test_unpaced_records_get_no_paced_statement(shared_data):
    import csv

    with (shared_data / "ptbxl" / "labels.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["fs"] == "500" and "PACE" not in r["scp_codes"]]
    for row in rows[:40]:
        a = analyze(read_record(shared_data / "ptbxl" / f"{row['record']}.hea"))
        assert "PACE" not in {s["code"] for s in a.statements}, row["record"]


@pytest.mark.parametrize(
    ("record", "code", "measured"),
    [
        # Challenge (CPSC) RBBB, QRS axis -135 degrees: northwest, beyond LAFB's -45..-90
        ("cinc-challenge-samples/records/A0010", "LAFB", "qrs_axis"),
        # PTB-XL fold 9, inferior and anterior infarct, PR 174 ms: no first-degree block
        ("ptbxl/records500/00000/00189_hr", "1AVB", "pr_interval"),
    ],
)
def test_a_learned_statement_is_never_made_against_its_definition(
    shared_data, record, code, measured
):
    """On these two real ECGs the learned statement's probability reaches its threshold, but
    the measurement that defines it lies outside the definition's range, so it is not made;
    where it is made, its evidence carries that measurement and the range."""
    from hearteye.interpret.engine import evidence_features, get_statement_models

    sm = get_statement_models()
    if sm is None or sm.method(code) not in ("model", "either"):
        pytest.skip(f"no learned {code} shipped")
    m = measure_record(read_record(shared_data / f"{record}.hea"))
    ev = gather(m.display, m.fs, m.record.leads, m.delineation.beats, m.measurements)
    p, threshold, _ = sm.predict(np.concatenate([m.features(), evidence_features(ev)]))[code]
    assert p >= threshold
    name, lo, hi = rules.DEFINED_BY[code]
    assert name == measured and not lo <= ev.g(name) <= hi
    statements, _ = m.statements()
    assert code not in {s["code"] for s in statements}


def test_a_learned_statement_made_shows_its_defining_measurement(shared_data):
    """PTB-XL 00238 (fold 9, coded LAFB; QRS axis -38 degrees, where the LAFB rule's -45 does
    not reach): the learned LAFB is made, its evidence the probability beside the axis and the
    range the axis had to be in."""
    a = analyze(read_record(shared_data / "ptbxl/records500/00000/00238_hr.hea"))
    (lafb,) = [s for s in a.statements if s["code"] == "LAFB"]
    assert lafb["method"] == "model"
    evid = lafb["evidence"]
    assert evid["probability"] >= evid["threshold"]
    assert evid["defined_range"] == [-105.0, -30.0]
    assert -45 < evid["qrs_axis"] <= -30


def test_wide_qrs_tachycardia_is_critical(shared_data):
    """Challenge JS45548 (Chapman/Ningbo, paroxysmal ventricular tachycardia): 135 bpm, QRS
    about 170 ms, no P waves. It is stated as a wide QRS tachycardia, critical, and raised as
    an alert; no sinus rhythm statement from the rule."""
    a = analyze(read_record(shared_data / "cinc-challenge-samples/records/JS45548.hea"))
    (wct,) = [s for s in a.statements if s["code"] == "WCT"]
    assert wct["severity"] == "critical" and wct["method"] == "rule"
    assert wct["evidence"]["heart_rate_bpm"] > 100
    assert wct["evidence"]["qrs_ms"] >= rules.QRS_COMPLETE
    assert "WCT" in {x["code"] for x in a.interpretation["alerts"]}
    assert a.interpretation["overall"] == "Abnormal ECG" and a.classification == "abnormal"


@pytest.mark.parametrize("name", ["E00008", "E00009", "JS00666"])
def test_sinus_tachycardia_is_no_wide_qrs_tachycardia(shared_data, name):
    """The Challenge samples' sinus tachycardias (narrow QRS, P waves before the beats)."""
    a = analyze(read_record(shared_data / "cinc-challenge-samples/records" / f"{name}.hea"))
    assert a.measurements["global"]["heart_rate"]["value"] > 100
    assert "WCT" not in {s["code"] for s in a.statements}
