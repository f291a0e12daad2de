"""An `Analysis` as an HL7 FHIR R4 Bundle, for the hospital's electronic record.

`to_fhir_bundle(analysis, ...)` returns the Bundle as a JSON-ready dict (type ``collection``,
entries addressed by ``urn:uuid:`` so the receiving server assigns its own ids):

* **Patient**: name, gender and birth date as far as they are known (the analysis knows at
  most age and sex; the caller adds the rest).
* **Observation per measurement** (HR, PR, QRS, QT, QTc, P/QRS/T axes), coded with LOINC,
  valued in UCUM units (``/min``, ``ms``, ``deg``) with the reference range and an H/L
  interpretation when out of range; a value that could not be measured is sent with
  ``dataAbsentReason`` rather than left out, so the receiver knows it was attempted.
* **Observation of the waveform**, as FHIR's own ECG example (Observation "ekg"): code MDC
  131328 (MDC_ECG_ELEC_POTL), one component per lead coded MDC_ECG_ELEC_POTL_<lead> with a
  ``SampledData`` in integer microvolts (origin 0 uV, factor 1, period in ms). The samples are
  the analysed display signal (band-passed, 500 Hz), i.e. what the report shows.
* **DiagnosticReport** (LOINC 11524-6 "EKG study", category EC): the statements as
  ``conclusionCode`` (SNOMED CT where the statement has a concept; the text always), the
  overall interpretation (or the classifier's verdict) as ``conclusion``; status
  ``preliminary`` until a clinician confirms, then ``final`` with the confirming person as
  ``resultsInterpreter``.

Resource ids are derived from ``record_id`` (a UUID5), so exporting the same record twice gives
the same Bundle. FHIR R4 (4.0.1) is the target; the tests validate the output against the
R4B models of `fhir.resources`, whose Patient, Observation, DiagnosticReport and SampledData are
the same as R4's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

import numpy as np

from hearteye.analyze import Analysis
from hearteye.export._common import (
    KEY_MEASUREMENTS,
    LOINC,
    SNOMED,
    UCUM,
    Confirmation,
    Patient,
    confirmation_of,
    interpretation_of,
    patient_of,
    statements_of,
    value_of,
    verdict_text,
)
from hearteye.version import __version__

MDC = "urn:oid:2.16.840.1.113883.6.24"
# MDC_ECG_ELEC_POTL_<lead>: 131328 + the lead's ISO/IEEE 11073-10101 code (MDC_ECG_LEAD_*).
_LEAD_CODE = {
    "I": 1,
    "II": 2,
    "V1": 3,
    "V2": 4,
    "V3": 5,
    "V4": 6,
    "V5": 7,
    "V6": 8,
    "III": 61,
    "aVR": 62,
    "aVL": 63,
    "aVF": 64,
}
_ELEC_POTL = 131328
_OBS_CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "procedure",
            "display": "Procedure",
        }
    ]
}
_FLAG = {"high": ("H", "High"), "low": ("L", "Low")}
_NAMESPACE = uuid.UUID("2f3c8d5e-7a1b-4c0e-9d2f-6b8a1e4c3d70")  # HeartEye's, for uuid5 ids


def to_fhir_bundle(
    analysis: Analysis,
    *,
    record_id: str | None = None,
    patient: Mapping | None = None,
    confirmation: Mapping | Confirmation | None = None,
    acquired: datetime | str | None = None,
    issued: datetime | None = None,
    waveform: bool = True,
) -> dict:
    """The Bundle for ``analysis``. ``record_id`` names the record (ids derive from it; a
    random one is used when it is ``None``); ``issued``: when the result was made available
    (an instant with a time zone); ``waveform=False`` leaves the samples out."""
    ids = _Ids(record_id)
    who = patient_of(analysis, patient)
    confirmed = confirmation_of(confirmation)
    subject = {"reference": ids.ref("Patient")}
    if who.name:
        subject["display"] = who.name
    effective = _effective(acquired)
    observations = [_measurement(analysis, km, subject, effective, ids) for km in KEY_MEASUREMENTS]
    if waveform and analysis.signal.size:
        observations.append(_waveform(analysis, subject, effective, ids))
    report = _report(analysis, observations, subject, effective, issued, confirmed, ids)
    resources = [_patient(who, ids), report, *observations]
    return {
        "resourceType": "Bundle",
        "id": ids.id("Bundle"),
        "type": "collection",
        "entry": [
            {"fullUrl": ids.ref(r["resourceType"], r["id"]), "resource": r} for r in resources
        ],
    }


class _Ids:
    def __init__(self, record_id: str | None):
        self.base = str(record_id) if record_id else uuid.uuid4().hex

    def id(self, kind: str, part: str = "") -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.base}/{kind}/{part}"))

    def ref(self, kind: str, rid: str | None = None) -> str:
        return f"urn:uuid:{rid or self.id(kind)}"


def _effective(acquired: datetime | str | None) -> dict:
    if acquired is None:
        return {}
    text = acquired.isoformat() if isinstance(acquired, datetime) else str(acquired)
    return {"effectiveDateTime": text}


def _patient(who: Patient, ids: _Ids) -> dict:
    res: dict = {"resourceType": "Patient", "id": ids.id("Patient")}
    if who.id:
        res["identifier"] = [{"value": who.id}]
    if who.name:
        res["name"] = [{"text": who.name}]
    res["gender"] = who.sex_word or "unknown"
    if who.birth_date:
        res["birthDate"] = who.birth_date.isoformat()
    return res


def _measurement(analysis, km, subject, effective, ids) -> dict:
    res = {
        "resourceType": "Observation",
        "id": ids.id("Observation", km.name),
        "status": "final",
        "category": [_OBS_CATEGORY],
        "code": {
            "coding": [{"system": LOINC, "code": km.loinc, "display": km.loinc_display}],
            "text": km.label,
        },
        "subject": subject,
        **effective,
    }
    m = value_of(analysis, km.name)
    if m is None:
        res["dataAbsentReason"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                    "code": "error",
                    "display": "Error",
                }
            ],
            "text": "could not be measured on this recording",
        }
        return res
    res["valueQuantity"] = _quantity(m["value"], km)
    flag = _FLAG.get(m.get("flag") or "")
    if flag:
        res["interpretation"] = [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/"
                        "v3-ObservationInterpretation",
                        "code": flag[0],
                        "display": flag[1],
                    }
                ]
            }
        ]
    rng = {}
    if m.get("low") is not None:
        rng["low"] = _quantity(m["low"], km)
    if m.get("high") is not None:
        rng["high"] = _quantity(m["high"], km)
    if rng:
        res["referenceRange"] = [rng]
    return res


def _quantity(value: float, km) -> dict:
    return {
        "value": round(float(value), 1),
        "unit": km.unit if km.unit != "°" else "deg",
        "system": UCUM,
        "code": km.ucum,
    }


def _waveform(analysis: Analysis, subject, effective, ids) -> dict:
    period_ms = round(1000.0 / float(analysis.fs), 6)
    uv = np.rint(np.asarray(analysis.signal, dtype=np.float64) * 1000.0).astype(np.int64)
    components = []
    for i, lead in enumerate(analysis.leads):
        code = _LEAD_CODE.get(lead)
        coding = (
            [
                {
                    "system": MDC,
                    "code": str(_ELEC_POTL + code),
                    "display": f"MDC_ECG_ELEC_POTL_{lead}",
                }
            ]
            if code
            else []
        )
        components.append(
            {
                "code": {"coding": coding, "text": f"Lead {lead}"} if coding else {"text": lead},
                "valueSampledData": {
                    "origin": {"value": 0, "unit": "uV", "system": UCUM, "code": "uV"},
                    "period": period_ms,
                    "factor": 1,
                    "dimensions": 1,
                    "data": " ".join(map(str, uv[i].tolist())),
                },
            }
        )
    return {
        "resourceType": "Observation",
        "id": ids.id("Observation", "waveform"),
        "status": "final",
        "category": [_OBS_CATEGORY],
        "code": {
            "coding": [{"system": MDC, "code": str(_ELEC_POTL), "display": "MDC_ECG_ELEC_POTL"}],
            "text": f"{len(analysis.leads)}-lead ECG waveform (band-passed), microvolts",
        },
        "subject": subject,
        **effective,
        "device": {"display": f"HeartEye {__version__} (analysed signal)"},
        "component": components,
    }


def _report(analysis, observations, subject, effective, issued, confirmed, ids) -> dict:
    res = {
        "resourceType": "DiagnosticReport",
        "id": ids.id("DiagnosticReport"),
        "status": "final" if confirmed else "preliminary",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                        "code": "EC",
                        "display": "Electrocardiac (e.g., EKG, EEC, Holter)",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": "11524-6", "display": "EKG study"}]},
        "subject": subject,
        **effective,
        "result": [{"reference": ids.ref(o["resourceType"], o["id"])} for o in observations],
        "conclusion": _conclusion(analysis, confirmed),
    }
    if issued is not None:
        res["issued"] = issued.isoformat()
    if confirmed:
        res["resultsInterpreter"] = [{"display": confirmed.by}]
    codes = [_statement_code(s) for s in statements_of(analysis)]
    if codes:
        res["conclusionCode"] = codes
    return res


def _conclusion(analysis: Analysis, confirmed: Confirmation | None) -> str:
    interp = interpretation_of(analysis)
    lines = [str(interp["overall"])] if interp else [verdict_text(analysis)]
    lines += [str(s.get("text") or s.get("code")) for s in statements_of(analysis)]
    if confirmed:
        lines.append(f"Confirmed by {confirmed.by} on {confirmed.at_text}.")
    else:
        lines.append("Unconfirmed automated analysis.")
    return "\n".join(lines)


def _statement_code(statement: Mapping) -> dict:
    text = str(statement.get("text") or statement.get("code"))
    concept: dict = {"text": text}
    if statement.get("snomed"):
        concept["coding"] = [{"system": SNOMED, "code": str(statement["snomed"])}]
    return concept
