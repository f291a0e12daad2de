"""The ECG service: create (parse -> analyze -> store -> row), find, list, annotate and delete
a team's ECGs; the display-signal window and the plot of a stored one.

Access rule: a record belongs to its uploader's team; every member finds, lists and
annotates it, and a member of another team gets the same 404 as for a record that does not
exist. Deleting is for the uploader (while the record is unconfirmed) and the team's admin.

Patients and serial comparison: an upload with an MRN is filed under that patient of the
team (created on first use, `services.patients`); when the patient has an earlier ECG, the
new analysis is compared with the newest one (`hearteye.compare`, against its confirmed
statements when a cardiologist confirmed it) and the result kept as ``comparison``.
Every change (created, notes, deleted) is audited in the same commit (`hearteye.api.audit`).

Consistency rule: stored files and the database row exist together or not at all. Create
stores the files first and commits the row last; if anything fails, what was stored is
deleted again. Delete removes the row first and the files after; files left behind by a
crash in between are orphans that `hearteye.api.reconcile` removes.

The plot is a cache derived from two stored things (the display signal and, in the row, the
analysis summary): drawn on its first request, or at upload with ``PLOT_ON_UPLOAD=true``.
Drawing it at upload costs ~20 ms per request, 40 % of `analyze` itself.

A user's whole history is read in batches of `HISTORY_BATCH` rows without the analysis
summaries (`stream_history`), so listing thousands of records holds one batch in memory.
"""

from __future__ import annotations

import io
import logging
import secrets
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
from flask import current_app
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, defer

from hearteye.analyze import Analysis, analyze
from hearteye.api import audit, db
from hearteye.api.errors import Forbidden, ecg_not_found
from hearteye.api.models import CONFIRMED, Ecg, Patient, User, utcnow
from hearteye.api.services import patients as patient_service
from hearteye.api.storage import (
    UV_PER_MV,
    NotFoundInStorage,
    Storage,
    StorageError,
    decode_display,
    ecg_keys,
    encode_display,
)
from hearteye.compare import compare
from hearteye.errors import HeartEyeError
from hearteye.io import ReadLimits, UploadLimits, parse_upload
from hearteye.jsonutil import json_safe
from hearteye.plot import render_png
from hearteye.record import Record

log = logging.getLogger("hearteye.api")

HISTORY_BATCH = 200
# Rows per fetch when the summaries come too (an export): a summary is ~13 KB per 10 s
# analysed, so 50 of them keep a streaming response's memory under a megabyte.
SUMMARY_BATCH = 50


@dataclass(frozen=True)
class PatientForm:
    patient_name: str
    age: int | None
    gender: str | None  # "M" | "F" | "O"
    notes: str | None
    mrn: str | None = None  # the team's patient identifier; None: no patient record
    birth_date: date | None = None

    @classmethod
    def from_form(cls, form: dict) -> PatientForm:
        """From an upload form validated by `schemas.PredictIn` (the API's and the web app's
        upload alike)."""
        return cls(
            patient_name=form["patient_name"].strip(),
            age=form.get("age"),
            gender=form.get("gender"),
            notes=form.get("notes"),
            mrn=form.get("mrn"),
            birth_date=form.get("birth_date"),
        )


@dataclass(frozen=True)
class LeadsWindow:
    """Seconds ``start`` to ``start + duration`` of a record's stored display signal;
    ``signals[lead][sample]`` in mV (3 decimals); ``truncated`` when the record has more."""

    ecg: Ecg
    fs: float
    leads: tuple[str, ...]
    signals: list[list[float]]
    start: float
    duration: float
    truncated: bool


def _services():
    return current_app.extensions["hearteye"]


def new_file_id() -> str:
    # 128 random bits: unguessable, and a collision is as likely as guessing a key.
    return secrets.token_urlsafe(16)


# ------------------------------------------------------------------------------ create


