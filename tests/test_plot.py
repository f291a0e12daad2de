"""The ECG plot: a valid PNG on standard paper for 12 leads, other lead sets, short, long and
unmeasurable records; safe to render from several threads."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hearteye.analyze import analyze
from hearteye.io import read_record
from hearteye.plot import MM_PER_MV, MM_PER_S, _Page, render_png

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def analysis():
    return analyze(read_record(FIXTURES / "ludb" / "1.hea"))


def _image(png: bytes) -> Image.Image:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(png))
    img.load()
    return img


def test_twelve_leads_on_standard_paper(analysis):
    png = render_png(analysis, patient={"name": "Jane Doe", "age": 51, "gender": "F"}, dpi=100)
    img = _image(png)
    page = _Page(4, True)  # 3 rows of 4 leads + the lead II rhythm strip
    assert page.grid_w == pytest.approx(10 + 10 * MM_PER_S)  # calibration + 10 s at 25 mm/s
    expected = (page.width / 25.4 * 100, page.height / 25.4 * 100)
    assert all(abs(got - want) <= 1 for got, want in zip(img.size, expected, strict=True))
    assert MM_PER_S == 25 and MM_PER_MV == 10
    assert 20_000 < len(png) < 400_000


def test_overlay_and_header_change_the_pixels(analysis):
    bare = replace(analysis, beats=[], lead_beats={}, measurements={"global": {}, "leads": {}})
    a, b = (np.asarray(_image(render_png(x)).convert("RGB")) for x in (analysis, bare))
    assert a.shape == b.shape and (a != b).any()


def test_other_lead_sets_get_one_row_per_lead(analysis):
    idx = [analysis.leads.index(n) for n in ("I", "II", "V1")]
    three = replace(
        analysis,
        leads=("I", "II", "V1"),
        signal=analysis.signal[idx],
        lead_beats={k: v for k, v in analysis.lead_beats.items() if k in ("I", "II", "V1")},
    )
    img3 = _image(render_png(three, dpi=100))
    img12 = _image(render_png(analysis, dpi=100))
    assert img3.size[0] == img12.size[0] and img3.size[1] < img12.size[1]


def test_short_long_and_unmeasured_records_render(analysis):
    short = replace(analysis, signal=analysis.signal[:, :1500])  # 3 s
    long = replace(analysis, signal=np.tile(analysis.signal, (1, 6)))  # 60 s: first 10 drawn
    nan = {"global": {"heart_rate": {"value": None, "unit": "bpm", "flag": None}}}
    unmeasured = replace(
        analysis,
        measurements=nan,
        beats=[],
        lead_beats={},
        quality=[{"code": "flat_lead", "severity": "warning", "lead": "V3", "message": "flat"}],
    )
    for a in (short, long, unmeasured):
        _image(render_png(a))
    assert _image(render_png(long)).size == _image(render_png(analysis)).size


def test_concurrent_renders_are_identical(analysis):
    expected = render_png(analysis)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: render_png(analysis), range(8)))
    assert all(r == expected for r in results)
