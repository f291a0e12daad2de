"""Request and response schemas: they validate input, shape every response and generate the
OpenAPI document.

A response's shape is written once, here: routes hand the schema the database row (`Ecg`) or
the service's result and the schema dumps it; no route builds the dict by hand. Field names
follow the original HeartEye API (the original React client keeps working); new fields are
only added, never renamed. Where the wire name differs from HeartEye's own name for the same
thing, the field carries HeartEye's name and ``data_key`` the wire name (the PR interval is
``pq_interval_ms`` and ``pq_interval`` on the wire, ``pr_interval_ms`` inside).
"""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import (
    Boolean,
    Date,
    DateTime,
    Dict,
    Email,
    Float,
    Integer,
    List,
    Nested,
    String,
)
from apiflask.fields import File as FileField
from apiflask.validators import Length, OneOf, Range, Regexp
from marshmallow import EXCLUDE, ValidationError, missing, pre_load

from hearteye.api.models import ROLES
from hearteye.api.plot_links import plot_url
from hearteye.api.services.review import MAX_STATEMENTS, current_reading, machine_reading

MAX_NOTES = 10_000


def _no_nul(value) -> None:
    # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database.
    if isinstance(value, str) and "\x00" in value:
        raise ValidationError("must not contain a NUL character")


class _In(Schema):
    class Meta:
        unknown = EXCLUDE  # old clients send extra fields; ignore rather than reject


class Rounded(Float):
    """A number rounded to ``places`` decimals in the response."""

    def __init__(self, places: int, **kwargs):
        super().__init__(**kwargs)
        self.places = places

    def _serialize(self, value, attr, obj, **kwargs):
        value = super()._serialize(value, attr, obj, **kwargs)
        return None if value is None else round(value, self.places)


class _Grouped(Nested):
    """A nested object whose fields are read from the parent object itself: the row keeps
    the intervals as its own columns, the API groups them under one key."""

    def get_value(self, obj, attr, accessor=None, default=missing):
        return obj