def create_ecg(user: User, form: PatientForm, files: list[tuple[str, bytes]]) -> tuple[Ecg, dict]:
    """Analyse an upload and persist it; returns the row and the analysis summary."""
    svc = _services()
    # Only what will be analysed is decoded: memory follows ANALYZE_MAX_SECONDS, not the
    # recording's length (a 16 MB FLAC-coded WFDB upload can hold 100 M samples).
    record = parse_upload(
        files,
        UploadLimits(
            max_upload_bytes=svc.settings.max_upload_bytes,
            read=ReadLimits(max_seconds=svc.settings.analyze_max_seconds),
        ),
    )
    form = _name_from_file(form, record, svc.settings.patient_from_file)
    record = _with_patient(record, form, svc.settings.patient_from_file)
    # A long upload (a Holter) is stored whole, but only its start is analysed: a 24 h
    # 2-lead record analysed whole holds a worker for over a minute (its memory is bounded
    # either way: benchmarks/long_upload.py).
    analysis = analyze(record, max_seconds=svc.settings.analyze_max_seconds)
    # The plot is drawn here only if configured: by default on its first GET (plot_png), which
    # keeps ~20 ms of drawing off every upload; it is a cache derived from the stored files.
    png = (
        render_png(
            analysis,
            patient={
                "name": form.patient_name,
                "age": _age(form, record),
                "gender": _gender(form, record),
            },
        )
        if svc.settings.plot_on_upload
        else None
    )
    summary = json_safe(analysis.to_dict())
    content_type, source_name = _original_kind(files, record.meta.source)
    file_id = new_file_id()
    keys = ecg_keys(file_id)
    row = _row(user, form, record, analysis, summary, file_id, source_name, content_type)
    display = encode_display(
        analysis.signal, analysis.fs, analysis.leads, svc.settings.leads_max_seconds
    )
    del record  # its samples (a Holter's: ~170 MB) are freed before the upload is zipped
    upload = _original(files)
    storage: Storage = svc.storage
    s = db.session()
    try:
        storage.put(keys.upload, upload, content_type)
        storage.put(keys.display, display, "application/octet-stream")
        if png is not None:
            storage.put(keys.plot, png, "image/png")
        _file_under_patient(s, user, form, row)
        s.add(row)
        audit.record(s, user, row.team_id, "ecg.created", file_id=file_id, after=_created(row))
        s.commit()
    except BaseException:
        s.rollback()
        # Also after a failed first put: a store may have written part of the object.
        _discard(storage, file_id)
        raise
    return row, summary


def _file_under_patient(s: Session, user: User, form: PatientForm, row: Ecg) -> None:
    """With an MRN: the team's patient (made on first use) and the comparison with the
    patient's newest earlier ECG."""
    if not form.mrn:
        return
    patient = patient_service.get_or_create(
        s,
        user.team_id,
        patient_service.PatientFields(
            mrn=form.mrn,
            name=form.patient_name,
            birth_date=form.birth_date,
            age=row.age,
            sex=row.gender,
        ),
    )
    row.patient_id = patient.id
    previous = _previous_ecg(s, patient)
    if previous is not None:
        result = compare(_as_read(previous), row.summary, previous.upload_date)
        row.comparison = {
            "compared_with": previous.file_id,
            "compared_date": previous.upload_date.isoformat(),
            "compared_status": previous.status,
            **result.to_dict(),
        }


def _previous_ecg(s: Session, patient: Patient) -> Ecg | None:
    q = (
        select(Ecg)
        .where(Ecg.patient_id == patient.id, Ecg.team_id == patient.team_id)
        .order_by(Ecg.upload_date.desc(), Ecg.id.desc())
        .limit(1)
    )
    return s.execute(q).scalar_one_or_none()


def _as_read(ecg: Ecg) -> dict:
    """The record's summary with the statements a cardiologist confirmed, if any."""
    summary = dict(ecg.summary or {})
    if ecg.status == CONFIRMED and ecg.overread:
        summary["statements"] = ecg.overread.get("statements") or []
    return summary


