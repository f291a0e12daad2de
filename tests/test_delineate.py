"""Delineation: post-processing, evaluator, the shipped ONNX model, stitching, CLI.

All on real LUDB records (the fixtures; the AF check uses the staged data set when present).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import require_train
from hearteye.data.annotations import read_annotation
from hearteye.data.masks import lead_masks
from hearteye.delineate.postprocess import (
    FIELDS,
    POINTS,
    beats_from_probs,
    boundaries,
    clean_runs,
)
from hearteye.delineate.runtime import Delineator, default_model_path
from hearteye.io.wfdb import read_wfdb
from hearteye.record import Record
from hearteye.signal import preprocess
from hearteye.train.evaluate_delineator import (
    LUDB_LEAD_EXT,
    Evaluator,
    match,
    read_ludb_lead,
)

RECORDS = ("1", "24", "119")
FS = 500.0


@pytest.fixture(scope="module")
def delineator() -> Delineator:
    if not default_model_path().is_file():
        pytest.fail(f"shipped model missing: {default_model_path()}")
    return Delineator(threads=1)


def _annotated_qrs(base, lead: str) -> int:
    ref, _ = read_ludb_lead(base, lead)
    return len(ref["qrs_onset"])


# -- post-processing and evaluator ------------------------------------------------------------


def test_postprocess_recovers_annotated_boundaries_from_real_masks(fixtures_dir):
    """Masks made from the annotation (the training targets) give back the annotation."""
    ev = Evaluator(FS)
    for rec in RECORDS:
        base = fixtures_dir / "ludb" / rec
        for lead, ext in LUDB_LEAD_EXT.items():
            samples, symbols = read_annotation(f"{base}.{ext}")
            mask, _ = lead_masks(samples, symbols, 5000)
            beats = beats_from_probs(mask.T.astype(np.float32), FS)
            ref, region = read_ludb_lead(base, lead)
            ev.add_lead(ref, boundaries(beats), region)
    rep = ev.report()["boundaries"]
    for f in FIELDS:
        assert rep[f]["ppv"] == 1.0, f
        assert rep[f]["error_mean_ms"] == 0.0 and rep[f]["error_sd_ms"] == 0.0, f
    for f in ("p_onset", "p_offset", "qrs_onset", "qrs_offset"):
        assert rep[f]["se"] == 1.0, f
    # T ends whose QRS onset is outside the annotated span have no QT mask: a few are lost.
    assert rep["t_offset"]["se"] > 0.9
    assert rep["qrs_onset"]["tp"] > 240  # 3 records x 12 leads x ~7-8 beats


def test_clean_runs_merges_gaps_and_drops_fragments():
    m = np.zeros(500, bool)
    m[100:140] = True
    m[145:180] = True  # 5-sample gap (10 ms): same wave
    m[300:305] = True  # 10 ms fragment: dropped
    r = clean_runs(m, FS, min_s=0.03, gap_s=0.02)
    assert r.tolist() == [[100, 179]]


def test_no_p_wave_without_p_run():
    """A QRS/QT trace with no P probability yields beats with P = None (nothing invented)."""
    prob = np.zeros((3, 2000), np.float32)
    for q in (300, 800, 1300):
        prob[1, q : q + 45] = 1
        prob[2, q : q + 200] = 1
    beats = beats_from_probs(prob, FS)
    assert len(beats) == 3
    assert all(b.p_onset is None and b.p_offset is None for b in beats)
    assert [b.t_offset for b in beats] == [499.0, 999.0, 1499.0]


def test_match_is_one_to_one_and_ignores_unannotated_region():
    ref = np.array([100.0, 200.0])
    pred = np.array([10.0, 101.0, 103.0, 260.0, 900.0])
    tp, fn, fp, err = match(ref, pred, tol=75, region=(90, 800))
    assert (tp, fn) == (2, 0)
    assert fp == 1  # 103 (second candidate for 100); 10 and 900 lie outside the region
    assert sorted(err.tolist()) == [1.0, 60.0]


# -- the shipped model -------------------------------------------------------------------------


def test_runtime_does_not_import_torch():
    code = (
        "import sys, hearteye.delineate.runtime, hearteye.train.evaluate_delineator; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_model_finds_the_annotated_beats(fixtures_dir, delineator):
    ev = Evaluator(FS)
    for rec in RECORDS:
        base = fixtures_dir / "ludb" / rec
        out = delineator.delineate(read_wfdb(base))
        for lead in LUDB_LEAD_EXT:
            ref, region = read_ludb_lead(base, lead)
            pred = boundaries(out.leads[lead])
            ev.add_lead(ref, pred, region)
            inside = pred["qrs_onset"][
                (pred["qrs_onset"] >= region[0] - 75) & (pred["qrs_onset"] <= region[1])
            ]
            assert abs(len(inside) - len(ref["qrs_onset"])) <= 1, (rec, lead)
        # Global beats: one per annotated QRS of lead II.
        n_qrs = sum(b.qrs_onset is not None for b in out.beats)
        assert abs(n_qrs - _annotated_qrs(base, "II")) <= 2
    rep = ev.report()["boundaries"]
    for f in ("qrs_onset", "qrs_offset"):
        assert rep[f]["f1"] > 0.98, (f, rep[f])
        assert abs(rep[f]["error_mean_ms"]) < 10 and rep[f]["error_sd_ms"] < 20
    for f in ("p_onset", "p_offset", "t_offset"):
        assert rep[f]["f1"] > 0.9, (f, rep[f])


@pytest.mark.parametrize("leads", [("II",), ("I", "II", "V1")])
def test_model_works_on_one_and_three_leads(fixtures_dir, delineator, leads):
    base = fixtures_dir / "ludb" / "24"
    full = read_wfdb(base)
    rec = Record(signal=np.stack([full.lead(n) for n in leads]), fs=full.fs, leads=leads)
    out = delineator.delineate(rec)
    assert set(out.leads) == set(leads)
    for lead in leads:
        ref, region = read_ludb_lead(base, lead)
        tp, fn, fp, err = match(
            ref["qrs_onset"], boundaries(out.leads[lead])["qrs_onset"], 75, region
        )
        assert fn == 0 and fp == 0, (lead, tp, fn, fp)
        assert np.abs(err).mean() < 10 * FS / 1000
    assert abs(sum(b.qrs_onset is not None for b in out.beats) - _annotated_qrs(base, "II")) <= 2


def test_model_on_edf_fixture_matches_wfdb(fixtures_dir, delineator):
    from hearteye.io import read_record

    for rec in ("24", "119"):
        edf = read_record(fixtures_dir / "edf" / f"ludb_{rec:0>3}.edf")
        wf = read_wfdb(fixtures_dir / "ludb" / rec)
        a, b = delineator.delineate(edf), delineator.delineate(wf)
        qa = np.array([x.qrs_onset for x in a.beats if x.qrs_onset is not None])
        qb = np.array([x.qrs_onset for x in b.beats if x.qrs_onset is not None])
        assert len(qa) == len(qb) > 5
        assert np.abs(qa - qb).max() <= 2


def test_af_record_gets_no_invented_p_waves(ludb_dir, delineator):
    """LUDB 8 is atrial fibrillation (no P annotated): almost no beat may carry a P wave."""
    out = delineator.delineate(read_wfdb(ludb_dir / "8"))
    qrs_beats = [b for b in out.beats if b.qrs_onset is not None]
    assert len(qrs_beats) >= 5
    assert sum(b.p_onset is not None for b in qrs_beats) <= len(qrs_beats) // 5


# -- long records: windows and stitching ----------------------------------------------------------


def test_stitching_loses_and_doubles_no_beat(fixtures_dir, delineator):
    """60 s of real signal delineated as one piece vs in small overlapping windows."""
    sig = np.concatenate(
        [preprocess(read_wfdb(fixtures_dir / "ludb" / r)).signal for r in RECORDS + RECORDS], axis=1
    )
    leads = tuple(read_wfdb(fixtures_dir / "ludb" / "1").leads)
    whole = delineator.delineate_signal(sig, leads, single_window=10**9)
    small = delineator.delineate_signal(sig, leads, window=2048, context=512, single_window=0)
    default = delineator.delineate_signal(sig, leads)
    qw = np.array([b.qrs_onset for b in whole.beats if b.qrs_onset is not None])
    assert len(qw) > 45
    for other in (small, default):
        qo = np.array([b.qrs_onset for b in other.beats if b.qrs_onset is not None])
        assert len(qo) == len(qw)  # window borders (every 1024 / 4096 samples) lose or double none
        assert np.abs(qo - qw).max() <= 4  # 8 ms


def test_streamed_long_record_gives_the_same_beats_and_keeps_no_probabilities(
    fixtures_dir, delineator
):
    """A long record streamed in blocks (small blocks, so 60 s of real signal spans many)
    gives exactly the beats, per lead and global, of the whole stitched trace."""
    sig = np.concatenate(
        [preprocess(read_wfdb(fixtures_dir / "ludb" / r)).signal for r in RECORDS + RECORDS], axis=1
    )
    leads = tuple(read_wfdb(fixtures_dir / "ludb" / "1").leads)
    kw = {"window": 2048, "context": 512, "single_window": 0}
    whole = delineator.delineate_signal(sig, leads, **kw)
    streamed = delineator.delineate_signal(sig, leads, block_windows=3, keep_prob_samples=0, **kw)
    assert whole.prob is not None and streamed.prob is None
    assert len(whole.beats) > 45
    assert streamed.beats == whole.beats
    assert dict(streamed.leads) == dict(whole.leads)


def test_long_record_delineated_chunk_by_chunk_matches_the_whole(fixtures_dir, delineator):
    """Preprocessing and delineating 4 min of real signal (at 250 Hz, as a Holter) in 1 min
    chunks gives exactly the beats of the whole record, global and per lead: each chunk's
    windows are placed on the whole record's grid."""
    from scipy.signal import resample_poly

    from hearteye.chunks import Chunking, SignalChunks

    sig = np.concatenate([read_wfdb(fixtures_dir / "ludb" / r).signal for r in RECORDS] * 8, axis=1)
    x = resample_poly(sig, 1, 2, axis=1).astype(np.float32)
    rec = Record(signal=x, fs=250.0, leads=read_wfdb(fixtures_dir / "ludb" / "1").leads)
    whole = delineator.delineate_chunks(
        SignalChunks.of(rec, chunking=Chunking(stream_above_s=1e9)), rec.fs
    )
    chunked = delineator.delineate_long(rec, chunk_s=60.0)
    assert chunked.prob is None and chunked.record_fs == 250.0
    assert len(whole.beats) > 200
    assert chunked.beats == whole.beats
    assert dict(chunked.leads) == dict(whole.leads)


