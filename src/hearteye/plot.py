"""The ECG as a clinician reads it: leads on standard paper, delineation overlaid, key
measurements, the overall interpretation line and the first statements printed.
`render_png(analysis)` returns PNG bytes.

Paper: 25 mm/s and 10 mm/mV, 1 mm minor and 5 mm major grid, a 1 mV calibration pulse at
the start of every row. Twelve standard leads are laid out the usual way (rows I/aVR/V1/V4,
II/aVL/V2/V5, III/aVF/V3/V6, 2.5 s each, simultaneous in time) with a 10 s lead II rhythm
strip; any other lead set gets one full-width row per lead. Only the first 10 s are drawn.

The drawing works in millimetres of paper (one axes, equal aspect), so the scale is exact by
construction; the grid and traces are single collections and the PNG is written with light
compression, which keeps a render around 100 ms.
"""

from __future__ import annotations

import io
import math
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from hearteye.analyze import Analysis
from hearteye.record import STANDARD_LEADS

MM_PER_S = 25.0
MM_PER_MV = 10.0
SECONDS = 10.0
MAX_ROWS = 16  # more leads than this would not be readable on one page
_LAYOUT_12 = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
_RHYTHM_LEAD = "II"
_CAL_MM = 10.0  # room for the calibration pulse left of the traces
_MARGIN_MM = 6.0
_HEADER_MM = 30.0
_FOOTER_MM = 7.0
_ROW_MM_12 = 37.5  # 3.75 mV per row: big QRS complexes rarely reach the next row
_ROW_MM_N = 30.0
_GRID_MINOR = "#fad4d4"
_GRID_MAJOR = "#ee9a9a"
_MARK_MM = 1.2  # height of the wave bars under each trace
_TRACE = "#111111"
_WAVES = (
    ("p", "p_onset", "p_offset", "#3b7dd8", 0.22),
    ("qrs", "qrs_onset", "qrs_offset", "#d83b3b", 0.20),
    ("t", "qrs_offset", "t_offset", "#2e9d4f", 0.12),
)
_KEY = (
    ("heart_rate", "HR", "{:.0f} bpm"),
    ("pr_interval", "PR", "{:.0f} ms"),
    ("qrs_duration", "QRS", "{:.0f} ms"),
    ("qt_interval", "QT", "{:.0f} ms"),
    ("qtc_bazett", "QTc", "{:.0f} ms"),
    ("p_duration", "P", "{:.0f} ms"),
)
_AXES = (("p_axis", "P"), ("qrs_axis", "QRS"), ("t_axis", "T"))
TOP_STATEMENTS = 4  # statements printed in the header, in catalogue order


def render_png(analysis: Analysis, *, patient: dict | None = None, dpi: int = 110) -> bytes:
    """The plot of ``analysis`` as PNG bytes. ``patient``: optional ``name``, ``age``,
    ``gender`` printed in the header (the analysis itself carries no identity)."""
    from matplotlib.collections import LineCollection, PolyCollection
    from PIL import Image, ImageDraw

    rows = _rows(analysis)
    page = _Page(len(rows), _is_standard(analysis))
    paper = _paper(tuple(tuple(seg[0] for seg in row) for row in rows), page, dpi)
    fs = float(analysis.fs)
    traces, marks, colors = [], [], []
    for r, segments in enumerate(rows):
        base = page.baseline(r)
        for lead, t0, t1 in segments:
            x0 = _CAL_MM + t0 * MM_PER_S
            idx = analysis.leads.index(lead)
            y = analysis.signal[idx, int(round(t0 * fs)) : int(round(t1 * fs))]
            if y.size == 0:
                continue
            x = x0 + np.arange(y.size) * (MM_PER_S / fs)
            traces.append(np.column_stack([x, base + y.astype(np.float64) * MM_PER_MV]))
            beats = analysis.lead_beats.get(lead) or analysis.beats
            for rect, color in _wave_marks(
                beats, t0, t1, x0 - t0 * MM_PER_S, base - page.row_mm * 0.24
            ):
                marks.append(rect)
                colors.append(color)
    artists = []
    if marks:
        artists.append(PolyCollection(marks, facecolors=colors, edgecolors="none", zorder=2))
    artists.append(
        LineCollection(
            traces, colors=_TRACE, linewidths=0.75, zorder=3, joinstyle="round", capstyle="round"
        )
    )
    with paper.lock:
        # Blitting: restore the pre-drawn paper, draw only what belongs to this ECG on it.
        paper.canvas.restore_region(paper.background)
        for artist in artists:
            paper.ax.add_collection(artist, autolim=False)
        try:
            for artist in artists:
                paper.fig.draw_artist(artist)
            width, height = paper.canvas.get_width_height()
            # convert() copies out of the canvas buffer, which the next render reuses.
            image = Image.frombuffer(
                "RGBA", (width, height), paper.canvas.buffer_rgba(), "raw", "RGBA", 0, 1
            ).convert("RGB")
        finally:
            for artist in artists:
                artist.remove()
    # Text through PIL: matplotlib rasterises every glyph anew (~20 times slower here).
    _header(ImageDraw.Draw(image), analysis, patient, page, dpi)
    # A fixed palette of the plot's own colours and their anti-aliasing ramps: the PNG is 2-3
    # times smaller and encodes faster than RGB, and mapping to it costs a few ms.
    image = image.quantize(palette=_palette(), dither=Image.Dither.NONE)
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1, dpi=(dpi, dpi))
    return buf.getvalue()


