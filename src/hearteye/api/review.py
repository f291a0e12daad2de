"""Review routes: the worklist, the overread (edit the reading), confirmation and a record's
audit trail.

Editing and confirming are for cardiologists (403 for other roles); another team's record
answers 404. The audit trail is read-only: no route changes or deletes an event, and the
methods that would (PUT, PATCH, DELETE on /audit) answer 405.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.fields import Integer
from flask_jwt_extended import current_user, jwt_required

from hearteye.api.auth import BEARER
from hearteye.api.schemas import (
    AuditEventOut,
    ConfirmIn,
    PageQuery,
    ReadingIn,
    RecordDetailOut,
    RecordOut,
)
from hearteye.api.services import review

bp = APIBlueprint("review", __name__, tag="Review")


@bp.get("/worklist")
@jwt_required()
@bp.input(PageQuery, location="query", arg_name="query")
@bp.output(
    RecordOut(many=True),
    headers={"X-Total-Count": Integer(required=True, metadata={"description": "unconfirmed"})},
)
@bp.doc(security=BEARER)
def worklist(query):
    """Your team's unconfirmed records, oldest first."""
    rows, total = review.worklist(current_user, query["page"], query["per_page"])
    return rows, 200, {"X-Total-Count": str(total)}


@bp.put("/ecg/<file_id>/reading")
@jwt_required()
@bp.input(ReadingIn, arg_name="body")
@bp.output(RecordDetailOut)
@bp.doc(
    security=BEARER,
    responses={403: "only cardiologists edit the reading", 404: "no such record in your team"},
)
def put_reading(file_id, body):
    """Replace the reading: statements (add, remove, rewrite) and the overall line.

    The machine's interpretation stays as it was (`machine_reading`); a confirmed record
    becomes unconfirmed again.
    """
    return review.set_reading(current_user, file_id, body["statements"], body["overall"])


@bp.post("/ecg/<file_id>/confirm")
@jwt_required()
@bp.input(ConfirmIn, arg_name="body")
@bp.output(RecordDetailOut)
@bp.doc(
    security=BEARER,
    responses={
        403: "only cardiologists confirm",
        404: "no such record in your team",
        409: "already confirmed",
    },
)
def confirm(file_id, body):
    """Confirm the record, optionally with an edited reading (`statements`, `overall`)."""
    return review.confirm(current_user, file_id, body.get("statements"), body.get("overall"))


@bp.get("/ecg/<file_id>/audit")
@jwt_required()
@bp.output(AuditEventOut(many=True))
@bp.doc(security=BEARER, responses={404: "no such record in your team"})
def audit_trail(file_id):
    """Every change to the record, oldest first: who, when, what, before and after."""
    return review.trail(current_user, file_id)
