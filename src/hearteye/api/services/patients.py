"""Patients: a team's patients, identified by the team's medical record number (MRN).

Rules, and why:
- An MRN is unique within a team, not across teams: two clinics may number patients alike.
- The patient is created by the first upload that names the MRN, with that upload's name,
  birth date, age and sex; later uploads fill in what was missing but never overwrite what
  is known (a typo on one upload must not rename the patient). The upload keeps its own
  patient fields as entered, so a mismatch stays visible on the record.
- Two uploads racing to create one MRN: the unique constraint lets one win, the other
  reads the winner's row (a savepoint keeps the upload's transaction alive).
- Lists are the team's only; another team's patient answers 404 like an unknown one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from hearteye.api import db
from hearteye.api.errors import NotFound
from hearteye.api.models import Ecg, Patient, User, utcnow


@dataclass(frozen=True)
class PatientFields:
    mrn: str
    name: str
    birth_date: date | None
    age: int | None
    sex: str | None


@dataclass(frozen=True)
class PatientSummary:
    """A patient with the number of ECGs and the newest one's date (for lists)."""

    patient: Patient
    n_ecgs: int
    last_ecg_at: object


def _by_mrn(s: Session, team_id: int, mrn: str) -> Patient | None:
    q = select(Patient).where(Patient.team_id == team_id, Patient.mrn == mrn)
    return s.execute(q).scalar_one_or_none()


def get_or_create(s: Session, team_id: int, fields: PatientFields) -> Patient:
    patient = _by_mrn(s, team_id, fields.mrn)
    if patient is None:
        try:
            with s.begin_nested():
                patient = Patient(
                    team_id=team_id,
                    mrn=fields.mrn,
                    name=fields.name,
                    birth_date=fields.birth_date,
                    age=fields.age,
                    sex=fields.sex,
                    created_at=utcnow(),
                )
                s.add(patient)
        except IntegrityError:
            patient = _by_mrn(s, team_id, fields.mrn)
            if patient is None:
                raise
        return patient
    for attr in ("birth_date", "age", "sex"):
        if getattr(patient, attr) is None and getattr(fields, attr) is not None:
            setattr(patient, attr, getattr(fields, attr))
    return patient


MAX_ID = 2**31 - 1  # an INTEGER key; a larger number (PostgreSQL refuses it) matches nothing


def find(user: User, patient_id: int) -> Patient:
    patient = db.session().get(Patient, patient_id) if 0 < patient_id <= MAX_ID else None
    if patient is None or patient.team_id != user.team_id:
        raise NotFound(
            f"no patient with id {patient_id} in your team",
            code="patient_not_found",
            details={"patient_id": patient_id},
        )
    return patient


def listing(user: User, search: str) -> list[PatientSummary]:
    """The team's patients matching ``search`` (MRN or name), most recently seen first."""
    counts = (
        select(Ecg.patient_id, func.count().label("n"), func.max(Ecg.upload_date).label("last"))
        .where(Ecg.team_id == user.team_id, Ecg.patient_id.is_not(None))
        .group_by(Ecg.patient_id)
        .subquery()
    )
    q = (
        select(Patient, counts.c.n, counts.c.last)
        .outerjoin(counts, counts.c.patient_id == Patient.id)
        .where(Patient.team_id == user.team_id)
    )
    term = search.strip()
    if term:
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(
            or_(Patient.mrn.ilike(pattern, escape="\\"), Patient.name.ilike(pattern, escape="\\"))
        )
    q = q.order_by(counts.c.last.desc().nulls_last(), Patient.id.desc())
    rows = db.session().execute(q).all()
    return [PatientSummary(p, int(n or 0), last) for p, n, last in rows]


def ecgs(user: User, patient_id: int) -> tuple[Patient, list[Ecg]]:
    """The patient and their ECGs, newest first."""
    patient = find(user, patient_id)
    q = (
        select(Ecg)
        .where(Ecg.team_id == user.team_id, Ecg.patient_id == patient.id)
        .options(defer(Ecg.summary))
        .order_by(Ecg.upload_date.desc(), Ecg.id.desc())
    )
    return patient, list(db.session().execute(q).scalars())