class _Page:
    """Paper geometry in millimetres (hashable by value: it keys the paper cache)."""

    def __eq__(self, other):
        return isinstance(other, _Page) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def _key(self):
        return (self.row_mm, self.grid_h)

    def __init__(self, n_rows: int, standard: bool):
        self.row_mm = _ROW_MM_12 if standard else _ROW_MM_N
        self.grid_w = _CAL_MM + SECONDS * MM_PER_S
        self.grid_h = self.row_mm * n_rows
        self.width = self.grid_w + 2 * _MARGIN_MM
        self.height = self.grid_h + _HEADER_MM + _FOOTER_MM

    def axes(self, fig):
        ax = fig.add_axes(
            (
                _MARGIN_MM / self.width,
                _FOOTER_MM / self.height,
                self.grid_w / self.width,
                self.grid_h / self.height,
            )
        )
        ax.set_xlim(0, self.grid_w)
        ax.set_ylim(0, self.grid_h)
        ax.set_axis_off()
        ax.patch.set_alpha(0)
        return ax

    def baseline(self, row: int) -> float:
        return self.grid_h - (row + 0.55) * self.row_mm


class _Paper:
    """A figure with the paper drawn once, and its pixels to restore before each ECG."""

    def __init__(self, layout: tuple[tuple[str, ...], ...], page: _Page, dpi: int):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure

        self.lock = threading.Lock()
        self.fig = Figure(
            figsize=(page.width / 25.4, page.height / 25.4), dpi=dpi, facecolor="white"
        )
        self.canvas = FigureCanvasAgg(self.fig)
        self.ax = ax = page.axes(self.fig)
        _grid(ax, page.grid_w, page.grid_h)
        pulses = []
        col = SECONDS / len(layout[0]) if layout else SECONDS
        for r, leads in enumerate(layout):
            base = page.baseline(r)
            pulses.append(_calibration(base))
            for c, lead in enumerate(leads):
                x0 = _CAL_MM + c * col * MM_PER_S
                ax.text(
                    x0 + 1.0,
                    base + page.row_mm * 0.28,
                    lead,
                    fontsize=8,
                    fontweight="bold",
                    va="bottom",
                    ha="left",
                    color="#222222",
                )
                if c > 0:  # the lead-change marker of printed ECGs
                    pulses.append(np.array([[x0, base - 2.5], [x0, base + 2.5]]))
        ax.add_collection(LineCollection(pulses, colors=_TRACE, linewidths=0.75, zorder=3))
        left = _MARGIN_MM / page.width
        self.fig.text(
            left,
            2.0 / page.height,
            "25 mm/s    10 mm/mV    1 mV calibration",
            fontsize=7,
            color="#555555",
            va="bottom",
        )
        self.fig.text(
            1 - left,
            2.0 / page.height,
            "HeartEye: decision support, not a diagnosis",
            fontsize=7,
            color="#555555",
            va="bottom",
            ha="right",
        )
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)


@lru_cache(maxsize=32)
def _paper(layout: tuple[tuple[str, ...], ...], page: _Page, dpi: int) -> _Paper:
    return _Paper(layout, page, dpi)


# ------------------------------------------------------------------------------ layout


