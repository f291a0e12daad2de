"""The service calls the web app makes, in one place.

The web pages use the same services as the JSON API (`hearteye.api.records`,
`hearteye.api.auth`): an upload from the browser goes through the very `create_ecg` that
`POST /predict` calls, so every format the readers know works here too and its errors read
the same. The only query of its own is the history page's, which adds a verdict filter and a
choice of order to the API's search; it reads the same rows and escapes the search term the
same way (a `%` or `_` typed by the user matches itself, not "anything").
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select

from hearteye.api import db, records
from hearteye.api.auth import authenticate, create_user
from hearteye.api.models import Ecg, User

PatientForm = records.PatientForm
create_ecg = records.create_ecg
find = records.find
set_notes = records.set_notes
delete = records.delete
plot_png = records.plot_png
leads_payload = records.leads_payload
confidence = records.confidence

__all__ = [
    "HistoryQuery",
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
    query = select(Ecg).where(Ecg.user_id == user.id)
    term = q.search.strip()
    if term:
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                Ecg.patient_name.ilike(pattern, escape="\\"),
                Ecg.file_id.ilike(pattern, escape="\\"),
            )
        )
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
