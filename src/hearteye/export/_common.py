"""What every report and export shares: the measurements a clinician reads on an ECG (with
their LOINC codes and UCUM units), the patient as far as it is known, the confirmation, and the
interpretation when the analysis has one.

The analysis itself carries no identity: the caller passes ``patient`` (a mapping with any of
``name``, ``id``, ``age``, ``gender``/``sex``, ``birth_date``) and, once a clinician has
signed the ECG, ``confirmation`` (``by``, ``at``). Both are normalised here once, so the PDF,
FHIR and DICOM say the same thing about the same record.

LOINC codes are those of the LOINC "EKG measurements" panel (34534-8's members); angles are in
UCUM ``deg`` and the heart rate in ``/min`` (UCUM has no "beat").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from hearteye.analyze import Analysis

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"


@dataclass(frozen=True)
class KeyMeasurement:
    name: str  # key in Analysis.measurements["global"]
    label: str  # the short label printed on ECGs
    loinc: str
    loinc_display: str
    ucum: str
    unit: str  # as printed


KEY_MEASUREMENTS: tuple[KeyMeasurement, ...] = (
    KeyMeasurement("heart_rate", "HR", "8867-4", "Heart rate", "/min", "bpm"),
    KeyMeasurement("pr_interval", "PR", "8625-6", "P-R Interval", "ms", "ms"),
    KeyMeasurement("qrs_duration", "QRS", "8633-0", "QRS duration", "ms", "ms"),
    KeyMeasurement("qt_interval", "QT", "8634-8", "Q-T interval", "ms", "ms"),
    KeyMeasurement("qtc_bazett", "QTc", "8636-3", "Q-T interval corrected", "ms", "ms"),
    KeyMeasurement("p_axis", "P axis", "8626-4", "P wave axis", "deg", "°"),
    KeyMeasurement("qrs_axis", "QRS axis", "8632-2", "QRS axis", "deg", "°"),
    KeyMeasurement("t_axis", "T axis", "8638-9", "T wave axis", "deg", "°"),
)


@dataclass(frozen=True)
class Patient:
    name: str | None = None
    id: str | None = None
    age: int | None = None
    sex: str | None = None  # "M" | "F" | "O" | None
    birth_date: date | None = None

    @property
    def sex_word(self) -> str | None:
        return {"M": "male", "F": "female", "O": "other"}.get(self.sex or "")


@dataclass(frozen=True)
class Confirmation:
    by: str
    at: datetime | str

    @property
    def at_text(self) -> str:
        if isinstance(self.at, datetime):
            return self.at.strftime("%Y-%m-%d %H:%M %Z").strip()
        return str(self.at)

    @property
    def at_iso(self) -> str:
        return self.at.isoformat() if isinstance(self.at, datetime) else str(self.at)


def patient_of(analysis: Analysis, patient: Mapping | None) -> Patient:
    """The patient from the caller's mapping, completed by what the file said (age, sex)."""
    p = dict(patient or {})
    rec = analysis.record or {}
    age = p.get("age", rec.get("age"))
    sex = p.get("gender") or p.get("sex") or rec.get("sex")
    sex = sex.upper()[:1] if isinstance(sex, str) and sex else None
    birth = p.get("birth_date")
    if isinstance(birth, str):
        birth = date.fromisoformat(birth)
    return Patient(
        name=str(p["name"]).strip() or None if p.get("name") else None,
        id=str(p["id"]) if p.get("id") else None,
        age=int(round(float(age))) if age is not None and 0 <= float(age) <= 130 else None,
        sex=sex if sex in ("M", "F", "O") else None,
        birth_date=birth,
    )


def confirmation_of(confirmation: Mapping | Confirmation | None) -> Confirmation | None:
    if confirmation is None or isinstance(confirmation, Confirmation):
        return confirmation
    by, at = confirmation.get("by"), confirmation.get("at")
    if not by or not at:
        raise ValueError("a confirmation needs both 'by' and 'at'")
    return Confirmation(str(by), at)


def value_of(analysis: Analysis, name: str) -> dict | None:
    """A global measurement as ``{value, unit, low, high, flag}``; ``None`` when unmeasured."""
    m = (analysis.measurements or {}).get("global", {}).get(name)
    if not isinstance(m, Mapping):
        return None
    v = m.get("value")
    if v is None or not math.isfinite(float(v)):
        return None
    return {**m, "value": float(v)}


def _plain(obj) -> dict | None:
    """A statement or interpretation as a dict, whether the analysis holds dicts or frozen
    dataclasses (with or without ``to_dict``)."""
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "to_dict"):
        return dict(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return None


def statements_of(analysis: Analysis) -> list[dict]:
    """The diagnostic statements (``code, snomed, text, category, severity, evidence``) of an
    analysis that has them; an empty list otherwise."""
    out = (_plain(s) for s in (getattr(analysis, "statements", None) or []))
    return [s for s in out if s]


def interpretation_of(analysis: Analysis) -> dict | None:
    """``{overall, severity, alerts}`` when the analysis has an interpretation."""
    it = _plain(getattr(analysis, "interpretation", None))
    return it if it and it.get("overall") else None


def alert_texts(interpretation: Mapping | None) -> list[str]:
    out = []
    for a in (interpretation or {}).get("alerts") or []:
        text = a.get("text") or a.get("message") or a.get("code") if isinstance(a, Mapping) else a
        if text:
            out.append(str(text))
    return out


def verdict_text(analysis: Analysis) -> str:
    """The classifier's verdict as one line (what stands in for the interpretation until an
    analysis carries statements)."""
    cls = str(analysis.classification).capitalize()
    p = float(analysis.probability_abnormal)
    return f"{cls} ECG (automated classifier, P(abnormal) = {p:.2f})"
