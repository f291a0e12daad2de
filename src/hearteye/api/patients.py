"""Patient routes: the team's patients and one patient's ECGs (newest first). A patient of
another team answers 404, like an unknown one."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask_jwt_extended import current_user, jwt_required

from hearteye.api.auth import BEARER
from hearteye.api.schemas import PatientEcgOut, PatientOut, PatientQuery
from hearteye.api.services import patients

bp = APIBlueprint("patients", __name__, url_prefix="/patients", tag="Patients")


@bp.get("")
@jwt_required()
@bp.input(PatientQuery, location="query", arg_name="query")
@bp.output(PatientOut(many=True))
@bp.doc(security=BEARER)
def list_patients(query):
    """Your team's patients (uploads with an MRN), most recently seen first; `search`
    matches the MRN or the name."""
    return patients.listing(current_user, query["search"])


@bp.get("/<int:patient_id>/ecgs")
@jwt_required()
@bp.output(PatientEcgOut(many=True))
@bp.doc(security=BEARER, responses={404: "no such patient in your team"})
def patient_ecgs(patient_id):
    """The patient's ECGs, newest first, each with its comparison with the one before."""
    _patient, rows = patients.ecgs(current_user, patient_id)
    return rows
