"""The printable ECG report: one landscape page (A4 or US Letter) as a vector PDF.

`render_pdf(analysis, patient=..., confirmation=..., paper="a4")` returns the PDF bytes.

The page holds, top to bottom: the patient and acquisition block, the key measurements (HR, PR,
QRS, QT, QTc, P/QRS/T axes, out-of-range values marked H/L), the interpretation (the overall
line, the statements and any alert when the analysis has them, otherwise the classifier's
verdict and its reasons), the review status ("UNCONFIRMED" until a clinician confirms, then
"Confirmed by ... on ..."), and the ECG: 12 leads in 3 rows of 4 (2.5 s each, simultaneous in
time) and a 10 s lead II rhythm strip, on a 1 mm / 5 mm grid at 25 mm/s and 10 mm/mV with a
1 mV calibration pulse at the start of each row. Other lead sets get one 10 s row per lead.

Scale is exact by construction: the figure is the paper's size in inches and the ECG axes are
placed and limited in millimetres, so one data unit is one millimetre of paper (a 1 mV pulse is
10 mm high in any viewer printing at 100 %). Grid and traces are vector line collections, so
the page prints sharp at any resolution. The layout rules (row order, calibration pulse, grid)
are `hearteye.plot`'s, so the PNG and the PDF show the same ECG the same way.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from hearteye.analyze import Analysis
from hearteye.export._common import (
    KEY_MEASUREMENTS,
    Confirmation,
    Patient,
    alert_texts,
    confirmation_of,
    interpretation_of,
    patient_of,
    statements_of,
    value_of,
    verdict_text,
)
from hearteye.plot import (
    _CAL_MM,
    _GRID_MAJOR,
    _GRID_MINOR,
    _TRACE,
    MAX_ROWS,
    MM_PER_MV,
    MM_PER_S,
    SECONDS,
    _calibration,
    _is_standard,
    _rows,
)
from hearteye.version import __version__

# Landscape page sizes in millimetres (width, height).
PAPERS: dict[str, tuple[float, float]] = {"a4": (297.0, 210.0), "letter": (279.4, 215.9)}
GRID_W = _CAL_MM + SECONDS * MM_PER_S  # 260 mm: calibration column + 10 s
GRID_H = 150.0  # 4 rows of 37.5 mm (3.75 mV each), as the PNG plot
ROW_MM = 37.5
_HEADER_MM = 48.0  # from the top of the page to the top of the grid
_TOP_MM = 7.0
_LINE_MM = 3.7  # one line of 8 pt text
_RED, _GREEN, _GREY, _INK = "#b00020", "#1b6e34", "#555555", "#111111"
_SEVERITY_COLOURS = {"critical": _RED, "abnormal": _RED, "borderline": "#a15c00"}


@dataclass(frozen=True)
class _Layout:
    width: float
    height: float
    left: float  # of the grid
    grid_h: float
    row_mm: float

    @property
    def grid_top(self) -> float:
        """From the bottom of the page: the grid hangs under the header, however many rows."""
        return self.height - _HEADER_MM

    @property
    def grid_bottom(self) -> float:
        return self.grid_top - self.grid_h

    def baseline(self, row: int) -> float:
        return self.grid_h - (row + 0.55) * self.row_mm


def render_pdf(
    analysis: Analysis,
    *,
    patient: Mapping | None = None,
    confirmation: Mapping | Confirmation | None = None,
    paper: str = "a4",
    acquired: datetime | str | None = None,
    uploaded: datetime | str | None = None,
) -> bytes:
    """The one-page report of ``analysis`` as PDF bytes.

    ``patient``: any of ``name``, ``id``, ``age``, ``gender``; ``confirmation``: ``{by, at}``
    once a clinician has confirmed the ECG (else the page says UNCONFIRMED); ``paper``:
    ``"a4"`` or ``"letter"``; ``acquired`` / ``uploaded``: when the ECG was taken / received,
    printed when known.
    """
    from matplotlib.backends.backend_pdf import FigureCanvasPdf
    from matplotlib.figure import Figure

    layout = _layout(analysis, paper)
    fig = Figure(figsize=(layout.width / 25.4, layout.height / 25.4), facecolor="white")
    FigureCanvasPdf(fig)
    _draw_ecg(fig, analysis, layout)
    who = patient_of(analysis, patient)
    _header(fig, layout, analysis, who, acquired, uploaded)
    _measurements(fig, layout, analysis)
    _interpretation(fig, layout, analysis, confirmation_of(confirmation))
    _footer(fig, layout, analysis)
    buf = io.BytesIO()
    fig.savefig(
        buf,
        format="pdf",
        metadata={
            "Title": "12-lead ECG report",
            "Creator": f"HeartEye {__version__}",
            "Producer": f"HeartEye {__version__}",
            # No creation date: the same analysis gives byte-identical pages.
            "CreationDate": None,
        },
    )
    return buf.getvalue()


def _layout(analysis: Analysis, paper: str) -> _Layout:
    try:
        width, height = PAPERS[paper.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"paper must be one of {', '.join(PAPERS)}, got {paper!r}") from None
    n_rows = len(_rows(analysis)) if analysis.signal.size else 1
    row_mm = min(ROW_MM, GRID_H / max(1, min(n_rows, MAX_ROWS)))
    return _Layout(width, height, (width - GRID_W) / 2, row_mm * n_rows, row_mm)


# ------------------------------------------------------------------------------ the ECG


def _draw_ecg(fig, analysis: Analysis, layout: _Layout) -> None:
    from matplotlib.collections import LineCollection

    ax = fig.add_axes(
        (
            layout.left / layout.width,
            layout.grid_bottom / layout.height,
            GRID_W / layout.width,
            layout.grid_h / layout.height,
        )
    )
    ax.set_xlim(0, GRID_W)
    ax.set_ylim(0, layout.grid_h)
    ax.set_axis_off()
    _grid(ax, GRID_W, layout.grid_h)
    rows = _rows(analysis) if analysis.signal.size else []
    fs = float(analysis.fs)
    traces, marks = [], []
    for r, segments in enumerate(rows):
        base = layout.baseline(r)
        marks.append(_calibration(base))
        for c, (lead, t0, t1) in enumerate(segments):
            x0 = _CAL_MM + t0 * MM_PER_S
            y = analysis.signal[
                analysis.leads.index(lead), int(round(t0 * fs)) : int(round(t1 * fs))
            ]
            if y.size:
                x = x0 + np.arange(y.size) * (MM_PER_S / fs)
                traces.append(np.column_stack([x, base + y.astype(np.float64) * MM_PER_MV]))
            if c > 0:  # the lead-change tick of printed ECGs
                marks.append(np.array([[x0, base - 2.5], [x0, base + 2.5]]))
            ax.text(
                x0 + 1.0,
                base + min(layout.row_mm * 0.3, 9.0),
                lead,
                fontsize=7,
                fontweight="bold",
                color=_INK,
            )
    ax.add_collection(
        LineCollection(traces + marks, colors=_TRACE, linewidths=0.6, zorder=3, capstyle="round")
    )


def _grid(ax, width: float, height: float) -> None:
    """The 1 mm / 5 mm paper grid (the PNG plot's colours and widths) as two paths, one per
    line style: a PDF then holds two path objects instead of ~400, which halves the time to
    write the page and to print it."""
    from matplotlib.lines import Line2D

    lines = {True: ([], []), False: ([], [])}  # major?: (xs, ys) with NaN between lines
    for x in range(int(width) + 1):
        xs, ys = lines[x % 5 == 0]
        xs += [x, x, np.nan]
        ys += [0, height, np.nan]
    for y in range(int(height) + 1):
        xs, ys = lines[y % 5 == 0]
        xs += [0, width, np.nan]
        ys += [y, y, np.nan]
    for major, colour, lw in ((False, _GRID_MINOR, 0.3), (True, _GRID_MAJOR, 0.6)):
        xs, ys = lines[major]
        ax.add_line(Line2D(xs, ys, color=colour, linewidth=lw, antialiased=False, zorder=major))


# ------------------------------------------------------------------------------ the text


def _text(fig, layout: _Layout, x_mm: float, y_from_top_mm: float, s: str, **kw) -> None:
    kw.setdefault("fontsize", 8)
    kw.setdefault("color", _INK)
    kw.setdefault("va", "top")
    fig.text(x_mm / layout.width, 1 - y_from_top_mm / layout.height, s, **kw)


def _cut(text: str, chars: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _when(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M %Z").strip()
    return str(value)


def _header(fig, layout, analysis: Analysis, who: Patient, acquired, uploaded) -> None:
    x, y = layout.left, _TOP_MM
    _text(fig, layout, x, y, _cut(who.name or "Patient not named", 28), fontsize=12, weight="bold")
    lines = []
    if who.id:
        lines.append(f"ID {_cut(who.id, 40)}")
    demo = [f"{who.age} years" if who.age is not None else None, who.sex_word]
    if any(demo):
        lines.append(", ".join(d for d in demo if d))
    if who.birth_date:
        lines.append(f"Born {who.birth_date.isoformat()}")
    if _when(acquired):
        lines.append(f"Acquired {_when(acquired)}")
    if _when(uploaded):
        lines.append(f"Uploaded {_when(uploaded)}")
    rec = analysis.record or {}
    source = rec.get("source") or rec.get("record_name")
    if source:
        lines.append(f"File {_cut(source, 40)}")
    seconds = analysis.analysed_seconds or rec.get("duration_s")
    acq = f"{len(analysis.leads)} leads, {float(analysis.fs):g} Hz"
    if seconds:
        acq += f", {float(seconds):.1f} s analysed"
        whole = rec.get("recording_duration_s")
        if whole and float(whole) > float(seconds) + 0.5:
            acq += f" of {float(whole):.0f} s"
    lines.append(acq)
    _block(fig, layout, x, y + 6.0, lines)


def _measurements(fig, layout, analysis: Analysis) -> None:
    x, y = layout.left + 78.0, _TOP_MM
    _text(fig, layout, x, y + 1.0, "Measurements", weight="bold")
    values, flags = [], []
    for km in KEY_MEASUREMENTS:
        m = value_of(analysis, km.name)
        values.append("—" if m is None else f"{m['value']:.0f} {km.unit}".replace(" °", "°"))
        flags.append({"high": "H", "low": "L"}.get((m or {}).get("flag") or "", " "))
    # One text per column (not per cell): text layout is most of a page's drawing time.
    _block(fig, layout, x, y + 5.0, [km.label for km in KEY_MEASUREMENTS])
    _block(fig, layout, x + 32.0, y + 5.0, values, ha="right", multialignment="right")
    _block(fig, layout, x + 34.0, y + 5.0, flags, color=_RED, weight="bold")


def _block(fig, layout, x_mm: float, y_mm: float, lines: list[str], **kw) -> None:
    """Lines of 8 pt text, one `_LINE_MM` apart, as one text object."""
    spacing = _LINE_MM / (8 * 25.4 / 72)
    _text(fig, layout, x_mm, y_mm, "\n".join(lines), linespacing=spacing, **kw)


def _interpretation(fig, layout, analysis: Analysis, confirmation: Confirmation | None) -> None:
    x, right = layout.left + 122.0, layout.left + GRID_W
    y = _TOP_MM
    if confirmation is None:
        _text(
            fig,
            layout,
            right,
            y,
            "UNCONFIRMED",
            ha="right",
            fontsize=11,
            weight="bold",
            color=_RED,
            bbox={"boxstyle": "square,pad=0.25", "ec": _RED, "fc": "none", "lw": 0.8},
        )
        status = "Automated analysis: to be confirmed by a physician"
    else:
        status = f"Confirmed by {_cut(confirmation.by, 40)} on {confirmation.at_text}"
    _text(fig, layout, x, y + 1.0, "Interpretation", weight="bold")
    _text(fig, layout, x, y + 5.0, status, color=_GREEN if confirmation else _GREY, fontsize=7)
    head, items, tail = _interpretation_lines(analysis)
    top = y + 10.0
    rows = int((layout.height - layout.grid_top - 5.0 - top) // _LINE_MM) + 1
    for text, colour, weight in head:
        _text(fig, layout, x, top, _cut(text, 80), color=colour, weight=weight)
        top += _LINE_MM
        rows -= 1
    rows -= len(tail)
    # Statements in one column, or two when one would not hold them all.
    cols, chars = (1, 80) if len(items) <= rows else (2, 42)
    if len(items) > rows * cols:
        keep = max(0, rows * cols - 1)
        items = items[:keep] + [(f"… {len(items) - keep} more", _GREY, "normal")]
    width = (right - x) / cols
    for i, (text, colour, weight) in enumerate(items):
        col, row = divmod(i, max(1, rows))
        _text(
            fig,
            layout,
            x + col * width,
            top + row * _LINE_MM,
            _cut(text, chars),
            color=colour,
            weight=weight,
        )
    top += min(len(items), max(1, rows)) * _LINE_MM
    for text, colour, weight in tail:
        _text(fig, layout, x, top, _cut(text, 80), color=colour, weight=weight, fontsize=7)
        top += _LINE_MM


_Line = tuple[str, str, str]  # text, colour, weight


def _interpretation_lines(analysis: Analysis) -> tuple[list[_Line], list[_Line], list[_Line]]:
    """The overall line and alerts; the statements (or, for an analysis without them, the
    classifier's reasons); the signal-quality notes."""
    head: list[_Line] = []
    items: list[_Line] = []
    interp = interpretation_of(analysis)
    statements = statements_of(analysis)
    if interp:
        colour = _SEVERITY_COLOURS.get(str(interp.get("severity")), _INK)
        head.append((str(interp["overall"]), colour, "bold"))
        head += [(f"ALERT: {a}", _RED, "bold") for a in alert_texts(interp)]
    for s in statements:
        colour = _SEVERITY_COLOURS.get(str(s.get("severity")), _INK)
        items.append((f"• {s.get('text') or s.get('code')}", colour, "normal"))
    if not interp and not statements:
        abnormal = str(analysis.classification).lower() == "abnormal"
        head.append((verdict_text(analysis), _RED if abnormal else _INK, "bold"))
        items += [
            (f"• {r.get('text') or r.get('feature')}", _INK, "normal")
            for r in (analysis.reasons or [])[:6]
        ]
    notes = [
        (f"{q['lead']}: " if q.get("lead") else "") + str(q.get("code", "")).replace("_", " ")
        for q in (analysis.quality or [])
    ]
    tail = [("Signal quality: " + ", ".join(notes), "#a15c00", "normal")] if notes else []
    return head, items, tail


def _footer(fig, layout, analysis: Analysis) -> None:
    y = _HEADER_MM + layout.grid_h + 2.0
    scale = "25 mm/s   10 mm/mV   1 mV calibration pulse   grid 1 mm / 5 mm"
    if _is_standard(analysis):
        scale += "   rhythm strip: lead II"
    _text(fig, layout, layout.left, y, scale, fontsize=7, color=_GREY)
    right = layout.left + GRID_W
    _text(fig, layout, right, y, "Decision support, not a diagnosis", fontsize=7, ha="right")
    models = f"HeartEye {__version__}   {analysis.delineator}   classifier {analysis.model}"
    _text(fig, layout, layout.left, y + 3.2, _cut(models, 150), fontsize=6, color=_GREY)
