"""`hearteye split` + `hearteye prepare` end to end on real LUDB records, checked against the
raw annotation files (read with `wfdb.rdann`, independently of HeartEye's own reader)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb
from click.testing import CliRunner

from conftest import require_train
from hearteye.cli import main
from hearteye.data import prepare as prepare_module
from hearteye.data.ludb import LEAD_EXTENSIONS
from hearteye.data.master import build_master
from hearteye.data.prepare import prepare_split
from hearteye.data.worker import PrepareParams, planned_windows, process_record
from hearteye.record import STANDARD_LEADS

P, QRS, QT = 0, 1, 2
CHANNEL = {"p": P, "N": QRS}
ARRAYS = ("X_data", "Y_data", "M_data", "Y_lead_data", "M_lead_data")


def cli(*args):
    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def triplets(samples, symbols):
    """Strictly regular waves ``( X )`` from the raw stream: (kind, onset, offset)."""
    return [
        (symbols[i + 1], int(samples[i]), int(samples[i + 2]))
        for i in range(len(symbols) - 2)
        if symbols[i] == "(" and symbols[i + 1] in "pNt" and symbols[i + 2] == ")"
    ]


def check_edges(out: Path, record_dirs: dict[str, Path]) -> int:
    """Check mask edges of every window against the raw annotations; returns windows checked.

    Per lead: every regular P and QRS starts exactly at its ``(`` and ends exactly at its
    ``)`` (one sample outside is 0), every regular QRS followed by a regular T has QT from
    the QRS ``(`` to the T ``)``, and nothing before the first ``(`` or after the last ``)``
    is valid. Global: every QRS segment runs from the earliest to the latest overlapping
    per-lead QRS boundary.
    """
    info = pd.read_csv(out / "df_info.csv", dtype={"record": str})
    y = np.load(out / "Y_data.npy", mmap_mode="r")
    yl = np.load(out / "Y_lead_data.npy", mmap_mode="r")
    ml = np.load(out / "M_lead_data.npy", mmap_mode="r")
    checked = 0
    for row in info.itertuples():
        base = record_dirs[row.record] / row.record
        start, n = row.start_sample, y.shape[1]
        all_qrs = []
        for ext in LEAD_EXTENSIONS:
            lead = STANDARD_LEADS.index(
                {"avr": "aVR", "avl": "aVL", "avf": "aVF"}.get(ext, ext.upper())
            )
            ann = wfdb.rdann(str(base), ext)
            waves = triplets(ann.sample - start, ann.symbol)
            for kind, on, off in waves:
                if kind in CHANNEL and 0 < on and off < n - 1:
                    trace = yl[row.row, on - 1 : off + 2, lead, CHANNEL[kind]]
                    assert trace[0] == 0 and trace[1:-1].all() and trace[-1] == 0, (
                        row.record,
                        ext,
                        kind,
                        on,
                        off,
                    )
                if kind == "N":
                    all_qrs.append((on, off))
            for (k1, on, _), (k2, _, off) in zip(waves, waves[1:], strict=False):
                if k1 == "N" and k2 == "t" and 0 < on and off < n - 1:
                    trace = yl[row.row, on - 1 : off + 2, lead, QT]
                    assert trace[0] == 0 and trace[1:-1].all() and trace[-1] == 0
            onsets = [s - start for s, c in zip(ann.sample, ann.symbol, strict=True) if c == "("]
            offsets = [s - start for s, c in zip(ann.sample, ann.symbol, strict=True) if c == ")"]
            assert ml[row.row, : max(min(onsets), 0), lead].sum() == 0
            assert ml[row.row, max(offsets) + 1 :, lead].sum() == 0
        # Global QRS segments: earliest onset .. latest offset of the overlapping lead QRS.
        qrs = np.asarray(y[row.row, :, QRS], dtype=np.int8)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], qrs, [0]])))
        for a, b in zip(edges[::2], edges[1::2] - 1, strict=True):
            over = [(on, off) for on, off in all_qrs if on <= b and off >= a]
            if over:  # segments from irregular annotations only are covered by the unit tests
                assert (a, b) == (min(o for o, _ in over), max(f for _, f in over)), (
                    row.record,
                    a,
                    b,
                )
        checked += 1
    return checked


def assert_contract(out: Path, n: int, per_lead: bool = True):
    shapes = {
        "X_data": ((n, 5000, 12), np.float32),
        "Y_data": ((n, 5000, 3), np.uint8),
        "M_data": ((n, 5000), np.uint8),
    }
    if per_lead:
        shapes |= {
            "Y_lead_data": ((n, 5000, 12, 3), np.uint8),
            "M_lead_data": ((n, 5000, 12), np.uint8),
        }
    for name, (shape, dtype) in shapes.items():
        arr = np.load(out / f"{name}.npy", mmap_mode="r")
        assert arr.shape == shape and arr.dtype == dtype, name
    info = pd.read_csv(out / "df_info.csv", dtype={"record": str, "patient": str})
    assert len(info) == n
    assert {
        "record",
        "patient",
        "split",
        "label",
        "source",
        "window",
        "start_sample",
        "fs_origin",
        "missing_leads",
    } <= set(info.columns)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["windows"] == n
    assert manifest["params"]["target_fs"] == 500.0 and manifest["lead_order"][3] == "aVR"
    return info, manifest


def test_split_and_prepare_on_fixtures(fixtures_dir, tmp_path):
    require_train("sklearn")  # `hearteye split`
    ludb = fixtures_dir / "ludb"
    cli("split", "--dataset", "ludb", "--root", ludb, "--out", tmp_path / "split")
    cli("prepare", tmp_path / "split", "--out", tmp_path / "prep", "--workers", "2")
    total = 0
    for split in ("train", "val", "test"):
        out = tmp_path / "prep" / split
        info, _ = assert_contract(out, 1)
        assert (info["split"] == split).all()
        total += check_edges(out, {r: ludb for r in ("1", "24", "119")})
        x = np.load(out / "X_data.npy")
        assert np.allclose(x.mean(axis=1), 0, atol=1e-4) and np.allclose(x.std(axis=1), 1, 1e-3)
    assert total == 3


@pytest.mark.slow
def test_split_and_prepare_on_full_ludb(ludb_dir, tmp_path):
    require_train("sklearn")  # `hearteye split`
    cli("split", "--dataset", "ludb", "--root", ludb_dir.parent, "--out", tmp_path / "split")
    cli(
        "prepare",
        tmp_path / "split",
        "--out",
        tmp_path / "prep",
        "--workers",
        "2",
        "--shard-size",
        "32",
    )
    patients, checked = {}, 0
    for split, n in (("train", 160), ("val", 20), ("test", 20)):
        out = tmp_path / "prep" / split
        info, manifest = assert_contract(out, n)
        assert manifest["failed"] == 0
        patients[split] = set(info["patient"])
        m = np.load(out / "M_data.npy", mmap_mode="r")
        assert 0.4 < m.mean() < 0.8  # LUDB's annotated middle, minus incomplete beats
        if split != "train":
            checked += check_edges(out, {r: ludb_dir for r in info["record"]})
    assert checked >= 20
    assert not (
        patients["train"] & patients["val"]
        or patients["train"] & patients["test"]
        or patients["val"] & patients["test"]
    )


def make_split_csv(records_dir: Path, names: list[str], path: Path) -> Path:
    master = build_master("ludb", records_dir)
    master = master.set_index("record").loc[names].reset_index().assign(split="all")
    master.to_csv(path, index=False)
    return path


def read_outputs(out: Path) -> dict[str, bytes]:
    files = {f"{a}.npy": (out / f"{a}.npy").read_bytes() for a in ARRAYS}
    files["df_info.csv"] = (out / "df_info.csv").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    manifest.pop("run")
    files["manifest"] = json.dumps(manifest, sort_keys=True).encode()
    return files


@pytest.fixture
def eight_records(fixtures_dir, tmp_path) -> Path:
    """8 records from the fixtures (the real data when present adds variety)."""
    src = fixtures_dir / "ludb"
    names = ["1", "24", "119"]
    from conftest import SHARED_DATA

    full = SHARED_DATA / "ludb" / "data"
    if full.is_dir():
        src, names = full, ["1", "7", "8", "24", "34", "52", "119", "135"]
    return make_split_csv(src, names, tmp_path / "all_records.csv")


@pytest.mark.slow
def test_outputs_identical_for_1_worker_2_workers_and_dask(eight_records, tmp_path, monkeypatch):
    from distributed import LocalCluster

    # One shard in flight per worker: fewer than the 4 shards, so both schedulers hand
    # out later shards as earlier ones finish.
    monkeypatch.setattr(prepare_module, "_IN_FLIGHT", 1)
    with monkeypatch.context() as m:
        m.setattr(prepare_module, "_CSV_ROWS", 4)  # the CSV read in several chunks
        one = prepare_split(eight_records, tmp_path / "w1", workers=1, shard_size=2)
    two = prepare_split(eight_records, tmp_path / "w2", workers=2, shard_size=2)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        dask = prepare_split(
            eight_records, tmp_path / "dask", scheduler=cluster.scheduler_address, shard_size=2
        )
    assert one["run"]["workers"] == 1 and two["run"]["workers"] == 2
    assert dask["run"]["scheduler"].startswith("tcp://")
    ref = read_outputs(tmp_path / "w1")
    assert read_outputs(tmp_path / "w2") == ref
    assert read_outputs(tmp_path / "dask") == ref


def test_interrupted_run_resumes_from_its_finished_shards(fixtures_dir, tmp_path, monkeypatch):
    csv = make_split_csv(fixtures_dir / "ludb", ["1", "24", "119"], tmp_path / "all.csv")
    prepare_split(csv, tmp_path / "ref", workers=1, shard_size=1)
    before = read_outputs(tmp_path / "ref")
    out = tmp_path / "prep"
    real = prepare_module.process_record

    def killed_at_119(row, params):
        if row["record"] == "119":
            raise KeyboardInterrupt  # as if the run were stopped while processing it
        return real(row, params)

    monkeypatch.setattr(prepare_module, "process_record", killed_at_119)
    with pytest.raises(KeyboardInterrupt):
        prepare_split(csv, out, workers=1, shard_size=1)
    monkeypatch.undo()
    assert (out / "RUNNING").is_file() and not (out / "manifest.json").exists()
    finished = {p: p.stat().st_mtime_ns for p in (out / "shards" / "shard_000000").iterdir()}
    resumed = prepare_split(csv, out, workers=1, shard_size=1, keep_shards=True)
    assert (resumed["run"]["shards_run"], resumed["run"]["shards_skipped"]) == (1, 2)
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # finished shard untouched
    assert read_outputs(out) == before and not (out / "RUNNING").exists()
    # A complete run with the same parameters is not redone; other parameters start afresh.
    assert prepare_split(csv, out, workers=1, shard_size=1)["run"] == resumed["run"]
    again = prepare_split(csv, out, workers=1, shard_size=2)
    assert (again["run"]["shards_run"], again["run"]["shards_skipped"]) == (2, 0)
    assert read_outputs(out)["X_data.npy"] == before["X_data.npy"]
    assert not (out / "shards").exists()


def test_interrupted_run_without_its_output_files_starts_afresh(
    fixtures_dir, tmp_path, monkeypatch
):
    csv = make_split_csv(fixtures_dir / "ludb", ["1", "24", "119"], tmp_path / "all.csv")
    out = tmp_path / "prep"
    real = prepare_module.process_record

    def killed_at_119(row, params):
        if row["record"] == "119":
            raise SystemExit(1)
        return real(row, params)

    monkeypatch.setattr(prepare_module, "process_record", killed_at_119)
    with pytest.raises(SystemExit):
        prepare_split(csv, out, workers=1, shard_size=1)
    monkeypatch.undo()
    (out / "X_data.npy").unlink()  # the finished shards' windows are gone with it
    resumed = prepare_split(csv, out, workers=1, shard_size=1)
    assert (resumed["run"]["shards_run"], resumed["run"]["shards_skipped"]) == (3, 0)
    assert resumed["windows"] == 3


def write_long_record(src: Path, folder: Path, name: str, fs: float, n: int) -> Path:
    """A WFDB record of ``n`` samples per lead claiming rate ``fs``: real LUDB samples
    repeated (only the layout is under test, not the physiology)."""
    rec = wfdb.rdrecord(str(src))
    signal = np.tile(rec.p_signal, (n // rec.sig_len + 1, 1))[:n]
    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        name,
        fs=fs,
        units=rec.units,
        sig_name=rec.sig_name,
        p_signal=signal,
        fmt=["16"] * rec.n_sig,
        adc_gain=[1000.0] * rec.n_sig,
        baseline=[0] * rec.n_sig,
        write_dir=str(folder),
    )
    return folder / name


def test_failed_multi_window_records_leave_no_gap(fixtures_dir, tmp_path, monkeypatch):
    # A 30 s record at 500 Hz (3 windows), a 21 s record at 360 Hz (2 windows at 500 Hz)
    # whose signal file is cut after its header was read for the layout, another 30 s one,
    # and a record that does not exist: the holes close and the output equals a run
    # without the failed records.
    src, folder = fixtures_dir / "ludb" / "1", tmp_path / "records"
    paths = {
        "a": write_long_record(src, folder, "a", 500, 15000),
        "cut": write_long_record(src, folder, "cut", 360, 7560),
        "c": write_long_record(src, folder / "c", "c", 500, 15000),
        "gone": folder / "gone",
    }
    rows = pd.DataFrame(
        [
            {
                "record": k,
                "patient": k,
                "label": "normal",
                "source": "test",
                "path": str(p),
                "mask_source": "none",
                "mains_hz": 50,
                "split": "all",
            }
            for k, p in paths.items()
        ]
    )
    params = PrepareParams()
    assert [planned_windows(r, params) for r in rows.to_dict("records")] == [3, 2, 3, 0]
    rows.to_csv(tmp_path / "all.csv", index=False)
    rows[rows["record"].isin(["a", "c"])].to_csv(tmp_path / "ok.csv", index=False)
    good = prepare_split(tmp_path / "ok.csv", tmp_path / "good", workers=1)

    dat = folder / "cut.dat"
    real = prepare_module.planned_windows

    def plan_then_cut(row, p):
        n = real(row, p)
        if row["record"] == "cut":
            dat.write_bytes(dat.read_bytes()[: dat.stat().st_size // 2])
        return n

    monkeypatch.setattr(prepare_module, "planned_windows", plan_then_cut)
    bad = prepare_split(tmp_path / "all.csv", tmp_path / "bad", workers=2, shard_size=1)
    assert bad["windows"] == good["windows"] == 6 and bad["failed"] == 2
    assert {f["record"] for f in bad["failures"]} == {"cut", "gone"}
    for name in ("X_data.npy", "Y_data.npy", "M_data.npy"):
        assert (tmp_path / "bad" / name).read_bytes() == (tmp_path / "good" / name).read_bytes()
    bad_info = pd.read_csv(tmp_path / "bad" / "df_info.csv")
    assert bad_info.equals(pd.read_csv(tmp_path / "good" / "df_info.csv"))
    assert bad_info["row"].tolist() == list(range(6))


@pytest.mark.parametrize("record", ["ludb/1", "ludb/119", "cinc/A0001", "cinc/E00001"])
def test_layout_from_the_header_matches_the_windows_produced(fixtures_dir, record):
    row = {
        "record": "r",
        "patient": "p",
        "label": "normal",
        "path": str(fixtures_dir / record),
        "mask_source": "none",
        "mains_hz": 50,
    }
    params = PrepareParams()
    assert planned_windows(row, params) == len(process_record(row, params).info) >= 1


MIMIC_COLUMNS = (
    "subject_id,study_id,cart_id,ecg_time,"
    + ",".join(f"report_{i}" for i in range(18))
    + ",bandwidth,filtering,rr_interval,p_onset,p_end,"
    "qrs_onset,qrs_end,t_end,p_axis,qrs_axis,t_axis"
).split(",")


def build_mimic_tree(fixtures_dir: Path, root: Path) -> dict[str, tuple[str, dict]]:
    """A MIMIC-IV-ECG layout holding real LUDB records, with machine measurements taken from
    each record's first regular lead-II beat (ms from 80 ms before its P onset). One extra
    study repeats record 119 with the 29999 fill value for p_onset."""
    rows, measures, truth = [], [], {}
    plan = [
        ("1", "Sinus bradycardia|Abnormal ECG"),
        ("24", "Sinus bradycardia|Abnormal ECG"),
        ("119", "Sinus rhythm|Normal ECG"),
        ("119", "Sinus rhythm|Normal ECG"),
    ]
    for k, (rec, report) in enumerate(plan):
        subject, study = f"1000000{k}", f"5000000{k}"
        folder = root / "files" / "p1000" / f"p{subject}" / f"s{study}"
        folder.mkdir(parents=True)
        for ext in ("hea", "dat"):
            shutil.copy(fixtures_dir / "ludb" / f"{rec}.{ext}", folder / f"{rec}.{ext}")
        ann = wfdb.rdann(str(fixtures_dir / "ludb" / rec), "ii")
        waves = triplets(ann.sample, ann.symbol)
        i = next(
            j for j in range(len(waves) - 2) if [w[0] for w in waves[j : j + 3]] == ["p", "N", "t"]
        )
        (_, p_on, p_off), (_, q_on, q_off), (_, _, t_off) = waves[i : i + 3]
        t0 = p_on - 40
        fid = {
            "p_onset": (p_on - t0) * 2,
            "p_end": (p_off - t0) * 2,
            "qrs_onset": (q_on - t0) * 2,
            "qrs_end": (q_off - t0) * 2,
            "t_end": (t_off - t0) * 2,
        }
        if k == 3:
            fid["p_onset"] = 29999
        reports = report.split("|") + [""] * 16
        measures.append(
            [
                subject,
                study,
                "6848296",
                "2180-07-23 08:44:00",
                *reports,
                "0.005-150 Hz",
                "60 Hz notch Baseline filter",
                800,
                *fid.values(),
                60,
                60,
                60,
            ]
        )
        rows.append(
            [subject, study, study, "2180-07-23 08:44:00", f"files/p1000/p{subject}/s{study}/{rec}"]
        )
        truth[study] = (rec, fid)
    pd.DataFrame(measures, columns=MIMIC_COLUMNS).to_csv(
        root / "machine_measurements.csv", index=False
    )
    pd.DataFrame(rows, columns=["subject_id", "study_id", "file_name", "ecg_time", "path"]).to_csv(
        root / "record_list.csv", index=False
    )
    return truth


def test_mimic_shaped_tree_goes_through_split_and_prepare(fixtures_dir, tmp_path):
    require_train("sklearn")  # `hearteye split`
    root = tmp_path / "mimic"
    truth = build_mimic_tree(fixtures_dir, root)
    cli(
        "split",
        "--dataset",
        "mimic",
        "--root",
        root,
        "--out",
        tmp_path / "split",
        "--val",
        "0.25",
        "--test",
        "0.25",
    )
    master = pd.read_csv(tmp_path / "split" / "master.csv", dtype=str)
    assert master.set_index("record")["label"].to_dict() == {
        "50000000": "abnormal",
        "50000001": "abnormal",
        "50000002": "normal",
        "50000003": "normal",
    }
    cli("prepare", tmp_path / "split", "--out", tmp_path / "prep", "--workers", "2")
    windows, excluded, overlaps = 0, {}, []
    for split in ("train", "val", "test"):
        out = tmp_path / "prep" / split
        manifest = json.loads((out / "manifest.json").read_text())
        for reason, count in manifest["excluded"].items():
            excluded[reason] = excluded.get(reason, 0) + count
        if not manifest["windows"]:
            continue
        info, _ = assert_contract(out, manifest["windows"], per_lead=False)
        assert not (out / "Y_lead_data.npy").exists()
        y = np.load(out / "Y_data.npy")
        m = np.load(out / "M_data.npy")
        for row in info.itertuples():
            windows += 1
            rec, fid = truth[str(row.record)]
            # Every placed P has exactly the measured width (samples at 500 Hz, inclusive).
            p = np.diff(np.concatenate([[0], y[row.row, :, P], [0]]).astype(int))
            widths = np.flatnonzero(p == -1) - np.flatnonzero(p == 1)
            assert set(widths) == {(fid["p_end"] - fid["p_onset"]) // 2 + 1}
            assert m[row.row].sum() > 2500
            # Placed QRS land on the real annotated QRS of lead II.
            ann = wfdb.rdann(str(fixtures_dir / "ludb" / rec), "ii")
            for kind, on, off in triplets(ann.sample, ann.symbol):
                if kind == "N" and m[row.row, on : off + 1].all():
                    overlaps.append(y[row.row, on : off + 1, QRS].mean())
    assert windows == 3 and excluded == {"machine_measurements_missing": 1}
    assert len(overlaps) >= 15 and np.median(overlaps) > 0.8


def test_long_record_without_masks_drops_the_tail(fixtures_dir, tmp_path):
    # CPSC A0001 is 15 s and has no wave boundaries (as PTB-XL): one 10 s window, the 5 s
    # tail dropped, nothing valid to teach, the signal still there for classification.
    header = wfdb.rdheader(str(fixtures_dir / "cinc" / "A0001"))
    assert header.sig_len == 7500
    csv = tmp_path / "all_records.csv"
    pd.DataFrame(
        [
            {
                "record": "A0001",
                "patient": "cpsc-A0001",
                "label": "abnormal",
                "source": "cinc",
                "path": str(fixtures_dir / "cinc" / "A0001"),
                "mask_source": "none",
                "mains_hz": 50,
                "split": "all",
            }
        ]
    ).to_csv(csv, index=False)
    manifest = prepare_split(csv, tmp_path / "out", workers=1)
    assert manifest["windows"] == 1
    info, _ = assert_contract(tmp_path / "out", 1, per_lead=False)
    assert info.loc[0, ["start_sample", "n_samples_origin"]].tolist() == [0, 7500]
    assert np.load(tmp_path / "out" / "M_data.npy").sum() == 0
    x = np.load(tmp_path / "out" / "X_data.npy")
    assert np.abs(x).mean() > 0.1 and pd.isna(info.loc[0, "missing_leads"])  # all 12 leads


def test_prepare_streams_the_csv_and_still_refuses_duplicate_ids(
    fixtures_dir, tmp_path, monkeypatch
):
    from hearteye.data import master as master_module
    from hearteye.errors import HeartEyeError

    # Scan 2 rows at a time, so the duplicate sits in another chunk than its twin.
    monkeypatch.setattr(master_module, "_SCAN_ROWS", 2)
    csv = make_split_csv(fixtures_dir / "ludb", ["1", "24", "119"], tmp_path / "all.csv")
    df = pd.read_csv(csv, dtype=str)
    assert master_module.scan_master(csv) == (3, {"ludb"})
    pd.concat([df, df.iloc[[0]]]).to_csv(csv, index=False)
    with pytest.raises(HeartEyeError, match="'1' appears twice"):
        prepare_split(csv, tmp_path / "out", workers=1)
    df.drop(columns="mask_source").to_csv(csv, index=False)
    with pytest.raises(HeartEyeError, match="lacks column.*mask_source"):
        prepare_split(csv, tmp_path / "out", workers=1)
