"""ECG routes: upload and analyse, history, one record, its leads, its plot, notes, delete.

Each route parses its input, calls `hearteye.api.records`, and shapes the response. A record
of another user answers 404 exactly like a record that does not exist.
"""

from __future__ import annotations

from apiflask import APIBlueprint, HTTPError
from apiflask.fields import Integer
from flask import Response, current_app, jsonify, request
from flask_jwt_extended import current_user, jwt_required, verify_jwt_in_request

from hearteye.api import records
from hearteye.api.auth import BEARER
from hearteye.api.errors import Forbidden
from hearteye.api.schemas import (
    HistoryQuery,
    LeadsOut,
    LeadsQuery,
    MessageOut,
    NotesIn,
    PredictIn,
    RecordDetailOut,
    RecordOut,
)

bp = APIBlueprint("ecgs", __name__, tag="ECGs")

_FILE_ID = {"file_id": {"description": "the record's file_id"}}


@bp.post("/predict")
@jwt_required()
@bp.input(PredictIn, location="form_and_files", arg_name="form")
@bp.output(RecordDetailOut, status_code=201)
@bp.doc(
    security=BEARER,
    responses={
        413: "the upload is larger than MAX_UPLOAD_MB",
        415: "not an ECG format HeartEye reads",
        422: "the ECG file is inconsistent or cannot be analysed",
    },
)
def predict(form):
    """Upload an ECG, analyse it and store it.

    Send `multipart/form-data`: `file` (one ECG file in any format HeartEye reads, one `.zip`
    holding one, or a `.hea` and its signal files as repeated `file` fields) and the patient
    fields. An empty patient name, age or sex is taken from the file when it states them
    (cart exports do), unless `PATIENT_FROM_FILE=false`.
    """
    if (
        not form["patient_name"]
        and not current_app.extensions["hearteye"].settings.patient_from_file
    ):
        raise HTTPError(
            400, detail={"form": {"patient_name": ["Missing data for required field."]}}
        )
    patient = records.PatientForm(
        patient_name=form["patient_name"].strip(),
        age=form.get("age"),
        gender=form.get("gender"),
        notes=form.get("notes"),
    )
    files = [(f.filename or "", f.read()) for f in form["file"]]
    ecg, summary = records.create_ecg(current_user, patient, files)
    return records.record_dict(ecg, summary), 201, {"Location": f"/ecg/{ecg.file_id}"}


@bp.get("/history")
@jwt_required()
@bp.input(HistoryQuery, location="query", arg_name="query")
@bp.output(
    RecordOut(many=True),
    headers={
        "X-Total-Count": Integer(
            required=True, metadata={"description": "number of records matching the search"}
        )
    },
)
@bp.doc(security=BEARER)
def history(query):
    """Your records, newest first; `search` matches the patient name or the file id."""
    rows, total = records.history(current_user, query["search"], query["page"], query["per_page"])
    return [records.record_dict(r) for r in rows], 200, {"X-Total-Count": str(total)}


@bp.get("/ecg/<file_id>")
@jwt_required()
@bp.output(RecordDetailOut)
@bp.doc(security=BEARER, responses={404: "no such record in your history"})
def get_ecg(file_id):
    """One record with its full analysis (`summary`)."""
    ecg = records.find(current_user, file_id)
    return records.record_dict(ecg, ecg.summary)


@bp.put("/ecg/<file_id>/notes")
@jwt_required()
@bp.input(NotesIn, arg_name="body")
@bp.output(RecordOut)
@bp.doc(security=BEARER, responses={404: "no such record in your history"})
def put_notes(file_id, body):
    """Replace the record's notes (`null` clears them)."""
    return records.record_dict(records.set_notes(current_user, file_id, body["notes"]))


@bp.delete("/ecg/<file_id>")
@jwt_required()
@bp.output(MessageOut)
@bp.doc(security=BEARER, responses={404: "no such record in your history"})
def delete_ecg(file_id):
    """Delete the record and its stored files."""
    records.delete(current_user, file_id)
    return {"message": f"ECG {file_id} deleted"}


@bp.get("/ecg/<file_id>/leads")
@jwt_required()
@bp.input(LeadsQuery, location="query", arg_name="query")
@bp.doc(
    security=BEARER,
    responses={
        200: {
            "description": "the display signals (band-passed, mV, 500 Hz) and measurements",
            "content": {"application/json": {"schema": LeadsOut}},
        },
        404: "no such record in your history",
    },
)
def leads(file_id, query):
    """The signals for display, with the measurements and beats.

    Returns up to `LEADS_MAX_SECONDS` seconds from `start`.
    """
    ecg = records.find(current_user, file_id)
    # jsonify directly: a schema would re-validate tens of thousands of floats for nothing.
    return jsonify(records.leads_payload(ecg, query["start"], query["seconds"]))


@bp.get("/ecg/<file_id>/plot.png")
@bp.doc(
    security=[{BEARER: []}, {}],
    responses={
        200: {
            "description": "the 12-lead ECG on paper grid",
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        },
        403: "the signed link has expired or is invalid",
        404: "no such record in your history",
    },
    description="Authorised either by `Authorization: Bearer` (the owner) or by the "
    "`expires` and `signature` query parameters of a record's `plot_url`, so "
    "that a plain `<img src>` can load it.",
)
def plot(file_id):
    """The ECG plot (PNG)."""
    expires, signature = request.args.get("expires"), request.args.get("signature")
    if signature is not None or expires is not None:
        try:
            expires_at = int(expires or "")
        except ValueError:
            expires_at = 0
        if not records.check_signature(file_id, expires_at, signature or ""):
            raise Forbidden(
                "this plot link has expired or is invalid; fetch the record again "
                "for a fresh plot_url",
                code="invalid_signature",
                details={"file_id": file_id},
            ) from None
        ecg = records.ecg_by_file_id(file_id)
    else:
        verify_jwt_in_request()
        ecg = records.find(current_user, file_id)
    resp = Response(records.plot_png(ecg), mimetype="image/png")
    resp.headers["Cache-Control"] = "private, max-age=300"
    return resp
