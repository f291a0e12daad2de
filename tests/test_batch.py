"""Batch analysis of archives: discovery, one row per record (failures included), identical
output for 1 worker, 2 workers and Dask, and resume after a real interruption.

On the real fixture records (LUDB, Challenge, EDF) plus staged LUDB records when present.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import hearteye.batch as batch
from hearteye.batch import BatchOptions, analyze_many, columns, discover, run_batch
from hearteye.features import GLOBAL_MEASUREMENTS


@pytest.fixture(scope="module")
def archive(tmp_path_factory, fixtures_dir, shared_data_if_staged) -> Path:
    """A small archive laid out like a real one: nested folders, WFDB with signal files,
    EDF, Challenge .mat records, a broken record and a file that is not an ECG."""
    root = tmp_path_factory.mktemp("archive")
    shutil.copytree(fixtures_dir / "ludb", root / "ludb")
    shutil.copytree(fixtures_dir / "edf", root / "site_b" / "edf")
    shutil.copytree(fixtures_dir / "cinc", root / "site_b" / "cinc")
    if shared_data_if_staged is not None:
        for name in ("7", "8", "34", "52", "135"):
            for ext in ("hea", "dat"):
                src = shared_data_if_staged / "ludb" / "data" / f"{name}.{ext}"
                if src.is_file():
                    shutil.copy(src, root / "ludb" / src.name)
    broken = root / "site_c"
    broken.mkdir()
    shutil.copy(fixtures_dir / "ludb" / "1.hea", broken / "orphan.hea")  # no signal file
    (broken / "notes.txt").write_text("not an ECG")
    (broken / "fake.edf").write_bytes(b"0       this is no EDF header")
    return root


def _n_records(archive: Path) -> int:
    return len(list(discover([archive])))


def test_discovery_walks_folders_globs_and_manifests(archive, tmp_path):
    found = list(discover([archive]))
    assert found == sorted(found, key=lambda p: Path(p).relative_to(archive).parts)
    names = {Path(p).name for p in found}
    assert {"1.hea", "24.hea", "A0001.hea", "ludb_024.edf", "orphan.hea", "fake.edf"} <= names
    assert not any(n.endswith((".dat", ".mat", ".txt")) for n in names)  # parts, not records
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\n" + "\n".join(f"{p},x" for p in found[:3]) + "\n")
    assert list(discover([manifest])) == [str(tmp_path / p) for p in found[:3]]
    pattern = str(archive / "ludb" / "*.hea")
    assert list(discover([pattern])) == sorted(str(p) for p in (archive / "ludb").glob("*.hea"))


def test_every_record_gets_a_row_and_failures_do_not_stop_the_run(archive):
    rows = list(analyze_many([archive], workers=1))
    assert len(rows) == _n_records(archive)
    assert all(list(r) == columns() for r in rows)
    by_name = {Path(r["path"]).name: r for r in rows}
    assert by_name["orphan.hea"]["status"] == "error"
    assert by_name["orphan.hea"]["error_code"] == "missing_signal_file"
    assert by_name["fake.edf"]["status"] == "error" and by_name["fake.edf"]["error_code"]
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == len(rows) - 2
    # LUDB 1 is sinus bradycardia at ~45 bpm; the EDF copy of LUDB 24 reads as its WFDB twin.
    assert by_name["1.hea"]["heart_rate"] == pytest.approx(45.4, abs=1.0)
    assert by_name["ludb_024.edf"]["heart_rate"] == pytest.approx(
        by_name["24.hea"]["heart_rate"], abs=0.5
    )
    assert len({r["content_hash"] for r in ok}) == len(ok)
    for r in ok:
        assert r["classification"] in ("normal", "abnormal") and 0 <= r["probability_abnormal"] <= 1


def test_one_worker_two_workers_and_dask_write_identical_tables(archive, tmp_path, monkeypatch):
    from distributed import LocalCluster

    monkeypatch.setattr(batch, "SHARD_SIZE", 3)
    kw = {"show_progress": False, "shard_size": 3}
    run_batch([archive], out=tmp_path / "1.parquet", jsonl=tmp_path / "1.jsonl", workers=1, **kw)
    run_batch([archive], out=tmp_path / "2.parquet", jsonl=tmp_path / "2.jsonl", workers=2, **kw)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        run_batch(
            [archive],
            out=tmp_path / "d.parquet",
            jsonl=tmp_path / "d.jsonl",
            scheduler=cluster.scheduler_address,
            **kw,
        )
    for ext in ("parquet", "jsonl"):
        ref = (tmp_path / f"1.{ext}").read_bytes()
        assert (tmp_path / f"2.{ext}").read_bytes() == ref
        assert (tmp_path / f"d.{ext}").read_bytes() == ref
    table = pq.read_table(tmp_path / "1.parquet")
    assert table.column_names == columns() and table.num_rows == _n_records(archive)
    assert table.schema.field("qrs_duration").metadata == {b"unit": b"ms"}
    jsonl = [json.loads(line) for line in (tmp_path / "1.jsonl").read_text().splitlines()]
    assert table.to_pylist() == jsonl


_INTERRUPTIBLE = """
import sys
from hearteye.batch import run_batch
run_batch([sys.argv[1]], jsonl=sys.argv[2], workers=1, show_progress=False, shard_size=2)
"""


def test_a_killed_run_resumes_from_its_finished_shards(archive, tmp_path):
    """The run is SIGKILLed once some shards are finished; the rerun keeps those parts
    untouched, analyses only the rest, and writes the same table as an uninterrupted run."""
    ref = tmp_path / "ref.jsonl"
    run_batch([archive], jsonl=ref, workers=1, show_progress=False, shard_size=2)
    out = tmp_path / "run.jsonl"
    parts = tmp_path / "run.jsonl.parts"
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPTIBLE, str(archive), str(out)])
    deadline = time.monotonic() + 120
    while len(list(parts.glob("*/part-*.jsonl"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in parts.glob("*/part-*.jsonl")}
    assert 2 <= len(finished) < -(-_n_records(archive) // 2), "not interrupted halfway"
    assert not out.exists()  # no half-written table

    calls = []
    real = batch.analyze_path

    def counting(path, digest, options):
        calls.append(path)
        return real(path, digest, options)

    batch.analyze_path = counting
    try:
        run_batch([archive], jsonl=out, workers=1, show_progress=False, shard_size=2)
    finally:
        batch.analyze_path = real
    assert out.read_bytes() == ref.read_bytes()
    assert {p: p.stat().st_mtime_ns for p in finished} == finished
    reused = sum(len(p.read_text().splitlines()) for p in finished)
    errors = sum('"status": "error"' in line for line in out.read_text().splitlines())
    assert len(calls) <= _n_records(archive) - reused
    assert len(calls) >= _n_records(archive) - reused - errors


def test_a_record_seen_before_under_another_name_is_not_analysed_again(archive, tmp_path):
    work = tmp_path / "work"
    first = list(analyze_many([archive / "ludb"], workers=1, work_dir=work))
    moved = tmp_path / "moved"
    shutil.copytree(archive / "ludb", moved)
    calls = []
    real = batch.analyze_path
    batch.analyze_path = lambda *a: calls.append(a) or real(*a)
    try:
        second = list(analyze_many([moved], workers=1, work_dir=work))
    finally:
        batch.analyze_path = real
    assert calls == []
    assert [r["path"] for r in second] == [str(moved / Path(r["path"]).name) for r in first]
    strip = [{k: v for k, v in r.items() if k != "path"} for r in first]
    assert [{k: v for k, v in r.items() if k != "path"} for r in second] == strip


def test_other_options_or_models_do_not_reuse_rows(archive, tmp_path):
    work = tmp_path / "work"
    list(analyze_many([archive / "ludb"], workers=1, work_dir=work))
    calls = []
    real = batch.analyze_path
    batch.analyze_path = lambda *a: calls.append(a) or real(*a)
    try:
        list(
            analyze_many(
                [archive / "ludb"], workers=1, work_dir=work, options=BatchOptions(notch_hz=60.0)
            )
        )
    finally:
        batch.analyze_path = real
    assert len(calls) == len(list(discover([archive / "ludb"])))


def test_cli_writes_the_table_and_says_how_many_failed(archive, tmp_path):
    out = tmp_path / "cli.parquet"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hearteye.cli",
            "analyze",
            str(archive),
            "--out",
            str(out),
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    n = _n_records(archive)
    assert f"{n} records: {n - 2} analysed, 2 failed in " in proc.stderr
    table = pq.read_table(out)
    assert table.num_rows == n
    assert set(GLOBAL_MEASUREMENTS) <= set(table.column_names)


def test_the_package_exports_analyze_many_for_notebooks():
    import hearteye

    assert hearteye.analyze_many is analyze_many
