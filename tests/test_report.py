"""The PDF report, measured as printed: each page is rendered to pixels by poppler (pdftoppm)
at 254 dpi, where 1 mm of paper is 10 pixels, and the calibration pulses, the grid and the
rhythm strip are measured there; the text is read back with pdftotext."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hearteye.analyze import Analysis, analyze
from hearteye.io import read_record
from hearteye.report import PAPERS, render_pdf

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DPI = 254  # 10 px per mm
PX_PER_MM = DPI / 25.4

pytestmark = pytest.mark.skipif(
    not (shutil.which("pdftoppm") and shutil.which("pdftotext")),
    reason="poppler-utils (pdftoppm, pdftotext) not installed",
)


@dataclass(frozen=True)
class Interpreted(Analysis):
    """An analysis with statements and an interpretation, as `analyze` will give them."""

    statements: list = field(default_factory=list)
    interpretation: dict | None = None


def interpreted(analysis: Analysis, **extra) -> Interpreted:
    # Works before and after `Analysis` itself has these fields.
    return Interpreted(**{**analysis.__dict__, **extra})


STATEMENTS = [
    {
        "code": "SBRAD",
        "snomed": "426177001",
        "text": "Sinus bradycardia",
        "category": "rhythm",
        "severity": "normal",
        "evidence": {"heart_rate": 45.4},
    },
    {
        "code": "TAB",
        "snomed": "164934002",
        "text": "T wave abnormality in inferior leads",
        "category": "repolarization",
        "severity": "abnormal",
        "evidence": {},
    },
]


@pytest.fixture(scope="module")
def ludb1() -> Analysis:
    return analyze(read_record(FIXTURES / "ludb" / "1.hea"))


@pytest.fixture(scope="module")
def page(ludb1) -> tuple[bytes, np.ndarray]:
    """LUDB record 1 on A4, as PDF and as pixels."""
    pdf = render_pdf(ludb1, patient={"name": "Jane Doe", "age": 51, "gender": "F"})
    return pdf, _pixels(pdf)


def _pixels(pdf: bytes) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "report.pdf"
        src.write_bytes(pdf)
        # PPM, not PNG: no compression, half the time
        cmd = ["pdftoppm", "-r", str(DPI), "-aaVector", "no", "-singlefile"]
        subprocess.run([*cmd, str(src), str(Path(tmp) / "page")], check=True)
        with Image.open(Path(tmp) / "page.ppm") as img:
            return np.asarray(img.convert("RGB")).astype(np.int16)


def _text(pdf: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "report.pdf"
        src.write_bytes(pdf)
        out = subprocess.run(
            ["pdftotext", "-layout", str(src), "-"], capture_output=True, check=True
        )
    return " ".join(out.stdout.decode().split())


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of True."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    d = np.diff(padded)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1, strict=True))


def _grid_box(img: np.ndarray) -> tuple[int, int, int, int]:
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    major = (r > 200) & (g < 190) & (g > 120) & (abs(g - b) < 12)
    ys, xs = np.nonzero(major)
    return xs.min(), ys.min(), xs.max(), ys.max()


def _major_columns(img: np.ndarray, box) -> list[float]:
    x0, y0, x1, y1 = box
    region = img[y0 : y1 + 1, x0 : x1 + 1]
    r, g = region[..., 0], region[..., 1]
    share = ((r > 200) & (g < 190) & (g > 120)).mean(axis=0)
    return [x0 + (a + b) / 2 for a, b in _runs(share > 0.5)]


def _all_grid_columns(img: np.ndarray, box) -> list[float]:
    x0, y0, x1, y1 = box
    region = img[y0 : y1 + 1, x0 : x1 + 1]
    r, g = region[..., 0], region[..., 1]
    share = ((r > 200) & (g < 235)).mean(axis=0)  # minor or major line colour
    return [x0 + (a + b) / 2 for a, b in _runs(share > 0.5)]


def _pulses(img: np.ndarray, box) -> list[dict]:
    """Height and width (px) of each calibration pulse in the grid's first 10 mm."""
    x0, y0, x1, y1 = box
    width = int(round(10 * PX_PER_MM))
    dark = img[y0 : y1 + 1, x0 : x0 + width].max(axis=2) < 100
    longest = [max((b - a + 1 for a, b in _runs(dark[:, c])), default=0) for c in range(width)]
    edges = [c for c, n in enumerate(longest) if n > 5 * PX_PER_MM]
    groups = _runs(np.isin(np.arange(width), edges))
    rise, fall = (np.mean(groups[0]), np.mean(groups[-1]))
    out = []
    for top, bottom in (r for r in _runs(dark[:, edges[0]]) if r[1] - r[0] > 5 * PX_PER_MM):
        before = int(groups[0][0] - 0.5 * PX_PER_MM)  # baseline, left of the rising edge
        middle = int((rise + fall) / 2)  # top of the pulse
        window = slice(top - 5, bottom + 6)
        base_runs = _runs(dark[window, before])
        top_runs = _runs(dark[window, middle])
        base_y = np.mean(base_runs[-1]) + top - 5
        top_y = np.mean(top_runs[0]) + top - 5
        out.append({"height": base_y - top_y, "width": fall - rise})
    return out


