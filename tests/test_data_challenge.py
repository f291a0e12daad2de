"""The PhysioNet Challenge adapter: SNOMED labels, patient grouping, mains frequency."""

from __future__ import annotations

import pandas as pd

from hearteye.data.challenge import build_master, dx_label
from hearteye.data.master import validate


def test_only_sinus_rhythm_alone_is_normal():
    assert dx_label(["426783006"]) == "normal"
    assert dx_label(["426783006", "270492004"]) == "abnormal"  # + first-degree AV block
    assert dx_label(["426177001"]) == "abnormal"  # sinus bradycardia
    assert dx_label([]) == "abnormal"


def test_fixture_records(fixtures_dir):
    master = validate(build_master(fixtures_dir / "cinc"))
    rows = master.set_index("record")
    assert rows.loc["A0001", "label"] == "abnormal"  # Dx 59118001: RBBB
    assert rows.loc["E00001", "label"] == "normal"  # Dx 426783006 only
    assert rows.loc["E00001", "mains_hz"] == 60  # Georgia, USA
    assert rows.loc["A0001", "mains_hz"] == 50
    assert rows.loc["A0001", "age"] == 74 and rows.loc["A0001", "sex"] == "M"


def test_all_staged_challenge_labels_match_the_data_sets_own_table(shared_data):
    root = shared_data / "cinc-challenge-samples"
    master = build_master(root / "records").set_index("record")
    table = pd.read_csv(root / "labels.csv").set_index("record")
    expected = table["normal_sinus_only"].map({1: "normal", 0: "abnormal"})
    assert (master.loc[expected.index, "label"] == expected).all()
    assert (master["label"] == "normal").sum() == 9


def test_ptb_records_of_one_patient_share_a_group(shared_data):
    master = build_master(shared_data / "ptb-diagnostic-long" / "records").set_index("record")
    assert master.loc["S0002", "patient"] == master.loc["S0003", "patient"]  # 81 F
    assert master.loc["S0004", "patient"] != master.loc["S0003", "patient"]
    assert master.loc["S0002", "label"] == "normal"
    assert master["patient"].nunique() == 5
