"""ECG routes: upload and analyse, history, one record, its leads, its plot, notes, delete.

Each route parses its input, calls `hearteye.api.services.ecgs`, and returns what it got; the
route's output schema shapes the JSON. A record of another team answers 404 exactly like a
record that does not exist.

``GET /history`` without ``page`` and ``per_page`` returns the whole list, as the original API
did (its React client sorts, pages and searches on its own): the JSON array is streamed from
the database in batches, so memory does not grow with the number of records.
"""

from __future__ import annotations

from apiflask import APIBlueprint, HTTPError
from apiflask.fields import Integer
from flask import Response, current_app, request, stream_with_context
from flask_jwt_extended import current_user, jwt_required, verify_jwt_in_request

from hearteye.api.auth import BEARER
from hearteye.api.errors import Forbidden
from hearteye.api.plot_links import check_signature
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
from hearteye.api.services import ecgs

bp = APIBlueprint("ecgs", __name__, tag="ECGs")


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
    patient = ecgs.PatientForm.from_form(form)
    files = [(f.filename or "", f.read()) for f in form["file"]]
    ecg, _summary = ecgs.create_ecg(current_user, patient, files)
    return ecg, 201, {"Location": f"/ecg/{ecg.file_id}"}


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
    """Your records, newest first; `search` matches the patient name or the file id.

    Without `page` and `per_page`, all of them (as the original API did); with either, one
    page (`page` 1 and `per_page` 20 unless given).
    """
    search, page, per_page = query["search"], query.get("page"), query.get("per_page")
    if page is None and per_page is None:
        rows = ecgs.stream_history(current_user, search)
        resp = Response(
            stream_with_context(_json_array(rows, RecordOut())),
            mimetype="application/json",
            headers={"X-Total-Count": str(rows.total)},
        )
        resp.call_on_close(rows.close)
        return resp
    rows, total = ecgs.history(current_user, search, page or 1, per_page or 20)
    return rows, 200, {"X-Total-Count": str(total)}


def _json_array(items, schema, chunk: int = 100):
    """``[item, ...]`` as text, each item dumped by ``schema``, ``chunk`` items per piece."""
    dumps = current_app.json.dumps
    yield "["
    piece: list[str] = []
    first = True
    for item in items:
        piece.append(dumps(schema.dump(item), separators=(",", ":")))
        if len(piece) == chunk:
            yield ("" if first else ",") + ",".join(piece)
            first, piece = False, []
    if piece:
        yield ("" if first else ",") + ",".join(piece)
    yield "]\n"


@bp.get("/ecg/<file_id>")
@jwt_required()
@bp.output(RecordDetailOut)
@bp.doc(security=BEARER, responses={404: "no such record in your history"})
def get_ecg(file_id):
    """One record with its full analysis (`summary`)."""
    return ecgs.find(current_user, file_id)


@bp.put("/ecg/<file_id>/notes")
@jwt_required()
@bp.input(NotesIn, arg_name="body")
@bp.output(RecordOut)
@bp.doc(security=BEARER, responses={404: "no such record in your history"})
def put_notes(file_id, body):
    """Replace the record's notes (`null` clears them)."""
    return ecgs.set_notes(current_user, file_id, body["notes"])


@bp.delete("/ecg/<file_id>")
@jwt_required()
@bp.output(MessageOut)
@bp.doc(security=BEARER, responses={404: "no such record in your history"})
def delete_ecg(file_id):
    """Delete the record and its stored files."""
    ecgs.delete(current_user, file_id)
    return {"message": f"ECG {file_id} deleted"}


@bp.get("/ecg/<file_id>/leads")
@jwt_required()
@bp.input(LeadsQuery, location="query", arg_name="query")
@bp.output(LeadsOut, description="the display signals (band-passed, mV, 500 Hz) and measurements")
@bp.doc(security=BEARER, responses={404: "no such record in your history"})
def leads(file_id, query):
    """The signals for display, with the measurements and beats.

    Returns up to `LEADS_MAX_SECONDS` seconds from `start`.
    """
    ecg = ecgs.find(current_user, file_id)
    return ecgs.leads_window(ecg, query["start"], query["seconds"])


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
        if not check_signature(file_id, expires_at, signature or ""):
            raise Forbidden(
                "this plot link has expired or is invalid; fetch the record again "
                "for a fresh plot_url",
                code="invalid_signature",
                details={"file_id": file_id},
            ) from None
        ecg = ecgs.ecg_by_file_id(file_id)
    else:
        verify_jwt_in_request()
        ecg = ecgs.find(current_user, file_id)
    resp = Response(ecgs.plot_png(ecg), mimetype="image/png")
    resp.headers["Cache-Control"] = "private, max-age=300"
    return resp