def _is_standard(analysis: Analysis) -> bool:
    return set(STANDARD_LEADS) <= set(analysis.leads)


def _rows(analysis: Analysis) -> list[list[tuple[str, float, float]]]:
    """Per row, the (lead, start s, end s) segments to draw."""
    duration = min(SECONDS, analysis.signal.shape[1] / float(analysis.fs))
    if _is_standard(analysis):
        col = SECONDS / 4
        rows = [
            [
                (lead, c * col, min((c + 1) * col, duration))
                for c, lead in enumerate(row)
                if c * col < duration
            ]
            for row in _LAYOUT_12
        ]
        rows.append([(_RHYTHM_LEAD, 0.0, duration)])
        return rows
    return [[(lead, 0.0, duration)] for lead in analysis.leads[:MAX_ROWS]]


def _calibration(base: float) -> np.ndarray:
    """The 1 mV, 200 ms standardisation pulse."""
    x0, w = 2.0, 0.2 * MM_PER_S
    h = MM_PER_MV
    return np.array(
        [
            [0.5, base],
            [x0, base],
            [x0, base + h],
            [x0 + w, base + h],
            [x0 + w, base],
            [_CAL_MM - 0.5, base],
        ]
    )


def _wave_marks(beats, t0: float, t1: float, x_of_zero: float, y: float):
    """A coloured bar under the trace for each delineated wave (P, QRS, T): the boundaries
    are visible without covering the signal."""
    for _name, on_key, off_key, color, _alpha in _WAVES:
        for beat in beats:
            on, off = beat.get(on_key), beat.get(off_key)
            if on is None or off is None or off <= on or off < t0 or on > t1:
                continue
            xa = x_of_zero + max(on, t0) * MM_PER_S
            xb = x_of_zero + min(off, t1) * MM_PER_S
            yield (
                np.array([[xa, y], [xb, y], [xb, y + _MARK_MM], [xa, y + _MARK_MM]]),
                _rgba(color, 0.85),
            )


@lru_cache(maxsize=16)
def _rgba(color: str, alpha: float) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    return to_rgba(color, alpha)


# ----------------------------------------------------------------------------- drawing


def _grid(ax, width: float, height: float) -> None:
    from matplotlib.collections import LineCollection

    minor, major = [], []
    for x in range(int(math.floor(width)) + 1):
        (major if x % 5 == 0 else minor).append([(x, 0), (x, height)])
    for y in range(int(math.floor(height)) + 1):
        (major if y % 5 == 0 else minor).append([(0, y), (width, y)])
    ax.add_collection(
        LineCollection(minor, colors=_GRID_MINOR, linewidths=0.3, antialiaseds=False, zorder=0)
    )
    ax.add_collection(
        LineCollection(major, colors=_GRID_MAJOR, linewidths=0.6, antialiaseds=False, zorder=1)
    )


def _value(analysis: Analysis, name: str) -> tuple[float | None, str | None]:
    m = (analysis.measurements or {}).get("global", {}).get(name)
    if not isinstance(m, dict):
        return None, None
    v = m.get("value")
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None, None
    return float(v), m.get("flag")


@lru_cache(maxsize=1)
def _palette():
    """A 'P' image whose palette holds every colour the plot uses, each blended towards the
    colours it is drawn over (anti-aliased edges), so nearest-colour mapping is faithful."""
    from matplotlib.colors import to_rgb
    from PIL import Image

    def rgb(c):
        return np.array(to_rgb(c)) * 255

    paper = [rgb("white"), rgb(_GRID_MINOR), rgb(_GRID_MAJOR)]
    inks = [
        rgb(c)
        for c in (
            _TRACE,
            "#222222",
            "#333333",
            "#555555",
            "#111111",
            "#b00020",
            "#1b7f3b",
            "#a15c00",
            *(w[3] for w in _WAVES),
        )
    ]
    colours = []
    for ink in inks:
        for bg in paper:
            for t in np.linspace(0, 1, 9 if ink is inks[0] else 4):
                colours.append(np.rint(bg + (ink - bg) * t))
    table = np.unique(np.array(colours, dtype=np.uint8), axis=0)[:256]
    flat = table.flatten().tolist()
    img = Image.new("P", (1, 1))
    img.putpalette(flat + flat[:3] * (256 - len(table)))
    return img


