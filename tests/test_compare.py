"""Serial comparison (hearteye.compare) on real PTB-XL records of one patient, and its rules
on summaries that carry statements (statement matching, rhythm replacement, wording)."""

from __future__ import annotations

import csv

import pytest

from hearteye.compare import DEFAULT_THRESHOLDS, MEASURED, PLAUSIBLE, compare


def _ptbxl_patient(shared_data, patient_id: str) -> dict[str, str]:
    folder = shared_data / "ptbxl"
    labels = folder / "labels.csv"
    if not labels.exists():
        pytest.skip("PTB-XL labels are not staged")
    rows = [
        r
        for r in csv.DictReader(labels.open())
        if r["patient_id"] == patient_id and r["fs"] == "500"
    ]
    out = {r["record"].rsplit("/", 1)[-1][:5]: r for r in rows}
    if not out or not (folder / (rows[0]["record"] + ".hea")).exists():
        pytest.skip(f"PTB-XL patient {patient_id} records are not staged")
    return {k: str(folder / r["record"]) for k, r in out.items()}, out


@pytest.fixture(scope="module")
def patient_13619(shared_data):
    """Patient 13619 of PTB-XL: atrial flutter (00023), then sinus rhythm (00026, 00028)."""
    from hearteye.analyze import analyze
    from hearteye.io import read_record

    paths, labels = _ptbxl_patient(shared_data, "13619")
    assert "AFLT" in labels["00023"]["scp_codes"] and "SR" in labels["00026"]["scp_codes"]
    return {k: analyze(read_record(paths[k])).to_dict() for k in ("00023", "00026", "00028")}


def _expected_changes(a: dict, b: dict) -> set[str]:
    """What the thresholds say must be reported, computed from the two summaries."""
    out = set()
    for name in MEASURED:
        x = (a["measurements"]["global"].get(name) or {}).get("value")
        y = (b["measurements"]["global"].get(name) or {}).get("value")
        if x is None or y is None:
            continue
        low, high = PLAUSIBLE.get(name, (-1e9, 1e9))
        if not (low <= x <= high and low <= y <= high):
            continue
        d = y - x
        if name.endswith("axis"):
            d = (d + 180) % 360 - 180
        if abs(d) >= getattr(DEFAULT_THRESHOLDS, name):
            out.add(name)
    return out


def test_flutter_to_sinus_rate_fall_is_reported(patient_13619):
    before, after = patient_13619["00023"], patient_13619["00026"]
    result = compare(before, after, "2026-11-02T14:05:00")
    names = {c.measurement for c in result.changes}
    assert names == _expected_changes(before, after)
    hr = next(c for c in result.changes if c.measurement == "heart_rate")
    # Flutter conducted at ~130/min, then sinus rhythm below 100/min.
    assert hr.before > 110 and hr.after < 100 and hr.delta < -20
    assert result.text.startswith("When compared with ECG of 02-Nov-2026 14:05, ")
    assert "heart rate has decreased by" in result.text
    assert result.statements_compared == ("statements" in before and "statements" in after)


def test_two_sinus_records_show_no_rate_change(patient_13619):
    before, after = patient_13619["00026"], patient_13619["00028"]
    result = compare(before, after)
    assert "heart_rate" not in {c.measurement for c in result.changes}
    assert {c.measurement for c in result.changes} == _expected_changes(before, after)
    if not result.significant:
        assert (
            result.text == "When compared with the previous ECG, no significant change was found."
        )


def _summary(statements, **measures) -> dict:
    glob = {k: {"value": v, "unreliable": None} for k, v in measures.items()}
    return {"statements": statements, "measurements": {"global": glob}}


SR = {"code": "SR", "text": "Sinus rhythm", "category": "rhythm", "severity": "normal"}
AF = {"code": "AFIB", "text": "Atrial fibrillation", "category": "rhythm", "severity": "abnormal"}
LAD = {"code": "LAD", "text": "Left axis deviation", "category": "axis", "severity": "borderline"}
RBBB = {"code": "RBBB", "text": "Right bundle branch block", "category": "conduction"}


def test_rhythm_replacement_and_new_and_resolved_statements():
    before = _summary([SR, LAD], heart_rate=70, qrs_duration=96, qrs_axis=-40)
    after = _summary(
        [AF, {**RBBB, "text": "RBBB"}],
        heart_rate=118,
        qrs_duration=132,
        qrs_axis=-10,
    )
    r = compare(before, after, "2026-11-02T14:05:00")
    assert [s["code"] for s in r.new] == ["AFIB", "RBBB"]
    assert [s["code"] for s in r.resolved] == ["SR", "LAD"]
    assert r.unchanged == ()
    assert r.findings[0] == "atrial fibrillation has replaced sinus rhythm"
    assert "RBBB is now present" in r.findings
    assert "left axis deviation is no longer present" in r.findings
    assert "QRS duration has increased by 36 ms (96 -> 132 ms)" in r.findings
    assert "QRS axis has shifted right by 30° (-40° -> -10°)" in r.findings
    assert "heart rate has increased by 48 bpm (70 -> 118 bpm)" in r.findings
    d = r.to_dict()
    assert d["significant"] and d["statements_compared"]


def test_matching_by_code_then_by_text_and_below_threshold_changes():
    free = {"code": "", "text": "Poor R wave progression"}
    before = _summary([SR, free], heart_rate=70, qtc_bazett=420, t_axis=170)
    after = _summary(
        [dict(SR, text="Normal sinus rhythm"), {"text": "poor  R wave progression"}],
        heart_rate=85,  # 15 bpm: below 20
        qtc_bazett=479,  # 59 ms: below 60
        t_axis=-160,  # 30 degrees across +-180: below 45
    )
    r = compare(before, after)
    assert len(r.unchanged) == 2 and not r.new and not r.resolved and not r.changes
    assert r.text == "When compared with the previous ECG, no significant change was found."


def test_without_statements_only_measurements_are_compared():
    before = {"measurements": {"global": {"qtc_bazett": {"value": 430}}}}
    after = {"measurements": {"global": {"qtc_bazett": {"value": 500, "unreliable": None}}}}
    r = compare(before, after)
    assert not r.statements_compared and r.new == () and r.resolved == ()
    assert r.findings == ("QTc has increased by 70 ms (430 -> 500 ms)",)


def test_unreliable_missing_and_implausible_values_are_not_changes():
    before = _summary([], heart_rate=60, qtc_bazett=4350, qrs_duration=None)
    after = _summary([], heart_rate=140, qtc_bazett=440, qrs_duration=150)
    after["measurements"]["global"]["heart_rate"]["unreliable"] = "noise"
    assert compare(before, after).changes == ()
