"""Measurements as CSV / JSON for one record, the streamed history CSV, and the `hearteye
report` / `hearteye export` commands on real records."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from pathlib import Path

import pydicom
import pytest
from click.testing import CliRunner

from hearteye.analyze import Analysis, analyze
from hearteye.cli import main
from hearteye.export.csv import (
    HISTORY_COLUMNS,
    history_csv,
    history_row,
    measurement_rows,
    measurements_csv,
    measurements_json,
)
from hearteye.io import read_record

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def ludb24() -> Analysis:
    return analyze(read_record(FIXTURES / "ludb" / "24.hea"))


def test_measurements_csv_holds_every_global_measurement(ludb24):
    rows = list(csv.DictReader(io.StringIO(measurements_csv(ludb24))))
    g = ludb24.measurements["global"]
    assert [r["name"] for r in rows[:8]] == [
        "heart_rate",
        "pr_interval",
        "qrs_duration",
        "qt_interval",
        "qtc_bazett",
        "p_axis",
        "qrs_axis",
        "t_axis",
    ]
    assert {r["name"] for r in rows} == set(g)
    for r in rows:
        m = g[r["name"]]
        if m["value"] is None:
            assert r["value"] == ""
        else:
            assert float(r["value"]) == pytest.approx(m["value"])
        assert r["unit"] == m["unit"] and r["flag"] == (m["flag"] or "")
    qrs = next(r for r in rows if r["name"] == "qrs_duration")
    assert qrs["loinc"] == "8633-0" and qrs["flag"] == "high"  # LUDB 24: QRS 190 ms


def test_measurements_json_is_plain_json(ludb24):
    doc = json.loads(json.dumps(measurements_json(ludb24), allow_nan=False))
    assert doc["measurements"] == json.loads(json.dumps(measurement_rows(ludb24)))
    assert doc["classification"] == ludb24.classification


def _stored(i: int, name: str) -> dict:
    return {
        "file_id": f"id{i}",
        "patient_name": name,
        "age": 40 + i % 50,
        "gender": "F",
        "upload_date": "2026-11-29T10:00:00+00:00",
        "classification": "Normal",
        "probability_abnormal": 0.1,
        "heart_rate": 61.2,
        "intervals": {"pq_interval_ms": 150.0, "qrs_duration_ms": 96.0, "qtc_ms": None},
        "notes": "line one\nline two, with comma",
    }


def test_history_csv_defuses_formulas_and_keeps_numbers():
    summary = {
        "measurements": {"global": {"qrs_axis": {"value": -45.0}}},
        "statements": [{"text": "Left axis deviation"}, {"text": "Sinus rhythm"}],
    }
    rows = [history_row(_stored(1, '=HYPERLINK("http://x")'), summary)]
    rows.append(history_row({**_stored(2, "+1 Anne"), "file_id": "-Ab_9"}, None))
    parsed = list(csv.DictReader(io.StringIO("".join(history_csv(rows)))))
    assert list(parsed[0]) == list(HISTORY_COLUMNS)
    assert parsed[0]["patient_name"] == '\'=HYPERLINK("http://x")'
    assert parsed[1]["patient_name"] == "'+1 Anne"
    assert parsed[1]["file_id"] == "-Ab_9"  # identifiers exactly as stored
    assert parsed[0]["qrs_axis_deg"] == "-45.0"  # a negative number stays a number
    assert parsed[0]["statements"] == "Left axis deviation; Sinus rhythm"
    assert parsed[0]["notes"] == "line one\nline two, with comma"
    assert parsed[0]["qtc_ms"] == "" and parsed[0]["heart_rate_bpm"] == "61.2"


def test_history_csv_streams_in_constant_memory():
    """Memory while writing 5,000 rows is that of one row: the generator is consumed as it
    goes and never holds the history."""

    def peak(n: int) -> int:
        rows = (history_row(_stored(i, f"Patient {i}")) for i in range(n))
        tracemalloc.start()
        written = sum(len(chunk) for chunk in history_csv(rows))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert written > n * 50
        return top

    small, large = peak(100), peak(5_000)
    assert large < small * 1.5 + 16_384


def test_cli_report_and_export(tmp_path):
    runner = CliRunner()
    edf = str(FIXTURES / "edf" / "ludb_119.edf")
    pdf = tmp_path / "r.pdf"
    res = runner.invoke(main, ["report", edf, "-o", str(pdf), "--paper", "letter"])
    assert res.exit_code == 0, res.output
    assert pdf.read_bytes()[:5] == b"%PDF-"
    out = {k: tmp_path / f"x.{k}" for k in ("json", "dcm", "csv", "mjson")}
    res = runner.invoke(
        main,
        [
            "export",
            edf,
            "--fhir",
            str(out["json"]),
            "--dicom",
            str(out["dcm"]),
            "--csv",
            str(out["csv"]),
            "--json",
            str(out["mjson"]),
            "--patient-name",
            "Jane Doe",
        ],
    )
    assert res.exit_code == 0, res.output
    bundle = json.loads(out["json"].read_text())
    assert bundle["resourceType"] == "Bundle"
    assert str(pydicom.dcmread(out["dcm"]).PatientName) == "Jane Doe"
    assert out["csv"].read_text().startswith("name,label,value")
    assert json.loads(out["mjson"].read_text())["measurements"]
    res = runner.invoke(main, ["export", edf])
    assert res.exit_code == 2 and "at least one of" in res.output