def _created(row: Ecg) -> dict:
    return {
        "patient_name": row.patient_name,
        "patient_id": row.patient_id,
        "classification": row.classification,
        "status": row.status,
    }


def _discard(storage: Storage, file_id: str) -> None:
    try:
        storage.delete_ecg(file_id)
    except StorageError:
        # Left for the reconciliation: no row points at these files.
        log.warning("could not remove the files of failed upload %s; reconcile will", file_id)


def _name_from_file(form: PatientForm, record: Record, allowed: bool) -> PatientForm:
    """The form's patient name, else (if ``allowed``) the file's; never logged."""
    if form.patient_name:
        return form
    name = (record.meta.patient_name or "").strip()[:200] if allowed else ""
    if not name:
        raise HeartEyeError(
            "the form gives no patient name and the file names none; enter the patient's name",
            code="patient_name_required",
        )
    return replace(form, patient_name=name)


def _with_patient(record: Record, form: PatientForm, from_file: bool = True) -> Record:
    """The form's age and sex are what the clinician entered: they win over the file's, which
    are dropped when ``from_file`` is off."""
    meta = record.meta if from_file else replace(record.meta, age=None, sex=None)
    if form.age is not None:
        meta = replace(meta, age=float(form.age))
    if form.gender in ("M", "F"):
        meta = replace(meta, sex=form.gender)
    return replace(record, meta=meta) if meta is not record.meta else record


def _age(form: PatientForm, record: Record) -> int | None:
    if form.age is not None:
        return form.age
    age = record.meta.age
    return int(round(age)) if age is not None and 0 <= age <= 120 else None


def _gender(form: PatientForm, record: Record) -> str | None:
    return form.gender or (record.meta.sex if record.meta.sex in ("M", "F") else None)


def _original_kind(files: list[tuple[str, bytes]], main: str | None) -> tuple[str, str]:
    """The content type and name `_original` stores the upload under: one file as is; several
    as a zip named after the file the record was read from (``main``)."""
    names = [_display_name(name) for name, _ in files]
    if len(files) == 1:
        kind = "application/zip" if files[0][1][:4] == b"PK\x03\x04" else "application/octet-stream"
        return kind, names[0]
    return "application/zip", main if main in names else names[0]


def _original(files: list[tuple[str, bytes]]) -> bytes:
    """The upload as sent: one file as is; several zipped together (each byte-identical)."""
    if len(files) == 1:
        return files[0][1]
    names = [_display_name(name) for name, _ in files]
    buf = io.BytesIO()
    # Stored, not deflated: no CPU per request, and each member is the sent bytes verbatim.
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, (_, data) in zip(names, files, strict=True):
            zf.writestr(name, data)
    return buf.getvalue()


def _display_name(name: str) -> str:
    base = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in base if c.isprintable())[:255] or "upload"


def _row(
    user: User,
    form: PatientForm,
    record: Record,
    analysis: Analysis,
    summary: dict,
    file_id: str,
    source_name: str,
    content_type: str,
) -> Ecg:
    glob = summary.get("measurements", {}).get("global", {})
    p_abn = float(analysis.probability_abnormal)
    return Ecg(
        file_id=file_id,
        user_id=user.id,
        team_id=user.team_id,
        status="unconfirmed",
        patient_name=form.patient_name,
        age=_age(form, record),
        gender=_gender(form, record),
        notes=form.notes,
        upload_date=utcnow(),
        source_name=source_name,
        source_format=record.meta.format,
        upload_content_type=content_type,
        fs=float(record.fs),
        n_leads=record.n_leads,
        duration_s=round(float(record.recording_duration), 3),
        classification="Abnormal" if analysis.classification.lower() == "abnormal" else "Normal",
        probability_abnormal=p_abn,
        heart_rate=_value(glob, "heart_rate"),
        p_wave_duration_ms=_value(glob, "p_duration"),
        pr_interval_ms=_value(glob, "pr_interval"),
        qrs_duration_ms=_value(glob, "qrs_duration"),
        qt_interval_ms=_value(glob, "qt_interval"),
        qtc_ms=_value(glob, "qtc_bazett"),
        model=str(analysis.model)[:100],
        delineator=str(analysis.delineator)[:100],
        summary=summary,
    )


