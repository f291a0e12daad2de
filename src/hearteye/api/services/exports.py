"""Export files of one stored record: the printable report (PDF), FHIR R4, DICOM 12-lead
waveform and the measurements as CSV, built by `hearteye.report` / `hearteye.export` from the
record's stored analysis. Shared by the API's export routes and the web app's download links,
so both serve the same bytes under the same headers.

Responses carry patient data: they are ``Cache-Control: no-store`` and sent as attachments.
"""

from __future__ import annotations

import json

from flask import Response

from hearteye.api import db
from hearteye.api.models import CONFIRMED, Ecg, User
from hearteye.api.services import ecgs
from hearteye.export import csv as csv_export
from hearteye.export.dicom import to_dicom
from hearteye.export.fhir import to_fhir_bundle
from hearteye.report import render_pdf


def attachment(body, media_type: str, filename: str) -> Response:
    resp = Response(body, mimetype=media_type)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _patient(ecg: Ecg) -> dict:
    return {"name": ecg.patient_name, "age": ecg.age, "gender": ecg.gender}


def _confirmation(ecg: Ecg) -> dict | None:
    """Who confirmed the record and when (the report then says so instead of UNCONFIRMED)."""
    if ecg.status != CONFIRMED or ecg.confirmed_at is None:
        return None
    who = db.session().get(User, ecg.confirmed_by) if ecg.confirmed_by else None
    return {"by": who.username if who else "a cardiologist", "at": ecg.confirmed_at}


def report_pdf(ecg: Ecg, paper: str) -> Response:
    pdf = render_pdf(
        ecgs.stored_analysis(ecg),
        patient=_patient(ecg),
        paper=paper,
        uploaded=ecg.upload_date,
        confirmation=_confirmation(ecg),
    )
    return attachment(pdf, "application/pdf", f"ecg-{ecg.file_id}.pdf")


def fhir_bundle(ecg: Ecg, waveform: bool) -> Response:
    bundle = to_fhir_bundle(
        ecgs.stored_analysis(ecg),
        record_id=ecg.file_id,
        patient=_patient(ecg),
        issued=ecg.upload_date,
        waveform=waveform,
    )
    body = json.dumps(bundle, separators=(",", ":"), allow_nan=False)
    return attachment(body, "application/fhir+json", f"ecg-{ecg.file_id}.fhir.json")


def dicom_waveform(ecg: Ecg) -> Response:
    out = to_dicom(ecgs.stored_analysis(ecg), record_id=ecg.file_id, patient=_patient(ecg))
    resp = attachment(out.data, "application/dicom", f"ecg-{ecg.file_id}.dcm")
    resp.headers["X-HeartEye-Truncated"] = "true" if out.cut else "false"
    return resp


def measurements_csv(ecg: Ecg) -> Response:
    body = csv_export.measurements_csv(ecgs.stored_analysis(ecg))
    return attachment(body, "text/csv; charset=utf-8", f"ecg-{ecg.file_id}-measurements.csv")