# -- CLI -----------------------------------------------------------------------------------------


def test_cli_delineate_json(fixtures_dir):
    from click.testing import CliRunner

    from hearteye.cli import main

    res = CliRunner().invoke(main, ["delineate", str(fixtures_dir / "ludb" / "1.hea"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["fs"] == 500.0
    assert set(out["leads"]) == set(LUDB_LEAD_EXT)
    beats = out["beats"]
    assert len(beats) >= 6
    for b in beats:
        assert set(b) == set(FIELDS) | set(POINTS)
        assert all(v is None or 0.0 <= v <= 10.0 for v in b.values())
    qrs = [b["qrs_onset"] for b in beats if b["qrs_onset"] is not None]
    assert qrs == sorted(qrs)


# -- training (smoke: the script runs end to end and exports a working ONNX file) -----------------


@pytest.mark.slow
def test_train_delineator_smoke(tmp_path, fixtures_dir):
    require_train("torch", "onnx", "onnxscript")
    from hearteye.train.train_delineator import TrainConfig, train

    exts = list(LUDB_LEAD_EXT.values())
    for split, recs in (("train", ["24", "119"]), ("val", ["1"])):
        x, y, m = [], [], []
        for rec in recs:
            base = fixtures_dir / "ludb" / rec
            x.append(preprocess(read_wfdb(base)).signal.T)
            lm = [lead_masks(*read_annotation(f"{base}.{e}"), 5000) for e in exts]
            y.append(np.stack([a for a, _ in lm], axis=1))
            m.append(np.stack([b for _, b in lm], axis=1))
        d = tmp_path / split
        d.mkdir()
        np.save(d / "X_data.npy", np.stack(x))
        np.save(d / "Y_lead_data.npy", np.stack(y))
        np.save(d / "M_lead_data.npy", np.stack(m))
    out = tmp_path / "m.onnx"
    log = train(
        TrainConfig(
            data=str(tmp_path),
            out=str(out),
            max_steps=3,
            eval_every=3,
            batch_windows=2,
            crop=1024,
            threads=1,
        )
    )
    assert out.is_file() and log["best_step"] == 3
    d = Delineator(out)
    assert d.multiple == 64 and d.channels == ("P", "QRS", "QT")
    assert d.probabilities(np.zeros((2, 3000), np.float32)).shape == (2, 3, 3000)


def test_the_result_is_complete_and_immutable(delineator, fixtures_dir):
    """One result object, built once: no field can be patched afterwards by a consumer."""
    import dataclasses

    rec = read_wfdb(fixtures_dir / "ludb" / "24.hea")
    out = delineator.delineate(rec)
    assert out.record_fs == rec.fs and out.fs == FS and out.model == delineator.version
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.record_fs = 1.0
    with pytest.raises(TypeError):
        out.leads["II"] = ()
    with pytest.raises(ValueError):
        out.prob[0, 0, 0] = 1.0
    assert isinstance(out.beats, tuple) and all(isinstance(b, tuple) for b in out.leads.values())


def test_analyze_uses_the_delineator_result_as_it_is(delineator, fixtures_dir):
    """`analyze` takes the same path as `Delineator.delineate`: the same beats, per lead and
    global, and the model's own version string."""
    from hearteye.analyze import analyze

    rec = read_wfdb(fixtures_dir / "ludb" / "1.hea")
    direct = delineator.delineate(rec).to_dict()
    a = analyze(rec)
    assert [{k: v for k, v in b.items() if k != "type"} for b in a.beats] == direct["beats"]
    assert a.lead_beats == direct["leads"]
    assert a.delineator == delineator.version
