"""Serial comparison: what changed between a patient's previous ECG and the new one.

Pure (no I/O): takes two analysis summaries (`Analysis.to_dict()`, or any dict with
``statements`` and ``measurements.global``) and returns a `Comparison`. When the previous
ECG was confirmed by a cardiologist, the caller passes the confirmed statements in its
summary: a new ECG is compared with what a physician signed, as GE MUSE and Philips
IntelliSpace ECG do.

Statements are matched by ``code`` (or, for free text a cardiologist wrote, by the text,
ignoring case and spacing) into new, resolved and unchanged. When the new ECG has one new
rhythm statement and the old one's rhythm statement resolved, the pair reads "<new> has
replaced <old>". A summary without ``statements`` (an analysis made before statements
existed) compares measurements only, and says so (``statements_compared`` false).

Measurements are reported when they changed by at least the threshold (`Thresholds`) and
neither value is missing, marked unreliable or outside physiological limits (`PLAUSIBLE`).
The text follows the serial-comparison style of the GE 12SL and Philips DXL programs:
"When compared with ECG of 02-Nov-2026 14:05, atrial fibrillation has replaced sinus rhythm;
QRS duration has increased by 32 ms (96 -> 128 ms)", and "no significant change was found"
otherwise.

Thresholds and their sources (GE and Philips do not publish their serial-comparison
criteria as numbers, so these come from the literature on ECG change and its noise):
- QTc +-60 ms: ICH E14 (2005), the categorical QTc change from baseline that regulators
  treat as clinically important (> 60 ms).
- QRS +-20 ms: ICH E14 / FDA arrhythmia-safety practice flags QRS widening of >= 25 % from a
  normal baseline (~ 20-25 ms); the test-retest noise of automated QRS duration is ~ 10 ms
  (Kligfield et al., JACC 2007;49:1109), so 20 ms is twice it.
- PR +-40 ms: ICH E14 flags PR > 200 ms with a >= 25 % increase, i.e. ~ 40 ms from a
  160 ms baseline; twice the ~ 20 ms test-retest noise of automated PR.
- Heart rate +-20 bpm: ICH E14's categorical heart-rate change (> 25 % and out of range) is
  of this order; a resting rate drifts ~ 10 bpm between recordings, so 20 bpm is a change
  and not posture or anxiety.
- QRS axis +-30 deg: one sector of the hexaxial reference system; the AHA/ACCF/HRS
  recommendations (Surawicz et al., Circulation 2009;119:e235) define axis deviation in
  30-degree steps.
- P and T axes +-45 deg: their frontal-plane axes vary more between recordings than the
  QRS axis (lower amplitude); 45 deg is 1.5 sectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

# Values outside these limits are measurement failures (a T end lost in flutter waves gives
# QTc in the thousands), not changes: they are left out of the comparison, as missing.
PLAUSIBLE = {
    "heart_rate": (20.0, 350.0),
    "pr_interval": (50.0, 600.0),
    "qrs_duration": (40.0, 300.0),
    "qtc_bazett": (200.0, 800.0),
}

# Global measurement -> (what it is called in the text, unit, kind)
MEASURED = {
    "heart_rate": ("heart rate", "bpm", "rate"),
    "pr_interval": ("PR interval", "ms", "interval"),
    "qrs_duration": ("QRS duration", "ms", "interval"),
    "qtc_bazett": ("QTc", "ms", "interval"),
    "p_axis": ("P axis", "deg", "axis"),
    "qrs_axis": ("QRS axis", "deg", "axis"),
    "t_axis": ("T axis", "deg", "axis"),
}


@dataclass(frozen=True)
class Thresholds:
    """The smallest change reported, per measurement (see the module docstring)."""

    heart_rate: float = 20.0
    pr_interval: float = 40.0
    qrs_duration: float = 20.0
    qtc_bazett: float = 60.0
    p_axis: float = 45.0
    qrs_axis: float = 30.0
    t_axis: float = 45.0


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Change:
    measurement: str
    before: float
    after: float
    delta: float
    unit: str
    threshold: float
    text: str

    def to_dict(self) -> dict:
        return {
            "measurement": self.measurement,
            "before": self.before,
            "after": self.after,
            "delta": self.delta,
            "unit": self.unit,
            "threshold": self.threshold,
            "text": self.text,
        }


@dataclass(frozen=True)
class Comparison:
    new: tuple[dict, ...]
    resolved: tuple[dict, ...]
    unchanged: tuple[dict, ...]
    changes: tuple[Change, ...]
    statements_compared: bool
    text: str
    findings: tuple[str, ...] = field(default=())

    @property
    def significant(self) -> bool:
        return bool(self.new or self.resolved or self.changes)

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "significant": self.significant,
            "findings": list(self.findings),
            "statements_compared": self.statements_compared,
            "new": list(self.new),
            "resolved": list(self.resolved),
            "unchanged": list(self.unchanged),
            "changes": [c.to_dict() for c in self.changes],
        }


def compare(
    previous: dict,
    current: dict,
    previous_date: datetime | date | str | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Comparison:
    """Compare the new ECG's summary (``current``) with the previous one's."""
    before, after = _statements(previous), _statements(current)
    compared = before is not None and after is not None
    new, resolved, unchanged = _match(before or [], after or []) if compared else ([], [], [])
    changes = _changes(_globals(previous), _globals(current), thresholds)
    findings = _statement_findings(new, resolved) + [c.text for c in changes]
    return Comparison(
        new=tuple(new),
        resolved=tuple(resolved),
        unchanged=tuple(unchanged),
        changes=tuple(changes),
        statements_compared=compared,
        text=_sentence(previous_date, findings),
        findings=tuple(findings),
    )


# ------------------------------------------------------------------------- statements


def _statements(summary: dict) -> list[dict] | None:
    raw = summary.get("statements")
    if not isinstance(raw, list):
        return None
    out = []
    for s in raw:
        if isinstance(s, dict) and (s.get("text") or s.get("code")):
            out.append(s)
        elif isinstance(s, str) and s.strip():
            out.append({"code": "", "text": s.strip()})
    return out


def _key(statement: dict) -> str:
    code = str(statement.get("code") or "").strip()
    if code:
        return "code:" + code.upper()
    return "text:" + " ".join(str(statement.get("text") or "").lower().split())


def _match(before: list[dict], after: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    old = {_key(s): s for s in before}
    now = {_key(s): s for s in after}
    new = [s for k, s in now.items() if k not in old]
    resolved = [s for k, s in old.items() if k not in now]
    unchanged = [s for k, s in now.items() if k in old]
    return new, resolved, unchanged


def _text(statement: dict) -> str:
    text = str(statement.get("text") or statement.get("code") or "").strip()
    return text[:1].lower() + text[1:] if text[1:2].islower() or len(text) == 1 else text


def _rhythm(statement: dict) -> bool:
    return str(statement.get("category") or "").lower() == "rhythm"


def _statement_findings(new: list[dict], resolved: list[dict]) -> list[str]:
    new_rhythm = [s for s in new if _rhythm(s)]
    old_rhythm = [s for s in resolved if _rhythm(s)]
    out = []
    if len(new_rhythm) == 1 and len(old_rhythm) == 1:
        out.append(f"{_text(new_rhythm[0])} has replaced {_text(old_rhythm[0])}")
        new = [s for s in new if s is not new_rhythm[0]]
        resolved = [s for s in resolved if s is not old_rhythm[0]]
    out += [f"{_text(s)} is now present" for s in new]
    out += [f"{_text(s)} is no longer present" for s in resolved]
    return out


# ----------------------------------------------------------------------- measurements


def _globals(summary: dict) -> dict:
    return (summary.get("measurements") or {}).get("global") or {}


def _value(m) -> float | None:
    if isinstance(m, dict):
        if m.get("unreliable"):
            return None
        m = m.get("value")
    try:
        v = float(m)
    except (TypeError, ValueError):
        return None
    return v if v == v else None  # NaN is missing


def _changes(before: dict, after: dict, thresholds: Thresholds) -> list[Change]:
    out = []
    for name, (label, unit, kind) in MEASURED.items():
        a, b = _value(before.get(name)), _value(after.get(name))
        low, high = PLAUSIBLE.get(name, (-1e9, 1e9))
        if a is None or b is None or not (low <= a <= high and low <= b <= high):
            continue
        delta = _axis_delta(a, b) if kind == "axis" else b - a
        limit = getattr(thresholds, name)
        if abs(delta) >= limit:
            out.append(
                Change(
                    name,
                    a,
                    b,
                    round(delta, 1),
                    unit,
                    limit,
                    _wording(label, unit, kind, a, b, delta),
                )
            )
    return out


def _axis_delta(a: float, b: float) -> float:
    """The signed shortest turn from ``a`` to ``b``, in (-180, 180] degrees."""
    d = (b - a) % 360.0
    return d - 360.0 if d > 180.0 else d


def _wording(label: str, unit: str, kind: str, a: float, b: float, delta: float) -> str:
    if kind == "axis":
        side = "right" if delta > 0 else "left"  # clockwise in the frontal plane is rightward
        return f"{label} has shifted {side} by {abs(delta):.0f}° ({a:+.0f}° -> {b:+.0f}°)"
    verb = "increased" if delta > 0 else "decreased"
    return f"{label} has {verb} by {abs(delta):.0f} {unit} ({a:.0f} -> {b:.0f} {unit})"


# --------------------------------------------------------------------------- wording


def format_date(when: datetime | date | str | None) -> str:
    """GE's style: 02-Nov-2026 14:05 (a date alone without the time)."""
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            return when
    if isinstance(when, datetime):
        return when.strftime("%d-%b-%Y %H:%M")
    if isinstance(when, date):
        return when.strftime("%d-%b-%Y")
    return ""


def _sentence(when, findings: list[str]) -> str:
    head = (
        "When compared with the previous ECG"
        if when is None
        else f"When compared with ECG of {format_date(when)}"
    )
    if not findings:
        return f"{head}, no significant change was found."
    body = "; ".join(findings)
    return f"{head}, {body}."