def _value(glob: dict, name: str) -> float | None:
    m = glob.get(name)
    value = m.get("value") if isinstance(m, dict) else m
    return None if value is None else round(float(value), 2)


# -------------------------------------------------------------------------------- read


def _plausible(file_id: str) -> bool:
    # Ids are URL-safe base64 (or a UUID from older data); anything else, NUL bytes
    # included (PostgreSQL refuses them in a query), cannot be a record.
    return 0 < len(file_id) <= 128 and all(c.isalnum() or c in "-_" for c in file_id)


def find(user: User, file_id: str) -> Ecg:
    if not _plausible(file_id):
        raise ecg_not_found(file_id)
    ecg = (
        db.session()
        .execute(select(Ecg).where(Ecg.file_id == file_id, Ecg.team_id == user.team_id))
        .scalar_one_or_none()
    )
    if ecg is None:
        raise ecg_not_found(file_id)
    return ecg


def ecg_by_file_id(file_id: str) -> Ecg:
    """Any team's record (for a signed plot link, whose signature is the authorisation)."""
    if not _plausible(file_id):
        raise ecg_not_found(file_id)
    ecg = db.session().execute(select(Ecg).where(Ecg.file_id == file_id)).scalar_one_or_none()
    if ecg is None:
        raise ecg_not_found(file_id)
    return ecg


def history_query(user: User, search: str, with_summary: bool = False) -> Select:
    """The team's records matching ``search`` (patient name or file id, a literal substring,
    case-insensitive), without their summaries unless ``with_summary`` (lists never show
    them; an export that does loads them in the same query rather than one by one)."""
    query = (
        select(Ecg)
        .where(Ecg.team_id == user.team_id)
        .options(defer(Ecg.comparison), defer(Ecg.overread))
    )
    if not with_summary:
        query = query.options(defer(Ecg.summary))
    term = search.strip()
    if term:
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                Ecg.patient_name.ilike(pattern, escape="\\"),
                Ecg.file_id.ilike(pattern, escape="\\"),
            )
        )
    return query


def _newest_first(query: Select) -> Select:
    return query.order_by(Ecg.upload_date.desc(), Ecg.id.desc())


def _count(session: Session, query: Select) -> int:
    return int(session.execute(select(func.count()).select_from(query.subquery())).scalar_one())


def history(user: User, search: str, page: int, per_page: int) -> tuple[list[Ecg], int]:
    """One page of the user's records, newest first, and how many match in all."""
    s = db.session()
    query = history_query(user, search)
    total = _count(s, query)
    rows = s.execute(_newest_first(query).offset((page - 1) * per_page).limit(per_page))
    return list(rows.scalars().all()), total


class HistoryStream:
    """All of a user's matching records, newest first (iterate once), and ``total``.

    Rows are fetched `HISTORY_BATCH` at a time (a server-side cursor on PostgreSQL) through a
    session of its own: a streamed response is sent after the request's session has closed.
    The queries run in the constructor, so a database fault is raised there, before any
    byte of a response. The session is released when the iteration ends or `close` is called
    (a streamed response calls it when the server closes it, even if never iterated).
    """

    def __init__(self, user: User, search: str, with_summary: bool = False):
        self._session: Session = _services().sessions()
        try:
            query = history_query(user, search, with_summary)
            self.total = _count(self._session, query)
            result = self._session.execute(
                _newest_first(query).execution_options(
                    yield_per=SUMMARY_BATCH if with_summary else HISTORY_BATCH
                )
            )
            self._rows = iter(result.scalars())
        except BaseException:
            self._session.close()
            raise

    def __iter__(self) -> Iterator[Ecg]:
        try:
            yield from self._rows
        finally:
            self.close()  # at the end, or when the consumer stops early

    def close(self) -> None:
        self._session.close()  # idempotent


