"""Master-table adapters and the patient-aware split, on real metadata."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import require_train
from hearteye.cli import main
from hearteye.data import ludb, mimic, ptbxl
from hearteye.data.master import build_master, read_master

# LUDB records with sinus rhythm, a normal-range axis and no other statement (SOURCE.md).
LUDB_NORMAL = {
    56,
    58,
    62,
    119,
    123,
    135,
    142,
    149,
    152,
    154,
    157,
    161,
    162,
    166,
    168,
    177,
    187,
    190,
    193,
    194,
    195,
    198,
    199,
}


def test_ludb_labels_from_csv_and_headers_agree(shared_data):
    master = build_master("ludb", shared_data / "ludb")
    assert len(master) == 200 and master["patient"].nunique() == 200
    assert set(master.loc[master["label"] == "normal", "record"].astype(int)) == LUDB_NORMAL
    from pathlib import Path

    from_headers = {
        r: ludb._label_from_header(Path(p + ".hea"))
        for r, p in zip(master["record"], master["path"], strict=True)
    }
    assert from_headers == dict(zip(master["record"], master["label"], strict=True))


def test_ludb_fixture_labels(fixtures_dir):
    master = build_master("ludb", fixtures_dir / "ludb")
    assert dict(zip(master["record"], master["label"], strict=True)) == {
        "1": "abnormal",
        "24": "abnormal",
        "119": "normal",
    }


@pytest.fixture(scope="module")
def ptbxl_master(shared_data):
    return build_master("ptbxl", shared_data / "ptbxl-metadata")


def test_ptbxl_adapter_counts_norm_like_the_paper(ptbxl_master):
    master = ptbxl_master
    assert len(master) == 21837 and master["patient"].nunique() == 18885
    assert (master["label"] == "normal").sum() == 9528
    assert master["path"].iloc[0].endswith("records500/00000/00001_hr")


def test_mimic_adapter_on_the_published_row(shared_data):
    master = build_master("mimic", shared_data / "mimic-iv-ecg-rows")
    row = master.iloc[0]
    assert (row["record"], row["patient"], row["label"]) == ("40689238", "10000032", "abnormal")
    assert mimic.machine_fiducials(row) == (
        {"p_onset": 40.0, "p_end": 128.0, "qrs_onset": 170.0, "qrs_end": 258.0, "t_end": 518.0},
        "",
    )


@pytest.mark.parametrize(
    "lines,label",
    [
        (["Sinus rhythm", "Normal ECG"], "normal"),
        (["Sinus tachycardia", "Otherwise normal ECG"], "abnormal"),
        (["Sinus rhythm", "Borderline ECG"], "abnormal"),
        (["Atrial fibrillation", "Abnormal ECG"], "abnormal"),
        (["Sinus rhythm", float("nan")], "abnormal"),
    ],
)
def test_mimic_report_rule(lines, label):
    assert mimic.report_label(lines) == label


@pytest.mark.parametrize(
    "change,reason",
    [
        ({"p_onset": 29999}, "missing"),
        ({"t_end": None}, "missing"),
        ({"p_end": "x"}, "missing"),
        ({"qrs_end": -4}, "missing"),
        ({"p_end": 200}, "inconsistent"),
    ],
)
def test_mimic_sentinels(change, reason):
    row = {"p_onset": 40, "p_end": 128, "qrs_onset": 170, "qrs_end": 258, "t_end": 518, **change}
    assert mimic.machine_fiducials(row) == (None, reason)


def test_ptbxl_label_rule():
    assert ptbxl.scp_label("{'NORM': 100.0, 'SR': 0.0}") == "normal"
    assert ptbxl.scp_label("{'NORM': 0.0, 'LVOLT': 100.0}") == "abnormal"
    assert ptbxl.scp_label("{'IMI': 15.0}") == "abnormal"


@pytest.mark.slow
def test_grouped_split_keeps_patients_whole_and_is_deterministic(ptbxl_master):
    require_train("sklearn")
    from hearteye.data.split import split_master, split_report

    # PTB-XL rows share patients (up to ~10 records each): a real test of grouping.
    master = ptbxl_master.iloc[:1500]
    a = split_master(master, val=0.1, test=0.2, seed=7)
    b = split_master(master, val=0.1, test=0.2, seed=7)
    c = split_master(master, val=0.1, test=0.2, seed=8)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["test"]["record"].equals(c["test"]["record"])
    report = split_report(a)
    assert report["no_patient_in_two_sets"]
    assert sum(s["records"] for s in report["sets"].values()) == 1500
    assert abs(report["sets"]["test"]["fraction"] - 0.2) < 0.02
    # Stratified: the normal share of each set stays near the whole table's.
    share = (master["label"] == "normal").mean()
    for s in report["sets"].values():
        assert abs(s["labels"]["normal"] / s["records"] - share) < 0.04


def test_split_cli_on_ludb(shared_data, tmp_path):
    require_train("sklearn")
    res = CliRunner().invoke(
        main,
        ["split", "--dataset", "ludb", "--root", str(shared_data / "ludb"), "--out", str(tmp_path)],
    )
    assert res.exit_code == 0, res.output
    assert "no patient in two sets: yes" in res.output
    parts = {s: read_master(tmp_path / f"{s}_records.csv") for s in ("train", "val", "test")}
    assert [len(p) for p in parts.values()] == [160, 20, 20]
    assert all((p["split"] == s).all() for s, p in parts.items())
    report = json.loads((tmp_path / "split_report.json").read_text())
    assert report["no_patient_in_two_sets"] and report["params"]["seed"] == 0
    # 23 normal records: stratification puts 2-3 into each 20-record set, not 0 or 8.
    assert all(2 <= report["sets"][s]["labels"]["normal"] <= 3 for s in ("val", "test"))


def test_split_cli_rejects_ambiguous_input(tmp_path, fixtures_dir):
    require_train("sklearn")
    res = CliRunner().invoke(main, ["split", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "either --dataset" in res.output


def test_ptbxl_labelled_subset_layout(shared_data):
    root = shared_data / "ptbxl"
    if not (root / "labels.csv").is_file():
        pytest.skip("PTB-XL labelled subset not available")
    master = build_master("ptbxl", root)
    assert len(master) == 2205  # 1,757 ECGs, 449 of them at both rates
    per_ecg = master.drop_duplicates("ecg")
    assert len(per_ecg) == 1757 and (per_ecg["label"] == "normal").sum() == 926  # SOURCE.md
    assert set(master["fold"]) == set(range(1, 10))
    # both rates of one ECG: same patient and fold, distinct record ids
    both = master[master["ecg"] == "1"]
    assert set(both["fs"]) == {100.0, 500.0} and both["patient"].nunique() == 1
    assert both["fold"].nunique() == 1 and both["record"].is_unique