class _SignedPlotUrl(String):
    """The record's signed plot link, made from its ``file_id`` when the response is built."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else plot_url(value)


class _Samples(List):
    """Lists of numbers passed through as they are (already plain floats): dumping 60,000
    samples one field at a time would cost more than the rest of the request."""

    def _serialize(self, value, attr, obj, **kwargs):
        return value


# --------------------------------------------------------------------------- errors


class ErrorOut(Schema):
    error = String(required=True, metadata={"description": "what went wrong and what to do"})
    code = String(required=True, metadata={"description": "stable machine-readable code"})
    details = Dict(required=True)


# ----------------------------------------------------------------------------- auth


class UserOut(Schema):
    id = Integer(required=True)
    username = String(required=True)
    email = String(required=True)


class RegisterIn(_In):
    username = String(
        required=True,
        validate=[
            Length(3, 64),
            Regexp(r"^[A-Za-z0-9_.-]+$", error="use letters, digits, '_', '.' or '-' only"),
        ],
    )
    email = Email(required=True, validate=[Length(3, 254), _no_nul])
    password = String(
        required=True,
        load_only=True,
        validate=Length(8, 256, error="the password must be 8 to 256 characters long"),
    )
    invitation = String(
        load_default=None,
        allow_none=True,
        load_only=True,
        validate=[Length(1, 128), _no_nul],
        metadata={"description": "an invitation token from a team's admin: join that team"},
    )


class RegisterOut(Schema):
    message = String(required=True)
    user = Nested(UserOut, required=True)


class LoginIn(_In):
    username = String(
        required=True,
        validate=[Length(1, 254), _no_nul],
        metadata={"description": "user name (or e-mail address)"},
    )
    password = String(required=True, load_only=True, validate=Length(1, 256))


class LoginOut(Schema):
    access_token = String(required=True)
    refresh_token = String(required=True)
    user = Nested(UserOut, required=True)


class RefreshOut(Schema):
    access_token = String(required=True)


class LogoutIn(_In):
    refresh_token = String(
        load_default=None,
        allow_none=True,
        metadata={"description": "also revoke this refresh token (optional)"},
    )


class MessageOut(Schema):
    message = String(required=True)


# ------------------------------------------------------------------------------ ECGs


class PredictIn(_In):
    file = List(
        FileField(),
        required=True,
        validate=Length(1, 64),
        metadata={
            "description": "one ECG file (WFDB .hea with its signal files as repeated fields, "
            "EDF, GE MUSE or Philips XML, HL7 aECG, DICOM, SCP-ECG) or one .zip holding one"
        },
    )
    # Empty: taken from the file when it names the patient (PATIENT_FROM_FILE), else refused.
    patient_name = String(load_default="", validate=[Length(max=200), _no_nul])
    age = Integer(load_default=None, allow_none=True, validate=Range(0, 120))
    gender = String(load_default=None, allow_none=True, validate=OneOf(["M", "F", "O"]))
    notes = String(load_default=None, allow_none=True, validate=[Length(max=MAX_NOTES), _no_nul])
    mrn = String(
        load_default=None,
        allow_none=True,
        validate=[Length(1, 64), Regexp(r"^[^\x00-\x1f\x7f]+$", error="no control characters")],
        metadata={
            "description": "the team's patient identifier (MRN): files the ECG under that "
            "patient and compares it with the patient's previous ECG"
        },
    )
    birth_date = Date(load_default=None, allow_none=True, metadata={"description": "YYYY-MM-DD"})

    @pre_load
    def _blank_is_missing(self, data, **_kwargs):
        # HTML forms send "" for an empty optional input; treat it as not given.
        out = {}
        for key in data:
            values = data.getlist(key) if hasattr(data, "getlist") else [data[key]]
            if key == "file":
                out[key] = values
                continue
            value = values[0] if values else None
            if isinstance(value, str):
                value = value.strip()
                if key == "gender":
                    value = value.upper()
                if value == "":
                    continue
            out[key] = value
        return out


_PR_DESCRIPTION = "PR interval, P onset to QRS onset (named PQ since the original API)"


class Intervals(Schema):
    p_wave_duration_ms = Float(allow_none=True)
    pr_interval_ms = Float(
        allow_none=True, data_key="pq_interval_ms", metadata={"description": _PR_DESCRIPTION}
    )
    qrs_duration_ms = Float(allow_none=True)
    qt_interval_ms = Float(allow_none=True)
    qtc_ms = Float(allow_none=True, metadata={"description": "QT corrected (Bazett)"})


class RecordOut(Schema):
    """One stored record (dumped from its `Ecg` row)."""

    id = Integer(required=True)
    file_id = String(required=True)
    patient_name = String(required=True)
    age = Integer(allow_none=True)
    gender = String(allow_none=True)
    upload_date = DateTime(required=True, format="iso", metadata={"description": "UTC"})
    classification = String(required=True, metadata={"description": "Normal | Abnormal"})
    confidence = Rounded(4, required=True, metadata={"description": "probability of that class"})
    probability_abnormal = Rounded(4, required=True)
    notes = String(allow_none=True)
    plot_url = _SignedPlotUrl(
        attribute="file_id",
        dump_only=True,
        required=True,
        metadata={"description": "signed, expiring URL of the plot; usable in a plain <img>"},
    )
    heart_rate = Float(allow_none=True)
    intervals = _Grouped(Intervals, required=True)
    source_name = String(required=True)
    source_format = String(required=True)
    fs = Float(required=True)
    n_leads = Integer(required=True)
    duration_s = Float(required=True)
    model = String(required=True)
    delineator = String(required=True)
    status = String(required=True, metadata={"description": "unconfirmed | confirmed"})
    patient_id = Integer(allow_none=True, metadata={"description": "set when uploaded with an MRN"})
    uploaded_by = Integer(required=True, attribute="user_id")


class _ReadingField(Dict):
    """The record's reading (statements and overall line): the machine's or the current."""

    def __init__(self, which, **kwargs):
        super().__init__(**kwargs)
        self.which = which

    def get_value(self, obj, attr, accessor=None, default=missing):
        return self.which(obj).to_dict()


class RecordDetailOut(RecordOut):
    summary = Dict(required=True, metadata={"description": "the full analysis (Analysis.to_dict)"})
    comparison = Dict(
        allow_none=True,
        metadata={
            "description": "serial comparison with the patient's previous ECG (null without "
            "an MRN or an earlier ECG): compared_with (file id), compared_date, text, new, "
            "resolved, unchanged statements and measurement changes"
        },
    )
    machine_reading = _ReadingField(
        machine_reading,
        dump_only=True,
        metadata={"description": "the analysis's own statements and overall line, never edited"},
    )
    reading = _ReadingField(
        current_reading,
        dump_only=True,
        metadata={"description": "the cardiologist's reading when overread, else the machine's"},
    )
    confirmed_by = Integer(allow_none=True)
    confirmed_at = DateTime(allow_none=True, format="iso")


class HistoryQuery(_In):
    search = String(load_default="", validate=[Length(max=200), _no_nul])
    page = Integer(
        validate=Range(1, 1_000_000),
        metadata={"description": "page number (default 1 when per_page is given)"},
    )
    per_page = Integer(
        validate=Range(1, 100),
        metadata={
            "description": "records per page (default 20 when page is given); without page "
            "and per_page the whole list is returned"
        },
    )


class NotesIn(_In):
    notes = String(required=True, allow_none=True, validate=[Length(max=MAX_NOTES), _no_nul])


class LeadsQuery(_In):
    start = Float(
        load_default=0.0, validate=Range(0, 1e7), metadata={"description": "first second to return"}
    )
    seconds = Float(
        load_default=None,
        allow_none=True,
        validate=Range(0.1, 3600),
        metadata={"description": "how many seconds (capped by LEADS_MAX_SECONDS)"},
    )


class LeadsOut(Schema):
    """A window of a record's display signal (`ecgs.LeadsWindow`) with the record's fields
    the original client shows beside it (read from the window's ``ecg``)."""

    fs = Float(required=True)
    leads = List(String(), required=True)
    signals = _Samples(List(Float()), required=True, metadata={"description": "mV per sample"})
    start = Float(required=True)
    duration = Float(required=True)
    truncated = Boolean(
        required=True,
        metadata={"description": "true when the record is longer than what is returned"},
    )
    patient_name = String(required=True, attribute="ecg.patient_name")
    age = Integer(allow_none=True, attribute="ecg.age")
    gender = String(allow_none=True, attribute="ecg.gender")
    upload_date = DateTime(required=True, format="iso", attribute="ecg.upload_date")
    classification = String(required=True, attribute="ecg.classification")
    confidence = Rounded(4, required=True, attribute="ecg.confidence")
    notes = String(allow_none=True, attribute="ecg.notes")
    p_wave_duration = Float(allow_none=True, attribute="ecg.p_wave_duration_ms")
    pr_interval = Float(
        allow_none=True,
        attribute="ecg.pr_interval_ms",
        data_key="pq_interval",
        metadata={"description": _PR_DESCRIPTION},
    )
    qrs_duration = Float(allow_none=True, attribute="ecg.qrs_duration_ms")
    qt_interval = Float(allow_none=True, attribute="ecg.qt_interval_ms")
    beats = List(Dict(), required=True, attribute="ecg.summary.beats", dump_default=list)
    median_beats = Dict(
        allow_none=True,
        attribute="ecg.summary.median_beats",
        dump_default=None,
        metadata={
            "description": "representative beat per lead, aligned on the QRS peak: fs, "
            "fiducial_s, n_beats, signals {lead: [mV]}, beat (its points, s), intervals (ms), "
            "amplitudes {lead: {wave: mV}}; null when fewer than 3 dominant beats"
        },
    )
    pacing = Dict(
        allow_none=True,
        attribute="ecg.summary.pacing",
        dump_default=None,
        metadata={"description": "pacemaker spikes: assessed, reason, spikes [time_s, capture]"},
    )


# ---------------------------------------------------------------------------- health


class HealthOut(Schema):
    status = String(required=True)
    version = String(required=True)
    models = Dict(required=True)
    database = String(required=True)
    storage = String(required=True)


class StatusOut(Schema):
    status = String(required=True)


# ---------------------------------------------------------------------- teams, roles


class MemberOut(Schema):
    id = Integer(required=True)
    username = String(required=True)
    email = String(required=True)
    role = String(required=True)


class TeamMemberOut(MemberOut):
    """A member in the team listing (its own name in the OpenAPI document)."""


class TeamOut(Schema):
    id = Integer(required=True)
    name = String(required=True)
    role = String(required=True, metadata={"description": "your role in the team"})
    members = List(Nested(TeamMemberOut), required=True)


class InvitationIn(_In):
    role = String(required=True, validate=OneOf(ROLES))
    hours = Float(
        load_default=None,
        allow_none=True,
        validate=Range(0.01, 336),
        metadata={"description": "hours the token stays valid (default 72, at most 336)"},
    )


class InvitationOut(Schema):
    token = String(
        required=True,
        metadata={
            "description": "give it to the new member (POST /auth/register `invitation`); "
            "shown once, single-use"
        },
    )
    role = String(required=True, attribute="invitation.role")
    expires_at = DateTime(required=True, format="iso", attribute="invitation.expires_at")


class RoleIn(_In):
    role = String(required=True, validate=OneOf(ROLES))


# -------------------------------------------------------------------------- patients


class PatientOut(Schema):
    id = Integer(required=True, attribute="patient.id")
    mrn = String(required=True, attribute="patient.mrn")
    name = String(required=True, attribute="patient.name")
    birth_date = Date(allow_none=True, attribute="patient.birth_date")
    age = Integer(allow_none=True, attribute="patient.age")
    sex = String(allow_none=True, attribute="patient.sex")
    n_ecgs = Integer(required=True)
    last_ecg_at = DateTime(allow_none=True, format="iso")


class PatientQuery(_In):
    search = String(load_default="", validate=[Length(max=200), _no_nul])


class PatientEcgOut(RecordOut):
    comparison = Dict(allow_none=True)


# --------------------------------------------------------------------------- review


class StatementIn(_In):
    text = String(required=True, validate=[Length(1, 500), _no_nul])
    code = String(load_default=None, allow_none=True, validate=[Length(max=64), _no_nul])
    severity = String(load_default=None, allow_none=True, validate=[Length(max=32), _no_nul])


class ReadingIn(_In):
    statements = List(Nested(StatementIn), required=True, validate=Length(max=MAX_STATEMENTS))
    overall = String(load_default="", validate=[Length(max=1000), _no_nul])


class ConfirmIn(_In):
    statements = List(
        Nested(StatementIn),
        load_default=None,
        allow_none=True,
        validate=Length(max=MAX_STATEMENTS),
        metadata={"description": "optional: edit and confirm in one step"},
    )
    overall = String(load_default=None, allow_none=True, validate=[Length(max=1000), _no_nul])


class PageQuery(_In):
    page = Integer(load_default=1, validate=Range(1, 1_000_000))
    per_page = Integer(load_default=50, validate=Range(1, 200))


class AuditQuery(_In):
    limit = Integer(load_default=200, validate=Range(1, 1000))


class AuditEventOut(Schema):
    id = Integer(required=True)
    at = DateTime(required=True, format="iso")
    actor_id = Integer(allow_none=True)
    actor_name = String(required=True)
    action = String(required=True)
    ecg_file_id = String(allow_none=True)
    before = Dict(allow_none=True)
    after = Dict(allow_none=True)
