"""The service calls the web app makes, in one place.

The web pages use the same services as the JSON API (`hearteye.api.services.ecgs`,
`hearteye.api.auth`): an upload from the browser goes through the very `create_ecg` that
`POST /predict` calls, so every format the readers know works here too and its errors read
the same. The history page adds a verdict filter and a choice of order to the API's own search query
(`history_query`: the same rows, the same escaping of the search term).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from hearteye.api import db
from hearteye.api.auth import authenticate, create_user
from hearteye.api.models import Ecg, User
from hearteye.api.schemas import LeadsOut
from hearteye.api.services import ecgs, patients, review, teams

PatientForm = ecgs.PatientForm
create_ecg = ecgs.create_ecg
find = ecgs.find
set_notes = ecgs.set_notes
delete = ecgs.delete
plot_png = ecgs.plot_png
may_delete = ecgs.may_delete
patient_listing = patients.listing
patient_ecgs = patients.ecgs
worklist = review.worklist
machine_reading = review.machine_reading
current_reading = review.current_reading
set_reading = review.set_reading
confirm = review.confirm
audit_trail = review.trail
team_of = teams.team_of
team_members = teams.members
invite = teams.invite
set_role = teams.set_role


def confidence(ecg: Ecg) -> float:
    """The verdict's own probability (as the API reports it)."""
    return ecg.confidence


def leads_payload(ecg: Ecg) -> dict:
    """The whole stored display signal (up to LEADS_MAX_SECONDS), shaped as the API's
    ``/ecg/<id>/leads`` answers it."""
    return LeadsOut().dump(ecgs.leads_window(ecg, 0.0, None))


__all__ = [
    "HistoryQuery",
    "invite",
    "set_role",
    "team_members",
    "team_of",
    "audit_trail",
    "confirm",
    "current_reading",
    "machine_reading",
    "may_delete",
    "patient_ecgs",
    "patient_listing",
    "set_reading",
    "worklist",
    "PatientForm",
    "SORTS",
    "VERDICTS",
    "authenticate",
    "confidence",
    "create_ecg",
    "create_user",
    "delete",
    "find",
    "leads_payload",
    "plot_png",
    "search_history",
    "set_notes",
]

# Orders offered on the history page: name -> (label, SQL order).
SORTS = {
    "newest": ("Newest first", (Ecg.upload_date.desc(), Ecg.id.desc())),
    "oldest": ("Oldest first", (Ecg.upload_date.asc(), Ecg.id.asc())),
    "patient": ("Patient A-Z", (func.lower(Ecg.patient_name).asc(), Ecg.id.desc())),
    "patient_desc": ("Patient Z-A", (func.lower(Ecg.patient_name).desc(), Ecg.id.desc())),
    "probability": (
        "Most abnormal first",
        (Ecg.probability_abnormal.desc(), Ecg.id.desc()),
    ),
}
VERDICTS = ("Normal", "Abnormal")


@dataclass(frozen=True)
class HistoryQuery:
    search: str = ""
    verdict: str = ""  # "" | Normal | Abnormal
    sort: str = "newest"
    page: int = 1
    per_page: int = 20


def search_history(user: User, q: HistoryQuery) -> tuple[list[Ecg], int]:
    """One page of the user's records matching the query, and how many match in all."""
    query = ecgs.history_query(user, q.search)
    if q.verdict in VERDICTS:
        query = query.where(Ecg.classification == q.verdict)
    s = db.session()
    total = s.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    order = SORTS.get(q.sort, SORTS["newest"])[1]
    rows = (
        s.execute(query.order_by(*order).offset((q.page - 1) * q.per_page).limit(q.per_page))
        .scalars()
        .all()
    )
    return list(rows), int(total)
