"""Export routes: the printable report (PDF), FHIR R4, DICOM 12-lead waveform, the
measurements as CSV, and the whole history as CSV.

Each route finds the record through the record service (another user's record answers 404
exactly like a missing one) and hands it to `hearteye.api.services.exports`, which builds the
file from the stored analysis (the web app's download links use the same); nothing here
measures or draws.

The history export streams the user's records from the record service in batches (summaries
included, `SUMMARY_BATCH` at a time), so memory stays flat however long the history is.
"""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, String
from apiflask.validators import Length, OneOf
from flask import stream_with_context
from flask_jwt_extended import current_user, jwt_required
from marshmallow import EXCLUDE, ValidationError

from hearteye.api.auth import BEARER
from hearteye.api.schemas import RecordOut
from hearteye.api.services import ecgs
from hearteye.api.services import exports as files
from hearteye.export import csv as csv_export
from hearteye.report import PAPERS

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
    return files.report_pdf(ecgs.find(current_user, file_id), query["paper"])


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
    return files.fhir_bundle(ecgs.find(current_user, file_id), query["waveform"])


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
    return files.dicom_waveform(ecgs.find(current_user, file_id))


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
    return files.measurements_csv(ecgs.find(current_user, file_id))


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
    return files.attachment(
        stream_with_context(csv_export.history_csv(rows)),
        "text/csv; charset=utf-8",
        "hearteye-history.csv",
    )
