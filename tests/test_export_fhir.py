"""The FHIR export, validated by the `fhir.resources` models (R4B, whose Patient, Observation,
DiagnosticReport and SampledData are R4's) rather than by hand-written shape checks; then its
content: LOINC codes, UCUM units, SNOMED conclusions and the waveform's samples."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from hearteye.analyze import Analysis, analyze
from hearteye.export.fhir import to_fhir_bundle
from hearteye.io import read_record

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LOINC = {
    "heart_rate": ("8867-4", "/min"),
    "pr_interval": ("8625-6", "ms"),
    "qrs_duration": ("8633-0", "ms"),
    "qt_interval": ("8634-8", "ms"),
    "qtc_bazett": ("8636-3", "ms"),
    "p_axis": ("8626-4", "deg"),
    "qrs_axis": ("8632-2", "deg"),
    "t_axis": ("8638-9", "deg"),
}


@dataclass(frozen=True)
class Interpreted(Analysis):
    statements: list = field(default_factory=list)
    interpretation: dict | None = None


@pytest.fixture(scope="module")
def edf() -> Analysis:
    return analyze(read_record(FIXTURES / "edf" / "ludb_024.edf"))


def _validated(bundle: dict) -> Bundle:
    # Through JSON text, as a receiving server would get it.
    return Bundle.model_validate_json(json.dumps(bundle, allow_nan=False))


def _by_type(model: Bundle, kind: str) -> list:
    return [e.resource for e in model.entry if e.resource.get_resource_type() == kind]


def test_bundle_validates_and_codes_every_measurement(edf):
    bundle = to_fhir_bundle(
        edf,
        record_id="rec-1",
        patient={"name": "Jane Doe", "gender": "F", "birth_date": "1962-03-04"},
        issued=datetime(2026, 11, 29, 10, 0, tzinfo=UTC),
        acquired="2026-11-29T09:30:00+01:00",
    )
    model = _validated(bundle)
    assert model.type == "collection"
    (patient,) = _by_type(model, "Patient")
    assert patient.name[0].text == "Jane Doe" and patient.gender == "female"
    assert str(patient.birthDate) == "1962-03-04"
    (report,) = _by_type(model, "DiagnosticReport")
    assert report.status == "preliminary" and report.code.coding[0].code == "11524-6"
    assert "Unconfirmed" in report.conclusion
    observations = {o.code.coding[0].code: o for o in _by_type(model, "Observation")}
    g = edf.measurements["global"]
    for name, (code, ucum) in LOINC.items():
        obs = observations[code]
        assert obs.code.coding[0].system == "http://loinc.org"
        assert obs.valueQuantity.system == "http://unitsofmeasure.org"
        assert obs.valueQuantity.code == ucum
        assert float(obs.valueQuantity.value) == pytest.approx(g[name]["value"], abs=0.05)
    # every result the report lists is in the bundle
    urls = {e.fullUrl for e in model.entry}
    assert {r.reference for r in report.result} <= urls
    assert report.subject.reference in urls


def test_out_of_range_values_carry_range_and_flag(edf):
    model = _validated(to_fhir_bundle(edf, record_id="r"))
    g = edf.measurements["global"]
    flagged = [n for n in LOINC if g[n]["flag"]]
    assert flagged, "LUDB 24 has out-of-range values (QRS 190 ms)"
    observations = {o.code.coding[0].code: o for o in _by_type(model, "Observation")}
    for name in flagged:
        obs = observations[LOINC[name][0]]
        expected = {"high": "H", "low": "L"}[g[name]["flag"]]
        assert obs.interpretation[0].coding[0].code == expected
        assert obs.referenceRange


def test_waveform_sampled_data_holds_the_samples_in_microvolts(edf):
    model = _validated(to_fhir_bundle(edf, record_id="r"))
    (wave,) = [o for o in _by_type(model, "Observation") if o.code.coding[0].code == "131328"]
    assert len(wave.component) == 12
    lead_ii = next(c for c in wave.component if c.code.coding[0].code == "131330")
    sd = lead_ii.valueSampledData
    assert float(sd.period) == pytest.approx(1000.0 / edf.fs)
    assert sd.origin.code == "uV" and float(sd.factor) == 1
    values = np.array(sd.data.split(), dtype=float) * float(sd.factor) + float(sd.origin.value)
    expected = np.rint(edf.signal[edf.leads.index("II")].astype(np.float64) * 1000)
    assert np.array_equal(values, expected)
    codes = {c.code.coding[0].code for c in wave.component}
    assert {"131329", "131389", "131390", "131391", "131392", "131336"} <= codes


def test_statements_are_snomed_conclusions_and_confirmation_finalises(edf):
    statements = [
        {"code": "CLBBB", "snomed": "733534002", "text": "Left bundle branch block"},
        {"code": "XYZ", "snomed": None, "text": "A statement without a concept"},
    ]
    overall = {"overall": "Abnormal ECG", "severity": "abnormal", "alerts": []}
    # dict merge: works before and after `Analysis` itself has these fields
    rich = Interpreted(**{**edf.__dict__, "statements": statements, "interpretation": overall})
    bundle = to_fhir_bundle(
        rich, record_id="r", confirmation={"by": "Dr. A. Meyer", "at": "2026-11-29T10:12:00Z"}
    )
    (report,) = _by_type(_validated(bundle), "DiagnosticReport")
    assert report.status == "final"
    assert report.resultsInterpreter[0].display == "Dr. A. Meyer"
    first, second = report.conclusionCode
    assert first.coding[0].system == "http://snomed.info/sct"
    assert first.coding[0].code == "733534002" and first.text == "Left bundle branch block"
    assert second.coding is None and second.text == "A statement without a concept"
    assert report.conclusion.startswith("Abnormal ECG\nLeft bundle branch block")


def test_unmeasured_values_are_marked_absent_not_dropped(edf):
    empty = Analysis(**{**edf.__dict__, "measurements": {"global": {}, "leads": {}}})
    model = _validated(to_fhir_bundle(empty, record_id="r", waveform=False))
    obs = _by_type(model, "Observation")
    assert len(obs) == len(LOINC)
    assert all(o.valueQuantity is None and o.dataAbsentReason for o in obs)


def test_ids_are_stable_per_record_and_the_validator_rejects_broken_bundles(edf):
    a = to_fhir_bundle(edf, record_id="same", waveform=False)
    assert a == to_fhir_bundle(edf, record_id="same", waveform=False)
    assert a["id"] != to_fhir_bundle(edf, record_id="other", waveform=False)["id"]
    broken = json.loads(json.dumps(a))
    del broken["entry"][2]["resource"]["status"]  # an Observation must have a status
    with pytest.raises(ValidationError):
        _validated(broken)
    broken = json.loads(json.dumps(a))
    broken["entry"][2]["resource"]["valueQuantity"]["value"] = "fast"
    with pytest.raises(ValidationError):
        _validated(broken)


def test_ptbxl_record(shared_data):
    path = shared_data / "ptbxl" / "records500" / "00000" / "00001_hr.hea"
    if not path.is_file():
        pytest.skip(f"PTB-XL record not at {path}")
    analysis = analyze(read_record(path))
    model = _validated(to_fhir_bundle(analysis, record_id="ptbxl-1"))
    assert len(_by_type(model, "Observation")) == len(LOINC) + 1


@dataclass(frozen=True)
class Statement:
    code: str
    snomed: str | None
    text: str
    category: str = "conduction"
    severity: str = "abnormal"
    evidence: dict = field(default_factory=dict)


def test_statements_held_as_dataclasses_are_read_too(edf):
    rich = Interpreted(**{**edf.__dict__, "statements": [Statement("CRBBB", "713427006", "RBBB")]})
    (report,) = _by_type(_validated(to_fhir_bundle(rich, record_id="r")), "DiagnosticReport")
    assert report.conclusionCode[0].coding[0].code == "713427006"