@lru_cache(maxsize=8)
def _font(size_px: int, bold: bool = False):
    import matplotlib
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(
        str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size_px
    )


def _fit(draw, text: str, font, width: float) -> str:
    """``text`` cut with an ellipsis to fit ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if draw.textlength(text[:mid] + "…", font=font) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "…"


def _header(draw, analysis: Analysis, patient: dict | None, page: _Page, dpi: int) -> None:
    px = dpi / 25.4  # pixels per mm
    big, body, small = _font(round(4.2 * px), True), _font(round(3.3 * px)), _font(round(2.8 * px))
    bold_small = _font(round(2.8 * px), True)
    left, right = _MARGIN_MM * px, (page.width - _MARGIN_MM) * px
    y = 3.0 * px
    line = 5.0 * px

    p = patient or {}
    ident = [str(p["name"])[:80]] if p.get("name") else []
    if p.get("age") is not None:
        ident.append(f"{p['age']} y")
    if p.get("gender"):
        ident.append({"M": "male", "F": "female", "O": "other"}.get(p["gender"], p["gender"]))
    draw.text((left, y), "   ".join(ident) or "ECG", font=big, fill="#111111")
    cls = str(analysis.classification).capitalize()
    prob = float(analysis.probability_abnormal)
    # An abnormal statement makes the verdict abnormal whatever the model's probability
    # (hearteye.interpret.verdict), so the probability is printed as what it is.
    draw.text(
        (right, y),
        f"{cls}  (P(abnormal) {prob:.0%})",
        font=big,
        anchor="ra",
        fill="#b00020" if cls == "Abnormal" else "#1b7f3b",
    )

    parts, flagged = [], []
    for name, label, fmt in _KEY:
        value, flag = _value(analysis, name)
        text = f"{label} {fmt.format(value)}" if value is not None else f"{label} —"
        if flag:
            flagged.append(f"{text} ({flag})")
        parts.append(text)
    axes = []
    for name, label in _AXES:
        value, _flag = _value(analysis, name)
        axes.append(f"{label} {value:.0f}°" if value is not None else f"{label} —")
    parts.append("axes " + " / ".join(axes))
    draw.text((left, y + 1.3 * line), "    ".join(parts), font=body, fill="#111111")
    models = (
        f"{analysis.fs:g} Hz · delineation {analysis.delineator} · classifier {analysis.model}"
    )[:120]
    draw.text((right, y + 3.2 * line), models, font=small, anchor="ra", fill="#555555")
    interp = analysis.interpretation or {}
    statements = [s for s in (analysis.statements or []) if s.get("category") != "technical"]
    said = "; ".join(s["text"] for s in statements[:TOP_STATEMENTS])
    summary = []
    if interp.get("overall"):
        alerts = [a["text"] for a in interp.get("alerts", [])]
        summary.append(interp["overall"] + (f" — ALERT: {', '.join(alerts)}" if alerts else ""))
    if said:
        summary.append(said)
    if flagged:
        summary.append("Out of range: " + ", ".join(flagged))
    if summary:
        draw.text(
            (left, y + 2.3 * line),
            _fit(draw, "   ·   ".join(summary), bold_small, right - left - 40 * px),
            font=bold_small,
            fill="#b00020" if interp.get("severity") in ("abnormal", "critical") else "#111111",
        )
    reasons = [str(r.get("text") or r.get("feature")) for r in (analysis.reasons or [])[:3]]
    notes = [
        (f"{q['lead']}: " if q.get("lead") else "") + str(q.get("code", "")).replace("_", " ")
        for q in (analysis.quality or [])[:8]
    ]
    extra = []
    if notes:  # quality first: it says how far the rest can be trusted
        extra.append("Signal quality: " + ", ".join(notes))
    if reasons:
        extra.append("Findings: " + "; ".join(reasons))
    if extra:
        room = right - left - draw.textlength(models, font=small) - 4 * px
        draw.text(
            (left, y + 3.2 * line),
            _fit(draw, "     ".join(extra), small, room),
            font=small,
            fill="#333333",
        )
    x = right
    for label, color in (("ST-T", _WAVES[2][3]), ("QRS", _WAVES[1][3]), ("P", _WAVES[0][3])):
        draw.text((x, y + 2.3 * line), f"▬ {label}", font=bold_small, anchor="ra", fill=color)
        x -= draw.textlength(f"▬ {label}  ", font=bold_small)
