"""Export routes: the printable report (PDF), FHIR R4, DICOM 12-lead waveform, the
measurements as CSV, and the whole history as CSV.

Each route finds the record through the record service (another user's record answers 404
exactly like a missing one), rebuilds its `Analysis` from what was stored, and hands it to
`hearteye.report` / `hearteye.export`; nothing here measures or draws. Responses carry patient
data: they are ``Cache-Control: no-store`` and sent as attachments.

The history export streams the user's records from the record service in batches (summaries
included, `SUMMARY_BATCH` at a time), so memory stays flat however long the history is.
"""

from __future__ import annotations

import json

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, String
from apiflask.validators import Length, OneOf
from flask import Response, stream_with_context
from flask_jwt_extended import current_user, jwt_required
from marshmallow import EXCLUDE, ValidationError

from hearteye.api.auth import BEARER
from hearteye.api.schemas import RecordOut
from hearteye.api.services import ecgs
from hearteye.export import csv as csv_export
from hearteye.export.dicom import to_dicom
from hearteye.export.fhir import to_fhir_bundle
from hearteye.report import PAPERS, render_pdf

bp = APIBlueprint("exports", __name__, tag="Exports")

_NOT_FOUND = {404: "no such record in your history"}


def _no_nul(value) -> None:
    if isinstance(value, str) and "\x00" in value:
        raise ValidationError("must not contain a NUL character")


class _Query(Schema):
    class Meta:
        unknown = EXCLUDE


class ReportQuery(_Query):
    paper = String(
        load_default="a4",
        validate=OneOf(tuple(PAPERS)),
        metadata={"description": "page size, landscape"},
    )


class FhirQuery(_Query):
    waveform = Boolean(
        load_default=True,
        metadata={"description": "include the samples (an Observation with SampledData)"},
    )


class HistoryExportQuery(_Query):
    search = String(load_default="", validate=[Length(max=200), _no_nul])


def _binary(media_type: str, description: str) -> dict:
    return {
        "description": description,
        "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
    }


def _attachment(body, media_type: str, filename: str) -> Response:
    resp = Response(body, mimetype=media_type)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _patient(ecg) -> dict:
    return {"name": ecg.patient_name, "age": ecg.age, "gender": ecg.gender}


@bp.get("/ecg/<file_id>/report.pdf")
@jwt_required()
@bp.input(ReportQuery, location="query", arg_name="query")
@bp.doc(
    security=BEARER,
    responses={200: _binary("application/pdf", "the one-page ECG report"), **_NOT_FOUND},
)
def report_pdf(file_id, query):
    """The printable report: patient, measurements, interpretation, review status and the
    12 leads at 25 mm/s and 10 mm/mV on a true-scale grid (one page, vector PDF)."""
    ecg = ecgs.find(current_user, file_id)
    pdf = render_pdf(
        ecgs.stored_analysis(ecg),
        patient=_patient(ecg),
        paper=query["paper"],
        uploaded=ecg.upload_date,
    )
    return _attachment(pdf, "application/pdf", f"ecg-{file_id}.pdf")


@bp.get("/ecg/<file_id>/fhir")
@jwt_required()
@bp.input(FhirQuery, location="query", arg_name="query")
@bp.doc(
    security=BEARER,
    responses={
        200: {
            "description": "a FHIR R4 Bundle (collection): Patient, DiagnosticReport, one "
            "Observation per measurement (LOINC, UCUM) and the waveform (SampledData)",
            "content": {"application/fhir+json": {"schema": {"type": "object"}}},
        },
        **_NOT_FOUND,
    },
)
def fhir(file_id, query):
    """The record as an HL7 FHIR R4 Bundle for the electronic health record."""
    ecg = ecgs.find(current_user, file_id)
    bundle = to_fhir_bundle(
        ecgs.stored_analysis(ecg),
        record_id=ecg.file_id,
        patient=_patient(ecg),
        issued=ecg.upload_date,
        waveform=query["waveform"],
    )
    body = json.dumps(bundle, separators=(",", ":"), allow_nan=False)
    return _attachment(body, "application/fhir+json", f"ecg-{file_id}.fhir.json")


@bp.get("/ecg/<file_id>/dicom")
@jwt_required()
@bp.doc(
    security=BEARER,
    responses={
        200: _binary("application/dicom", "a DICOM 12-Lead ECG Waveform Storage object"),
        **_NOT_FOUND,
    },
)
def dicom(file_id):
    """The record as a DICOM 12-lead ECG waveform for PACS (samples in microvolts, at most
    16,384 per lead as the IOD allows; `X-HeartEye-Truncated: true` when cut)."""
    ecg = ecgs.find(current_user, file_id)
    out = to_dicom(ecgs.stored_analysis(ecg), record_id=ecg.file_id, patient=_patient(ecg))
    resp = _attachment(out.data, "application/dicom", f"ecg-{file_id}.dcm")
    resp.headers["X-HeartEye-Truncated"] = "true" if out.cut else "false"
    return resp


@bp.get("/ecg/<file_id>/measurements.csv")
@jwt_required()
@bp.doc(
    security=BEARER,
    responses={
        200: {
            "description": "one row per measurement: name, label, value, unit, low, high, "
            "flag, loinc",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **_NOT_FOUND,
    },
)
def measurements_csv(file_id):
    """Every measurement of the record as CSV."""
    ecg = ecgs.find(current_user, file_id)
    body = csv_export.measurements_csv(ecgs.stored_analysis(ecg))
    return _attachment(body, "text/csv; charset=utf-8", f"ecg-{file_id}-measurements.csv")


@bp.get("/history/export.csv")
@jwt_required()
@bp.input(HistoryExportQuery, location="query", arg_name="query")
@bp.doc(
    security=BEARER,
    responses={
        200: {
            "description": "one row per record, newest first (streamed)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def history_export(query):
    """Your records matching `search` (patient name or file id) as CSV, all of them,
    streamed."""
    user = current_user._get_current_object()
    shape = RecordOut()
    stream = ecgs.stream_history(user, query["search"], with_summary=True)
    rows = (csv_export.history_row(shape.dump(ecg), ecg.summary) for ecg in stream)
    return _attachment(
        stream_with_context(csv_export.history_csv(rows)),
        "text/csv; charset=utf-8",
        "hearteye-history.csv",
    )
