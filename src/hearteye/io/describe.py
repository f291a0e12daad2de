"""What `hearteye info` shows about a record: its shape, units, patient fields, lead ranges."""

from __future__ import annotations

import math

import numpy as np

from hearteye.record import Record


def describe_record(record: Record) -> dict:
    """`Record.summary()` plus each lead's min, max and mean in mV (None when all NaN)."""
    out = record.summary()
    out["lead_stats"] = {name: _stats(record.signal[i]) for i, name in enumerate(record.leads)}
    if record.meta.extra:
        out["notes"] = dict(record.meta.extra)
    return out


def _stats(x: np.ndarray) -> dict:
    finite = np.isfinite(x)
    n_bad = int(x.size - np.count_nonzero(finite))
    if n_bad == x.size:
        return {"min": None, "max": None, "mean": None, "non_finite": n_bad}
    vals = x[finite] if n_bad else x
    return {
        "min": float(vals.min()),
        "max": float(vals.max()),
        "mean": float(vals.mean(dtype=np.float64)),
        "non_finite": n_bad,
    }


def format_description(desc: dict) -> str:
    """Plain-text rendering of `describe_record`'s output (plus ``quality`` if present)."""
    lines = [
        f"record     {desc['record_name']}  ({desc['source']}, {desc.get('format') or '?'})",
        f"rate       {desc['fs']:g} Hz" + _orig_rate(desc),
        f"leads      {desc['n_leads']}: {' '.join(desc['leads'])}",
        f"samples    {desc['n_samples']}  ({desc['duration_s']:.3f} s)",
        f"units      {desc['units']} (file: {', '.join(sorted(set(desc['original_units'])))})",
        f"patient    age {_unknown(desc['age'])}, sex {_unknown(desc['sex'])}",
    ]
    if desc["diagnoses"]:
        lines.append("diagnoses  " + "; ".join(desc["diagnoses"]))
    lines.extend(_device_lines(desc))
    for key, value in (desc.get("notes") or {}).items():
        lines.append(f"note       {key}: {value}")
    lines.append("lead       min mV    max mV")
    for name, s in desc["lead_stats"].items():
        lines.append(
            f"  {name:<6} {_num(s['min']):>9} {_num(s['max']):>9}"
            + (f"  ({s['non_finite']} non-finite)" if s["non_finite"] else "")
        )
    lines.extend(_quality_lines(desc.get("quality")))
    return "\n".join(lines)


def _device_lines(desc: dict) -> list[str]:
    """The recording device's own findings, as its file states them."""
    device = desc.get("device")
    if not device:
        return []
    program = device.get("program") or {}
    lines = [
        f"device     {device.get('model') or '?'} ({device.get('manufacturer') or '?'}), "
        f"program {program.get('name') or '?'} {program.get('version') or ''}".rstrip()
    ]
    found = (desc.get("device_measurements") or {}).get("global") or {}
    if found:
        shown = [f"{k} {v['value']:g} {v['unit']}" for k, v in found.items()]
        lines.append("device says " + ", ".join(shown))
    stmts = desc.get("device_statements") or {}
    if stmts.get("statements"):
        lines.append(f"statements ({stmts.get('status')}): ")
        lines[-1] += "; ".join(s["text"] for s in stmts["statements"])
    return lines


def _quality_lines(flags) -> list[str]:
    if flags is None:
        return ["quality    (not assessed)"]
    if not flags:
        return ["quality    no problems found"]
    out = ["quality"]
    for flag in flags:
        text = flag.get("message") or flag.get("flag") or str(flag)
        lead = f"[{flag['lead']}] " if flag.get("lead") else ""
        out.append(f"  - {lead}{text}")
    return out


def _orig_rate(desc: dict) -> str:
    orig = desc.get("original_fs")
    return f" (file: {orig:g} Hz)" if orig and not math.isclose(orig, desc["fs"]) else ""


def _unknown(value) -> str:
    return "unknown" if value is None else f"{value:g}" if isinstance(value, float) else value


def _num(value) -> str:
    return "-" if value is None else f"{value:.3f}"
