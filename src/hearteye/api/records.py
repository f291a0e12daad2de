"""The ECG service behind the routes: create (parse -> analyze -> store -> row), read, list,
annotate and delete a user's ECGs, draw and sign their plots.

Consistency rule: stored files and the database row exist together or not at all. Create
stores the files first and commits the row last; if anything fails, what was stored is
deleted again. Delete removes the row first and the files after; files left behind by a
crash in between are orphans that `hearteye.api.reconcile` removes.

The plot is a cache derived from two stored files (the display signal and, in the row, the
analysis summary): drawn on its first request, or at upload with ``PLOT_ON_UPLOAD=true``.
Drawing it at upload costs ~20 ms per request, 40 % of `analyze` itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import logging
import math
import secrets
import time
import zipfile
from dataclasses import dataclass, replace

import numpy as np
from flask import current_app, has_request_context, url_for
from sqlalchemy import func, or_, select

from hearteye.analyze import Analysis, analyze
from hearteye.api import db
from hearteye.api.errors import ecg_not_found
from hearteye.api.models import Ecg, User, utcnow
from hearteye.api.storage import NotFoundInStorage, Storage, StorageError, ecg_keys
from hearteye.io import ReadLimits, UploadLimits, parse_upload
from hearteye.plot import render_png
from hearteye.record import Record

log = logging.getLogger("hearteye.api")

# Display signals are kept as int16 microvolts: exact to 1 uV, a quarter of float64's size,
# uncompressed (compression cost more time per upload than it saved in storage).
_UV_PER_MV = 1000.0


@dataclass(frozen=True)
class PatientForm:
    patient_name: str
    age: int | None
    gender: str | None  # "M" | "F" | "O"
    notes: str | None


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
    record = _with_patient(record, form)
    # A long upload (a Holter) is stored whole, but only its start is analysed: a 24 h
    # 2-lead record analysed whole takes ~4 GB and minutes, past the worker timeout.
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
    upload, content_type, source_name = _original(files)
    file_id = new_file_id()
    keys = ecg_keys(file_id)
    row = _row(user, form, record, analysis, summary, file_id, source_name, content_type)
    storage: Storage = svc.storage
    s = db.session()
    try:
        storage.put(keys.upload, upload, content_type)
        storage.put(
            keys.display,
            encode_display(analysis, svc.settings.leads_max_seconds),
            "application/octet-stream",
        )
        if png is not None:
            storage.put(keys.plot, png, "image/png")
        s.add(row)
        s.commit()
    except BaseException:
        s.rollback()
        # Also after a failed first put: a store may have written part of the object.
        _discard(storage, file_id)
        raise
    return row, summary


def _discard(storage: Storage, file_id: str) -> None:
    try:
        storage.delete_ecg(file_id)
    except StorageError:
        # Left for the reconciliation: no row points at these files.
        log.warning("could not remove the files of failed upload %s; reconcile will", file_id)


def _with_patient(record: Record, form: PatientForm) -> Record:
    """The form's age and sex are what the clinician entered: they win over the file's."""
    meta = record.meta
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


def _original(files: list[tuple[str, bytes]]) -> tuple[bytes, str, str]:
    """The upload as sent: one file as is; several zipped together (each byte-identical)."""
    names = [_display_name(name) for name, _ in files]
    if len(files) == 1:
        name, data = names[0], files[0][1]
        kind = "application/zip" if data[:4] == b"PK\x03\x04" else "application/octet-stream"
        return data, kind, name
    buf = io.BytesIO()
    # Stored, not deflated: no CPU per request, and each member is the sent bytes verbatim.
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, (_, data) in zip(names, files, strict=True):
            zf.writestr(name, data)
    main = next((n for n in names if n.lower().endswith(".hea")), names[0])
    return buf.getvalue(), "application/zip", main


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
    source = (record.meta.source or source_name).lower()
    return Ecg(
        file_id=file_id,
        user_id=user.id,
        patient_name=form.patient_name,
        age=_age(form, record),
        gender=_gender(form, record),
        notes=form.notes,
        upload_date=utcnow(),
        source_name=source_name,
        source_format="edf" if source.endswith((".edf", ".bdf")) else "wfdb",
        upload_content_type=content_type,
        fs=float(record.fs),
        n_leads=record.n_leads,
        duration_s=round(float(record.recording_duration), 3),
        classification="Abnormal" if analysis.classification.lower() == "abnormal" else "Normal",
        probability_abnormal=p_abn,
        heart_rate=_value(glob, "heart_rate"),
        p_wave_duration_ms=_value(glob, "p_duration"),
        pq_interval_ms=_value(glob, "pr_interval"),
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


def json_safe(obj):
    """Plain JSON types only: numpy scalars and arrays unwrapped, NaN and inf as null
    (PostgreSQL's json type and browsers both reject NaN)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# --------------------------------------------------------------------- display signal


def encode_display(analysis: Analysis, max_seconds: float) -> bytes:
    n = min(analysis.signal.shape[1], int(round(max(max_seconds, 10.0) * analysis.fs)))
    uv = np.clip(np.rint(analysis.signal[:, :n] * _UV_PER_MV), -32768, 32767).astype(np.int16)
    buf = io.BytesIO()
    np.savez(
        buf,
        signal_uv=uv,
        fs=np.float64(analysis.fs),
        leads=np.array(analysis.leads, dtype=str),
        total_samples=np.int64(analysis.signal.shape[1]),
    )
    return buf.getvalue()


def decode_display(data: bytes) -> tuple[np.ndarray, float, list[str], int]:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return (
            z["signal_uv"],
            float(z["fs"]),
            [str(x) for x in z["leads"]],
            int(z["total_samples"]),
        )


def leads_payload(ecg: Ecg, start: float, seconds: float | None) -> dict:
    svc = _services()
    uv, fs, leads, total = decode_display(svc.storage.get(ecg_keys(ecg.file_id).display))
    limit = float(svc.settings.leads_max_seconds)
    seconds = limit if seconds is None else min(seconds, limit)
    i0 = min(int(round(start * fs)), uv.shape[1])
    i1 = min(i0 + int(round(seconds * fs)), uv.shape[1])
    mv = np.round(uv[:, i0:i1].astype(np.float64) / _UV_PER_MV, 3)
    summary = ecg.summary or {}
    return {
        "fs": fs,
        "leads": leads,
        "signals": mv.tolist(),
        "start": round(i0 / fs, 6),
        "duration": round((i1 - i0) / fs, 6),
        "truncated": i0 > 0 or i1 < total,
        "patient_name": ecg.patient_name,
        "age": ecg.age,
        "gender": ecg.gender,
        "upload_date": ecg.upload_date.isoformat(),
        "classification": ecg.classification,
        "confidence": confidence(ecg),
        "notes": ecg.notes,
        "p_wave_duration": ecg.p_wave_duration_ms,
        "pq_interval": ecg.pq_interval_ms,
        "qrs_duration": ecg.qrs_duration_ms,
        "qt_interval": ecg.qt_interval_ms,
        "beats": summary.get("beats", []),
        "median_beats": summary.get("median_beats"),
        "pacing": summary.get("pacing"),
    }


# -------------------------------------------------------------------------------- read


def confidence(ecg: Ecg) -> float:
    p = ecg.probability_abnormal
    return round(p if ecg.classification == "Abnormal" else 1.0 - p, 4)


def record_dict(ecg: Ecg, summary: dict | None = None) -> dict:
    out = {
        "id": ecg.id,
        "file_id": ecg.file_id,
        "patient_name": ecg.patient_name,
        "age": ecg.age,
        "gender": ecg.gender,
        "upload_date": ecg.upload_date.isoformat(),
        "classification": ecg.classification,
        "confidence": confidence(ecg),
        "probability_abnormal": round(ecg.probability_abnormal, 4),
        "notes": ecg.notes,
        "plot_url": plot_url(ecg.file_id),
        "heart_rate": ecg.heart_rate,
        "intervals": {
            "p_wave_duration_ms": ecg.p_wave_duration_ms,
            "pq_interval_ms": ecg.pq_interval_ms,
            "qrs_duration_ms": ecg.qrs_duration_ms,
            "qt_interval_ms": ecg.qt_interval_ms,
            "qtc_ms": ecg.qtc_ms,
        },
        "source_name": ecg.source_name,
        "source_format": ecg.source_format,
        "fs": ecg.fs,
        "n_leads": ecg.n_leads,
        "duration_s": ecg.duration_s,
        "model": ecg.model,
        "delineator": ecg.delineator,
    }
    if summary is not None:
        out["summary"] = summary
    return out


def _plausible(file_id: str) -> bool:
    # Ids are URL-safe base64 (or a UUID from older data); anything else, NUL bytes
    # included (PostgreSQL refuses them in a query), cannot be a record.
    return 0 < len(file_id) <= 128 and all(c.isalnum() or c in "-_" for c in file_id)


def find(user: User, file_id: str) -> Ecg:
    if not _plausible(file_id):
        raise ecg_not_found(file_id)
    ecg = (
        db.session()
        .execute(select(Ecg).where(Ecg.file_id == file_id, Ecg.user_id == user.id))
        .scalar_one_or_none()
    )
    if ecg is None:
        raise ecg_not_found(file_id)
    return ecg


def history(user: User, search: str, page: int, per_page: int) -> tuple[list[Ecg], int]:
    query = select(Ecg).where(Ecg.user_id == user.id)
    term = search.strip()
    if term:
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                Ecg.patient_name.ilike(pattern, escape="\\"),
                Ecg.file_id.ilike(pattern, escape="\\"),
            )
        )
    s = db.session()
    total = s.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = (
        s.execute(
            query.order_by(Ecg.upload_date.desc(), Ecg.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        .scalars()
        .all()
    )
    return list(rows), int(total)


def set_notes(user: User, file_id: str, notes: str | None) -> Ecg:
    ecg = find(user, file_id)
    ecg.notes = notes
    db.session().commit()
    return ecg


def delete(user: User, file_id: str) -> None:
    ecg = find(user, file_id)
    s = db.session()
    s.delete(ecg)
    s.commit()
    _discard(_services().storage, file_id)


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
    uv, fs, leads, _total = decode_display(_services().storage.get(ecg_keys(ecg.file_id).display))
    s = ecg.summary or {}
    return Analysis(
        record=s.get("record", {}),
        fs=fs,
        leads=tuple(leads),
        signal=(uv.astype(np.float32) / _UV_PER_MV),
        beats=s.get("beats", []),
        lead_beats=s.get("lead_beats", {}),
        measurements=s.get("measurements", {}),
        quality=s.get("quality", []),
        classification=s.get("classification", "normal"),
        probability_abnormal=float(s.get("probability_abnormal", ecg.probability_abnormal)),
        model=s.get("model", ecg.model),
        delineator=s.get("delineator", ecg.delineator),
        reasons=s.get("reasons", []),
        analysed_seconds=s.get("analysed_seconds"),
        median_beats=s.get("median_beats"),
        pacing=s.get("pacing"),
    )


def ecg_by_file_id(file_id: str) -> Ecg:
    if not _plausible(file_id):
        raise ecg_not_found(file_id)
    ecg = db.session().execute(select(Ecg).where(Ecg.file_id == file_id)).scalar_one_or_none()
    if ecg is None:
        raise ecg_not_found(file_id)
    return ecg


# ----------------------------------------------------------------------- signed links


def _signature(file_id: str, expires: int) -> str:
    key = _services().settings.secret_key.encode()
    mac = hmac.new(key, f"plot:{file_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")


def plot_url(file_id: str) -> str:
    settings = _services().settings
    ttl = settings.plot_url_ttl_s
    # Expiry rounded up to a 5-minute step: the same URL for a while, so browsers cache it.
    step = min(300, ttl)
    expires = int(math.ceil((time.time() + ttl) / step) * step)
    args = {"file_id": file_id, "expires": expires, "signature": _signature(file_id, expires)}
    if settings.public_base_url:
        return settings.public_base_url + url_for("ecgs.plot", **args)
    if has_request_context():
        return url_for("ecgs.plot", _external=True, **args)
    return url_for("ecgs.plot", **args)


def check_signature(file_id: str, expires: int, signature: str) -> bool:
    if expires < time.time():
        return False
    return hmac.compare_digest(_signature(file_id, expires), signature or "")
