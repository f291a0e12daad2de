"""Mask rules, the annotation reader and the QRS detector, on hand-made streams and real LUDB."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from hearteye.data import masks as M
from hearteye.data.annotations import read_annotation
from hearteye.data.ludb import LEAD_EXTENSIONS
from hearteye.data.qrs import detect_qrs
from hearteye.io.wfdb import read_wfdb
from hearteye.signal import preprocess


def stream(*pairs):
    return np.array([p[0] for p in pairs]), [p[1] for p in pairs]


def test_complete_beat_edges_are_inclusive_and_qt_spans_qrs_onset_to_t_end():
    s, y = stream(
        (100, "("),
        (110, "p"),
        (120, ")"),
        (150, "("),
        (160, "N"),
        (170, ")"),
        (250, "("),
        (280, "t"),
        (300, ")"),
    )
    mask, valid = M.lead_masks(s, y, 400)
    assert np.flatnonzero(mask[:, M.P]).tolist() == list(range(100, 121))
    assert np.flatnonzero(mask[:, M.QRS]).tolist() == list(range(150, 171))
    assert np.flatnonzero(mask[:, M.QT]).tolist() == list(range(150, 301))
    assert np.flatnonzero(valid).tolist() == list(range(100, 301))


def test_incomplete_waves_are_invalid_not_background():
    # A QRS without onset at the start, then a full beat, then a T without offset.
    s, y = stream(
        (40, "N"),
        (60, ")"),
        (90, "("),
        (120, "t"),
        (150, ")"),
        (200, "("),
        (210, "N"),
        (230, ")"),
        (300, "("),
        (330, "t"),
    )
    mask, valid = M.lead_masks(s, y, 500)
    # The span starts at the first onset (90): the QRS at 40..60 lies before it.
    assert valid[:90].sum() == 0
    # T at 90..150 belongs to a beat whose QRS onset is unknown: its QT is unknown.
    assert valid[90:151].sum() == 0
    # The last QRS is complete but its T has no offset: QT end unknown -> invalid onwards.
    assert valid[200:].sum() == 0
    assert mask[200:231, M.QRS].all()


def test_onset_written_after_peak_is_accepted():
    s, y = stream(
        (100, "("),
        (120, "N"),
        (140, ")"),
        (200, "("),
        (230, "t"),
        (260, ")"),
        (300, "N"),
        (301, "("),
        (330, ")"),
        (400, "("),
        (430, "t"),
        (460, ")"),
    )
    mask, valid = M.lead_masks(s, y, 600)
    assert mask[300:331, M.QRS].all() and not mask[299, M.QRS] and not mask[331, M.QRS]
    assert mask[300:461, M.QT].all()
    assert valid[100:461].all()


def test_peakless_bracket_pair_is_invalid():
    s, y = stream(
        (100, "("),
        (120, "N"),
        (140, ")"),
        (200, "("),
        (230, "t"),
        (260, ")"),
        (300, "("),
        (340, ")"),
        (400, "("),
        (420, "N"),
        (440, ")"),
        (500, "("),
        (530, "t"),
        (560, ")"),
    )
    mask, valid = M.lead_masks(s, y, 600)
    assert valid[300:341].sum() == 0 and valid[100:300].all() and valid[341:561].all()
    assert mask[300:341].sum() == 0


def test_combine_leads_union_and_intersection():
    masks = np.zeros((3, 10, 3), np.uint8)
    valids = np.zeros((3, 10), np.uint8)
    masks[0, 2:5, M.QRS] = 1
    masks[1, 3:7, M.QRS] = 1
    valids[0, 1:9] = 1
    valids[1, 2:10] = 1
    masks[2, 6:8, M.QRS] = 1  # lead 2: a QRS but no valid stretch (no T marked in LUDB)
    mask, valid = M.combine_leads(masks, valids)
    assert np.flatnonzero(mask[:, M.QRS]).tolist() == [2, 3, 4, 5, 6, 7]  # earliest..latest
    assert np.flatnonzero(valid).tolist() == list(range(2, 9))


def test_rescale_samples_rounds_to_target_rate():
    assert M.rescale_samples(np.array([0, 1, 3, 250]), 250.0, 500.0).tolist() == [0, 2, 6, 500]
    assert M.rescale_samples(np.array([3, 533]), 1600 / 3, 500.0).tolist() == [3, 500]


def test_template_masks_place_the_measured_beat_on_each_qrs():
    fid = {"p_onset": 40, "p_end": 128, "qrs_onset": 170, "qrs_end": 258, "t_end": 518}
    mask, valid = M.template_masks(np.array([50, 1000, 2000, 4990]), fid, 500.0, 5000)
    # QRS midpoint (214 ms) lands on the centre; P onset is 174 ms = 87 samples earlier.
    assert np.flatnonzero(np.diff(mask[:, M.P].astype(int)) == 1).tolist() == [912, 1912]
    assert mask[1000 - 22 : 1000 + 23, M.QRS].all() and not mask[1000 - 23, M.QRS]
    assert mask[1000 - 22 : 1000 + 152, M.QT].all() and not mask[1000 + 153, M.QT]
    # Beats at 50 and 4990 do not fit: dropped, and validity covers the two kept beats.
    assert np.flatnonzero(valid)[[0, -1]].tolist() == [913, 2152]


def _raw(path, ext):
    ann = wfdb.rdann(str(path), ext)
    return ann.sample, ann.symbol


def test_annotation_reader_matches_wfdb_on_fixtures(fixtures_dir):
    for rec in ("1", "24", "119"):
        for ext in LEAD_EXTENSIONS:
            s, y = read_annotation(fixtures_dir / "ludb" / f"{rec}.{ext}")
            rs, ry = _raw(fixtures_dir / "ludb" / rec, ext)
            assert np.array_equal(s, rs) and y == ry


def test_annotation_reader_matches_wfdb_on_ludb(ludb_dir):
    for rec in range(1, 201, 5):  # 40 records x 12 leads: every quirk LUDB has, bounded time
        for ext in LEAD_EXTENSIONS:
            s, y = read_annotation(ludb_dir / f"{rec}.{ext}")
            rs, ry = _raw(ludb_dir / str(rec), ext)
            assert np.array_equal(s, rs) and y == ry, (rec, ext)


def test_qrs_detector_finds_annotated_qrs(fixtures_dir):
    found = missed = extra = 0
    for rec in ("1", "24", "119"):
        path = fixtures_dir / "ludb" / rec
        pre = preprocess(read_wfdb(path))
        peaks = detect_qrs(pre.signal, pre.fs, pre.flat)
        s, y = read_annotation(f"{path}.ii")
        qrs = [w for w in M.parse_waves(s, y, 5000) if w.kind == "N" and w.complete]
        centres = np.array([(w.onset + w.offset) / 2 for w in qrs])
        inside = peaks[(peaks > qrs[0].onset - 100) & (peaks < qrs[-1].offset + 100)]
        near = np.abs(inside[:, None] - centres[None, :]) <= 25  # 50 ms
        found += int(near.any(axis=0).sum())
        missed += int((~near.any(axis=0)).sum())
        extra += int((~near.any(axis=1)).sum())
    assert (missed, extra) == (0, 0) and found >= 20


@pytest.mark.parametrize("bad", [b"\x00", b"\x17\xec"])  # 1 byte; SKIP word without payload
def test_annotation_reader_rejects_truncated_file(tmp_path, bad):
    from hearteye.errors import InvalidRecordError

    f = tmp_path / "x.i"
    f.write_bytes(bad)
    if len(bad) == 1:
        assert read_annotation(f)[0].size == 0
    else:
        with pytest.raises(InvalidRecordError):
            read_annotation(f)
