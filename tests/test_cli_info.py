"""`hearteye info`: all 200 LUDB records, text and JSON output, typed errors exit 2."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import wfdb
from click.testing import CliRunner

from hearteye.cli import main
from hearteye.io import read_record
from hearteye.record import STANDARD_LEADS
from hostile_corpus import make_zip


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def _info_json(runner, path) -> dict:
    result = runner.invoke(main, ["info", "--json", str(path)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _check_ludb(runner, hea):
    info = _info_json(runner, hea)
    assert info["leads"] == list(STANDARD_LEADS)
    assert (info["fs"], info["n_samples"], info["duration_s"]) == (500.0, 5000, 10.0)
    assert info["units"] == "mV" and isinstance(info["quality"], list)
    ref = wfdb.rdrecord(str(hea.with_suffix(""))).p_signal.T
    diff = float(np.nanmax(np.abs(read_record(hea).signal - ref)))
    assert diff <= 1e-6
    for i, lead in enumerate(STANDARD_LEADS):
        stats = info["lead_stats"][lead]
        assert abs(stats["min"] - np.nanmin(ref[i])) <= 1e-6
        assert abs(stats["max"] - np.nanmax(ref[i])) <= 1e-6
    return diff


def test_ludb_fixtures_via_info(runner, fixtures_dir):
    for n in (1, 24, 119):
        _check_ludb(runner, fixtures_dir / "ludb" / f"{n}.hea")


@pytest.mark.slow
def test_all_200_ludb_records_via_info(runner, ludb_dir):
    headers = sorted(ludb_dir.glob("*.hea"), key=lambda p: int(p.stem))
    assert len(headers) == 200
    start = time.perf_counter()
    worst = max(_check_ludb(runner, hea) for hea in headers)
    elapsed = time.perf_counter() - start
    print(f"200 LUDB records via `hearteye info --json`: {elapsed:.2f} s, max |diff| {worst:.2e}")
    assert worst <= 1e-6


def test_text_output(runner, fixtures_dir):
    result = runner.invoke(main, ["info", str(fixtures_dir / "edf" / "ludb_119.edf")])
    assert result.exit_code == 0, result.output
    for text in (
        "500 Hz",
        "12: I II III aVR aVL aVF V1 V2 V3 V4 V5 V6",
        "5000  (10.000 s)",
        "units      mV",
        "age 26, sex M",
        "quality",
    ):
        assert text in result.output


def test_zip_and_mat(runner, fixtures_dir, tmp_path):
    cinc = fixtures_dir / "cinc"
    zpath = tmp_path / "a.zip"
    zpath.write_bytes(make_zip([(p.name, p.read_bytes()) for p in cinc.glob("A0001.*")]))
    info = _info_json(runner, zpath)
    assert info["n_samples"] == 7500 and info["diagnoses"] == ["59118001"]
    assert info["age"] == 74 and info["sex"] == "M"


@pytest.mark.parametrize(
    "content, name, code",
    [
        (b"\x00" * 300, "broken.edf", "not_edf"),
        (b"PK\x03\x04garbage", "broken.zip", "corrupt_archive"),
        (b"hello", "notes.txt", "unsupported_format"),
    ],
)
def test_errors_print_the_message_and_exit_2(runner, tmp_path, content, name, code):
    path = tmp_path / name
    path.write_bytes(content)
    result = runner.invoke(main, ["info", str(path)])
    assert result.exit_code == 2
    assert f"error [{code}]" in result.output


def test_missing_file_exits_2(runner, tmp_path):
    result = runner.invoke(main, ["info", str(tmp_path / "nope.hea")])
    assert result.exit_code == 2 and "file_not_found" in result.output


def test_a_training_command_without_the_training_extra_says_what_to_install(monkeypatch, tmp_path):
    """scikit-learn comes with hearteye[train], not with the service: `hearteye split`
    without it stops with one line naming the extra, not a traceback."""
    import sys

    from click.testing import CliRunner

    from hearteye.cli import main

    for name in ("sklearn", "sklearn.model_selection"):  # as if not installed
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "hearteye.data.split", raising=False)
    master = tmp_path / "m.csv"
    master.write_text("record,patient,label\n")
    out = CliRunner().invoke(main, ["split", "--master", str(master), "--out", str(tmp_path)])
    assert out.exit_code == 1, out.output
    assert "pip install 'hearteye[train]'" in out.output
    assert "Traceback" not in out.output
