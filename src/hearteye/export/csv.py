"""Measurements as CSV or JSON: every global measurement of one record, and a history of
records streamed one row at a time.

* `measurement_rows(analysis)`: one row per measurement (``name, label, value, unit, low,
  high, flag, loinc``), the key ones first (HR, PR, QRS, QT, QTc, axes) then the rest in the
  analysis's order; `measurements_csv` and `measurements_json` write them.
* `history_csv(rows)`: a generator of CSV text, the header first and then one line per record
  as the caller's iterable yields it, so a history of any length is written in constant
  memory (the caller pages through its store; nothing here holds more than one row).

Free-text cells (patient name, notes, statements) that a spreadsheet would run as a formula
(starting with ``= + - @``, tab or carriage return) get a leading apostrophe (OWASP's
CSV-injection advice): a patient name typed as ``=HYPERLINK(...)`` stays text. Identifiers
are written exactly (a file id may start with "-" but holds only ``[A-Za-z0-9_-]``, which no
spreadsheet can run), and numbers as numbers, so negative axes stay numeric.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator, Mapping

from hearteye.analyze import Analysis
from hearteye.export._common import KEY_MEASUREMENTS, statements_of

MEASUREMENT_COLUMNS = ("name", "label", "value", "unit", "low", "high", "flag", "loinc")
HISTORY_COLUMNS = (
    "file_id",
    "patient_name",
    "age",
    "gender",
    "upload_date",
    "classification",
    "probability_abnormal",
    "heart_rate_bpm",
    "pr_ms",
    "qrs_ms",
    "qt_ms",
    "qtc_ms",
    "p_axis_deg",
    "qrs_axis_deg",
    "t_axis_deg",
    "statements",
    "notes",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FREE_TEXT = frozenset({"patient_name", "notes", "statements"})
_KEY = {km.name: km for km in KEY_MEASUREMENTS}


def measurement_rows(analysis: Analysis) -> list[dict]:
    glob = (analysis.measurements or {}).get("global", {})
    names = [km.name for km in KEY_MEASUREMENTS] + [n for n in glob if n not in _KEY]
    rows = []
    for name in names:
        m = glob.get(name)
        if not isinstance(m, Mapping):
            continue
        km = _KEY.get(name)
        rows.append(
            {
                "name": name,
                "label": km.label if km else name.replace("_", " "),
                "value": _number(m.get("value")),
                "unit": m.get("unit"),
                "low": m.get("low"),
                "high": m.get("high"),
                "flag": m.get("flag"),
                "loinc": km.loinc if km else None,
            }
        )
    return rows


def measurements_csv(analysis: Analysis) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(MEASUREMENT_COLUMNS)
    for row in measurement_rows(analysis):
        writer.writerow([_cell(row[c]) for c in MEASUREMENT_COLUMNS])
    return buf.getvalue()


def measurements_json(analysis: Analysis) -> dict:
    """The measurements with what they were measured on and what was concluded."""
    return {
        "record": analysis.record,
        "measurements": measurement_rows(analysis),
        "classification": analysis.classification,
        "probability_abnormal": analysis.probability_abnormal,
        "statements": statements_of(analysis),
        "interpretation": getattr(analysis, "interpretation", None),
        "quality": analysis.quality,
        "model": analysis.model,
        "delineator": analysis.delineator,
    }


def history_row(record: Mapping, summary: Mapping | None = None) -> dict:
    """One history line from a stored record's fields (the API's ``record_dict`` shape) and,
    when given, its analysis summary (for the axes and the statements)."""
    intervals = record.get("intervals") or {}
    glob = ((summary or {}).get("measurements") or {}).get("global") or {}

    def axis(name: str):
        m = glob.get(name)
        return _number(m.get("value")) if isinstance(m, Mapping) else None

    statements = (summary or {}).get("statements") or []
    return {
        "file_id": record.get("file_id"),
        "patient_name": record.get("patient_name"),
        "age": record.get("age"),
        "gender": record.get("gender"),
        "upload_date": record.get("upload_date"),
        "classification": record.get("classification"),
        "probability_abnormal": record.get("probability_abnormal"),
        "heart_rate_bpm": record.get("heart_rate"),
        "pr_ms": intervals.get("pq_interval_ms"),
        "qrs_ms": intervals.get("qrs_duration_ms"),
        "qt_ms": intervals.get("qt_interval_ms"),
        "qtc_ms": intervals.get("qtc_ms"),
        "p_axis_deg": axis("p_axis"),
        "qrs_axis_deg": axis("qrs_axis"),
        "t_axis_deg": axis("t_axis"),
        "statements": "; ".join(
            str(s.get("text") or s.get("code")) for s in statements if isinstance(s, Mapping)
        ),
        "notes": record.get("notes"),
    }


def history_csv(rows: Iterable[Mapping]) -> Iterator[str]:
    """CSV text, one chunk per line: the header, then each row of ``rows`` (`history_row`
    dicts) as it is produced."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")

    def line(values) -> str:
        buf.seek(0)
        buf.truncate()
        writer.writerow(values)
        return buf.getvalue()

    yield line(HISTORY_COLUMNS)
    for row in rows:
        yield line([_cell(row.get(c), c in _FREE_TEXT) for c in HISTORY_COLUMNS])


def _number(value):
    if value is None:
        return None
    v = float(value)
    return round(v, 4) if math.isfinite(v) else None


def _cell(value, free_text: bool = False):
    """A value as a CSV cell: empty for None, numbers as they are, free text defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    return "'" + text if free_text and text.startswith(_FORMULA_START) else text
