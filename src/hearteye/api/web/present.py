"""How the analysis summary reads on the page: names, units, ranges and flags as text.

Presentation only: every number comes from the stored analysis as `hearteye.analyze`
produced it; nothing here computes a measurement.
"""

from __future__ import annotations

from typing import Any

# Global measurements in the order a cardiologist reads them, with their names on the page.
MEASUREMENT_LABELS = {
    "heart_rate": "Heart rate",
    "rr_mean": "RR interval (mean)",
    "rr_sd": "RR standard deviation",
    "rr_rmssd": "RR RMSSD",
    "rr_irregularity": "RR irregularity",
    "beat_count": "Beats",
    "p_wave_fraction": "Beats with a P wave",
    "p_duration": "P duration",
    "pr_interval": "PR interval",
    "qrs_duration": "QRS duration",
    "qt_interval": "QT interval",
    "qtc_bazett": "QTc (Bazett)",
    "qtc_fridericia": "QTc (Fridericia)",
    "qtc_framingham": "QTc (Framingham)",
    "qtc_hodges": "QTc (Hodges)",
    "p_axis": "P axis",
    "qrs_axis": "QRS axis",
    "t_axis": "T axis",
    "sokolow_lyon": "Sokolow-Lyon voltage",
    "cornell": "Cornell voltage",
}
UNIT_TEXT = {"deg": "°", "ratio": "", "beats": ""}
FLAG_TEXT = {"low": "Low", "high": "High"}


def _number(value: Any) -> str:
    if value is None:
        return "–"
    v = float(value)
    if v.is_integer() or abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"


def measurement_rows(summary: dict) -> list[dict]:
    """The global measurements as table rows: label, value, unit, reference range, flag."""
    glob = (summary.get("measurements") or {}).get("global") or {}
    names = [n for n in MEASUREMENT_LABELS if n in glob] + [
        n for n in glob if n not in MEASUREMENT_LABELS
    ]
    return [_row(name, glob[name]) for name in names]


def _row(name: str, m: Any) -> dict:
    m = m if isinstance(m, dict) else {"value": m}
    unit = str(m.get("unit") or "")
    low, high = m.get("low"), m.get("high")
    if low is not None and high is not None:
        ref = f"{_number(low)} – {_number(high)}"
    elif low is not None:
        ref = f"≥ {_number(low)}"
    elif high is not None:
        ref = f"≤ {_number(high)}"
    else:
        ref = ""
    flag = m.get("flag")
    return {
        "name": name,
        "label": MEASUREMENT_LABELS.get(name, name.replace("_", " ").capitalize()),
        "value": _number(m.get("value")),
        "unit": UNIT_TEXT.get(unit, unit),
        "reference": ref,
        "flag": FLAG_TEXT.get(flag, str(flag)) if flag else "",
        "flag_code": str(flag) if flag else "",
    }


def device_rows(summary: dict) -> list[dict]:
    """The recording device's own measurements, when the file carried them."""
    device = summary.get("device_measurements") or {}
    if isinstance(device, list):
        items = [(str(d.get("name", "")), d) for d in device if isinstance(d, dict)]
    elif isinstance(device, dict):
        items = list(device.items())
    else:
        return []
    return [_row(str(name), m) for name, m in items]


def statements(summary: dict) -> list[dict]:
    """Interpretation statements, each with its text and severity (for its colour)."""
    out = []
    for s in summary.get("statements") or []:
        if isinstance(s, dict):
            severity = str(s.get("severity") or "info").lower()
            out.append(
                {
                    "text": str(s.get("text") or s.get("code") or ""),
                    "code": str(s.get("code") or ""),
                    "severity": severity if severity.isalnum() else "info",
                }
            )
        else:
            out.append({"text": str(s), "code": "", "severity": "info"})
    return out


def interpretation(summary: dict) -> str:
    value = summary.get("interpretation")
    if isinstance(value, dict):
        value = value.get("overall") or value.get("text") or ""
    return str(value or "")


def lead_amplitudes(summary: dict) -> tuple[list[str], list[dict]]:
    """Per-lead amplitudes (mV): the wave names and one row per lead."""
    leads = (summary.get("measurements") or {}).get("leads") or {}
    waves = ["P", "Q", "R", "S", "T", "ST"]
    rows = [
        {"lead": lead, "values": [_number(v.get(w)) for w in waves]}
        for lead, v in leads.items()
        if isinstance(v, dict)
    ]
    return waves, rows
