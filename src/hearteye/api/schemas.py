"""Request and response schemas: they validate input and generate the OpenAPI document.

Field names follow the original HeartEye API (existing clients keep working); new fields are
only added, never renamed.
"""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Dict, Email, Float, Integer, List, Nested, String
from apiflask.fields import File as FileField
from apiflask.validators import Length, OneOf, Range, Regexp
from marshmallow import EXCLUDE, ValidationError, pre_load

MAX_NOTES = 10_000


def _no_nul(value) -> None:
    # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database.
    if isinstance(value, str) and "\x00" in value:
        raise ValidationError("must not contain a NUL character")


class _In(Schema):
    class Meta:
        unknown = EXCLUDE  # old clients send extra fields; ignore rather than reject


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
            "description": "one .zip, one .edf, or a .hea with its signal files (repeat the field)"
        },
    )
    patient_name = String(required=True, validate=[Length(1, 200), _no_nul])
    age = Integer(load_default=None, allow_none=True, validate=Range(0, 120))
    gender = String(load_default=None, allow_none=True, validate=OneOf(["M", "F", "O"]))
    notes = String(load_default=None, allow_none=True, validate=[Length(max=MAX_NOTES), _no_nul])

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
                if value == "" and key != "patient_name":
                    continue
            out[key] = value
        return out


class Intervals(Schema):
    p_wave_duration_ms = Float(allow_none=True)
    pq_interval_ms = Float(allow_none=True)
    qrs_duration_ms = Float(allow_none=True)
    qt_interval_ms = Float(allow_none=True)
    qtc_ms = Float(allow_none=True, metadata={"description": "QT corrected (Bazett)"})


class RecordOut(Schema):
    id = Integer(required=True)
    file_id = String(required=True)
    patient_name = String(required=True)
    age = Integer(allow_none=True)
    gender = String(allow_none=True)
    upload_date = String(required=True, metadata={"description": "ISO 8601, UTC"})
    classification = String(required=True, metadata={"description": "Normal | Abnormal"})
    confidence = Float(required=True, metadata={"description": "probability of that class"})
    probability_abnormal = Float(required=True)
    notes = String(allow_none=True)
    plot_url = String(
        required=True,
        metadata={"description": "signed, expiring URL of the plot; usable in a plain <img>"},
    )
    heart_rate = Float(allow_none=True)
    intervals = Nested(Intervals, required=True)
    source_name = String(required=True)
    source_format = String(required=True)
    fs = Float(required=True)
    n_leads = Integer(required=True)
    duration_s = Float(required=True)
    model = String(required=True)
    delineator = String(required=True)


class RecordDetailOut(RecordOut):
    summary = Dict(required=True, metadata={"description": "the full analysis (Analysis.to_dict)"})


class HistoryQuery(_In):
    search = String(load_default="", validate=[Length(max=200), _no_nul])
    page = Integer(load_default=1, validate=Range(1, 1_000_000))
    per_page = Integer(load_default=20, validate=Range(1, 100))


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
    fs = Float(required=True)
    leads = List(String(), required=True)
    signals = List(List(Float()), required=True, metadata={"description": "mV per sample"})
    start = Float(required=True)
    duration = Float(required=True)
    truncated = Boolean(
        required=True,
        metadata={"description": "true when the record is longer than what is returned"},
    )
    patient_name = String(required=True)
    age = Integer(allow_none=True)
    gender = String(allow_none=True)
    upload_date = String(required=True)
    classification = String(required=True)
    confidence = Float(required=True)
    notes = String(allow_none=True)
    p_wave_duration = Float(allow_none=True)
    pq_interval = Float(allow_none=True)
    qrs_duration = Float(allow_none=True)
    qt_interval = Float(allow_none=True)
    beats = List(Dict(), required=True)
    median_beats = Dict(
        allow_none=True,
        metadata={
            "description": "representative beat per lead, aligned on the QRS peak: fs, "
            "fiducial_s, n_beats, signals {lead: [mV]}, beat (its points, s), intervals (ms), "
            "amplitudes {lead: {wave: mV}}; null when fewer than 3 dominant beats"
        },
    )
    pacing = Dict(
        allow_none=True,
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