def test_calibration_pulse_and_grid_measured_on_the_printed_page(page):
    pdf, img = page
    assert pdf[:5] == b"%PDF-"
    width_mm, height_mm = PAPERS["a4"]
    assert img.shape[1] == pytest.approx(width_mm * PX_PER_MM, abs=1)
    assert img.shape[0] == pytest.approx(height_mm * PX_PER_MM, abs=1)
    box = _grid_box(img)

    pulses = _pulses(img, box)
    assert len(pulses) == 4  # one per row: 3 rows of 4 leads + the rhythm strip
    for p in pulses:
        assert p["height"] == pytest.approx(10 * PX_PER_MM, abs=1.5)  # 1 mV = 10 mm
        assert p["width"] == pytest.approx(5 * PX_PER_MM, abs=1.5)  # 200 ms = 5 mm

    major = np.diff(_major_columns(img, box))
    assert len(major) >= 50 and np.all(np.abs(major - 5 * PX_PER_MM) <= 1.0)
    lines = np.diff(_all_grid_columns(img, box))
    assert len(lines) >= 250 and np.median(lines) == pytest.approx(PX_PER_MM, abs=0.2)
    # 10 s along the grid = 250 mm of rhythm strip (paper speed 25 mm/s)
    assert (major.sum() / PX_PER_MM) == pytest.approx(260, abs=1)


def test_rhythm_strip_spans_ten_seconds_at_25_mm_per_s(page):
    img = page[1]
    x0, y0, x1, y1 = _grid_box(img)
    bottom_row = img[y1 - int(30 * PX_PER_MM) : y1, x0 : x1 + 1].max(axis=2) < 100
    cols = np.flatnonzero(bottom_row.any(axis=0))
    trace_start = x0 + 10 * PX_PER_MM  # after the calibration column
    drawn = cols[cols > 10.5 * PX_PER_MM]
    assert (x0 + drawn.max() - trace_start) / PX_PER_MM == pytest.approx(250, abs=0.6)


def test_text_holds_patient_measurements_and_unconfirmed(ludb1, page):
    text = _text(page[0])
    g = ludb1.measurements["global"]
    assert "Jane Doe" in text and "51 years, female" in text
    assert "UNCONFIRMED" in text and "Confirmed by" not in text
    for label, name, unit in (
        ("HR", "heart_rate", "bpm"),
        ("PR", "pr_interval", "ms"),
        ("QRS", "qrs_duration", "ms"),
        ("QTc", "qtc_bazett", "ms"),
        ("QT", "qt_interval", "ms"),
    ):
        assert f"{label} {g[name]['value']:.0f} {unit}" in text
    assert f"QRS axis {g['qrs_axis']['value']:.0f}°" in text


def test_letter_paper(ludb1):
    pdf = render_pdf(ludb1, paper="letter")
    img = _pixels(pdf)
    assert img.shape[1] == pytest.approx(PAPERS["letter"][0] * PX_PER_MM, abs=1)
    assert img.shape[0] == pytest.approx(PAPERS["letter"][1] * PX_PER_MM, abs=1)
    for p in _pulses(img, _grid_box(img)):
        assert p["height"] == pytest.approx(10 * PX_PER_MM, abs=1.5)


def test_statements_interpretation_and_confirmation_are_printed(ludb1):
    rich = interpreted(
        ludb1,
        statements=STATEMENTS,
        interpretation={
            "overall": "Abnormal ECG",
            "severity": "abnormal",
            "alerts": [{"code": "TAB", "text": "Repolarization abnormality: review"}],
        },
    )
    text = _text(
        render_pdf(
            rich,
            patient={"name": "Jane Doe"},
            confirmation={"by": "Dr. A. Meyer", "at": "2026-11-29 10:12 UTC"},
        )
    )
    assert "Abnormal ECG" in text
    assert "ALERT: Repolarization abnormality: review" in text
    assert "Sinus bradycardia" in text and "T wave abnormality in inferior leads" in text
    assert "Confirmed by Dr. A. Meyer on 2026-11-29 10:12 UTC" in text
    assert "UNCONFIRMED" not in text
    # Without statements the classifier's verdict stands in.
    assert "automated classifier" in _text(render_pdf(ludb1)) and "automated" not in text


def test_many_statements_fit_in_two_columns(ludb1):
    many = [dict(STATEMENTS[0], text=f"Statement number {i}") for i in range(30)]
    text = _text(render_pdf(interpreted(ludb1, statements=many)))
    assert "Statement number 0" in text and "Statement number 9" in text
    assert "more" in text  # the rest is counted, not drawn over the ECG


def test_edf_ptbxl_and_short_records(shared_data):
    edf = analyze(read_record(FIXTURES / "edf" / "ludb_119.edf"))
    ptb = shared_data / "ptbxl" / "records100" / "00000" / "00001_lr.hea"
    if not ptb.is_file():
        pytest.skip(f"PTB-XL record not at {ptb}")
    ptbxl = analyze(read_record(ptb))  # 100 Hz, resampled to 500 by the analysis
    for analysis in (edf, ptbxl):
        img = _pixels(render_pdf(analysis))
        for p in _pulses(img, _grid_box(img)):
            assert p["height"] == pytest.approx(10 * PX_PER_MM, abs=1.5)
    two = Analysis(**{**edf.__dict__, "leads": ("II", "V1"), "signal": edf.signal[[1, 6]]})
    img = _pixels(render_pdf(two))
    assert len(_pulses(img, _grid_box(img))) == 2
    short = Analysis(**{**edf.__dict__, "signal": edf.signal[:, :1500]})  # 3 s
    assert "Patient not named" in _text(render_pdf(short))


def test_same_analysis_same_bytes_and_bad_paper(ludb1):
    assert render_pdf(ludb1) == render_pdf(ludb1)
    with pytest.raises(ValueError, match="paper"):
        render_pdf(ludb1, paper="a3")


def test_concurrent_renders_are_identical(ludb1):
    """The service renders in threads: each page is its own figure, nothing shared."""
    from concurrent.futures import ThreadPoolExecutor

    names = [f"Patient {i}" for i in range(4)]
    alone = [render_pdf(ludb1, patient={"name": n}) for n in names]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda n: render_pdf(ludb1, patient={"name": n}), names))
    assert together == alone