def stream_history(user: User, search: str, with_summary: bool = False) -> HistoryStream:
    """The user's whole matching history, read in batches (see `HistoryStream`)."""
    return HistoryStream(user, search, with_summary)


# -------------------------------------------------------------------------------- write


def set_notes(user: User, file_id: str, notes: str | None) -> Ecg:
    ecg = find(user, file_id)
    if ecg.notes != notes:
        s = db.session()
        audit.record(
            s,
            user,
            ecg.team_id,
            "ecg.notes_changed",
            file_id=file_id,
            before={"notes": ecg.notes},
            after={"notes": notes},
        )
        ecg.notes = notes
        s.commit()
    return ecg


def may_delete(user: User, ecg: Ecg) -> bool:
    """The team's admin, or the uploader while nobody has confirmed the record."""
    return user.may("manage_team") or (ecg.user_id == user.id and ecg.status != CONFIRMED)


def delete(user: User, file_id: str) -> None:
    ecg = find(user, file_id)
    if not may_delete(user, ecg):
        raise Forbidden(
            "only the team's admin, or the uploader before confirmation, may delete a record",
            code="role_forbidden",
            details={"file_id": file_id, "role": user.role},
        )
    s = db.session()
    audit.record(
        s,
        user,
        ecg.team_id,
        "ecg.deleted",
        file_id=file_id,
        before={**_created(ecg), "notes": ecg.notes},
    )
    s.delete(ecg)
    s.commit()
    _discard(_services().storage, file_id)


# ----------------------------------------------------------------- display signal, plot


def leads_window(ecg: Ecg, start: float, seconds: float | None) -> LeadsWindow:
    """``seconds`` (at most LEADS_MAX_SECONDS; that much when None) of the stored display
    signal from ``start``."""
    svc = _services()
    display = decode_display(svc.storage.get(ecg_keys(ecg.file_id).display))
    uv, fs = display.signal_uv, display.fs
    limit = float(svc.settings.leads_max_seconds)
    seconds = limit if seconds is None else min(seconds, limit)
    i0 = min(int(round(start * fs)), uv.shape[1])
    i1 = min(i0 + int(round(seconds * fs)), uv.shape[1])
    mv = np.round(uv[:, i0:i1].astype(np.float64) / UV_PER_MV, 3)
    return LeadsWindow(
        ecg=ecg,
        fs=fs,
        leads=display.leads,
        signals=mv.tolist(),
        start=round(i0 / fs, 6),
        duration=round((i1 - i0) / fs, 6),
        truncated=i0 > 0 or i1 < display.total_samples,
    )


def plot_png(ecg: Ecg) -> bytes:
    """The stored plot, drawn and stored on first use from the kept display signal and
    analysis. Two first requests at once both draw it; the second write replaces the first
    with the same picture."""
    storage = _services().storage
    key = ecg_keys(ecg.file_id).plot
    try:
        return storage.get(key)
    except NotFoundInStorage:
        pass
    png = render_png(
        stored_analysis(ecg),
        patient={"name": ecg.patient_name, "age": ecg.age, "gender": ecg.gender},
    )
    storage.put(key, png, "image/png")
    return png


def stored_analysis(ecg: Ecg) -> Analysis:
    """The `Analysis` of a stored record, rebuilt from its summary and display signal (the
    first LEADS_MAX_SECONDS of it), for drawing."""
    display = decode_display(_services().storage.get(ecg_keys(ecg.file_id).display))
    return Analysis.from_dict(ecg.summary, display.signal_uv.astype(np.float32) / UV_PER_MV)
