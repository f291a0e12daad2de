"""Database tables. The schema is created and changed only by the Alembic migrations in
`hearteye.api.migrations`; keep these classes and the latest migration in step.

Ownership: every account belongs to one team (a clinic or department) with one role in it
(`ROLES`); records and patients belong to the team, and the uploader is kept as ``user_id``.
The audit trail (`AuditEvent`) is append-only: it has no foreign keys (it outlives the
records, accounts and teams it names), the ORM refuses to update or delete its rows (see
`hearteye.api.audit`), and the migration adds database triggers that refuse it too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in and out. SQLite drops the offset on write and PostgreSQL answers
    in its session time zone; either way clients get ``...+00:00``."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime: use hearteye.api.models.utcnow()")
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        # PostgreSQL answers in the session's time zone; always hand out UTC.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


_PERMISSIONS = {"manage_team": ("admin",), "confirm": ("cardiologist",)}


# admin: manages members and roles; cardiologist: overreads and confirms; clinician: uploads
# and reads. Every role sees all of its team's records.
ROLES = ("admin", "cardiologist", "clinician")
UNCONFIRMED, CONFIRMED = "unconfirmed", "confirmed"


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="admin")

    def to_dict(self) -> dict:
        return {"id": self.id, "username": self.username, "email": self.email}

    def may(self, permission: str) -> bool:
        """Whether the role grants ``permission`` ("manage_team" or "confirm")."""
        return self.role in _PERMISSIONS.get(permission, ())


class Ecg(Base):
    """One uploaded ECG and its analysis. Its stored files live under the storage keys
    ``ecg/<file_id>/...`` (see `hearteye.api.storage.ecg_keys`)."""

    __tablename__ = "ecgs"
    __table_args__ = (
        Index("ix_ecgs_user_upload", "user_id", "upload_date"),
        Index("ix_ecgs_team_upload", "team_id", "upload_date"),
        Index("ix_ecgs_team_status", "team_id", "status", "upload_date"),
        Index("ix_ecgs_patient_upload", "patient_id", "upload_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    patient_name: Mapped[str] = mapped_column(String(200), nullable=False)
    age: Mapped[int | None] = mapped_column(Integer)
    gender: Mapped[str | None] = mapped_column(String(1))
    notes: Mapped[str | None] = mapped_column(Text)
    upload_date: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # What was uploaded: the original name (shown back, never used as a path) and format.
    source_name: Mapped[str] = mapped_column(String(255), nullable=False)
    source_format: Mapped[str] = mapped_column(String(16), nullable=False)
    upload_content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    fs: Mapped[float] = mapped_column(Float, nullable=False)
    n_leads: Mapped[int] = mapped_column(Integer, nullable=False)
    duration_s: Mapped[float] = mapped_column(Float, nullable=False)
    # Analysis results; the full `Analysis.to_dict()` is in `summary`.
    classification: Mapped[str] = mapped_column(String(16), nullable=False)
    probability_abnormal: Mapped[float] = mapped_column(Float, nullable=False)
    heart_rate: Mapped[float | None] = mapped_column(Float)
    p_wave_duration_ms: Mapped[float | None] = mapped_column(Float)
    # PR interval (P onset to QRS onset). The column keeps the original schema's name
    # "pq_interval_ms", as does the API field; inside HeartEye it is PR everywhere.
    pr_interval_ms: Mapped[float | None] = mapped_column("pq_interval_ms", Float)
    qrs_duration_ms: Mapped[float | None] = mapped_column(Float)
    qt_interval_ms: Mapped[float | None] = mapped_column(Float)
    qtc_ms: Mapped[float | None] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(100), nullable=False)
    delineator: Mapped[str] = mapped_column(String(100), nullable=False)
    summary: Mapped[dict] = mapped_column(JSON, nullable=False)
    # The team the record belongs to, and its patient when the upload named one (MRN).
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="RESTRICT"), nullable=False
    )
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    # Serial comparison with the patient's previous ECG, made at upload (hearteye.compare).
    comparison: Mapped[dict | None] = mapped_column(JSON)
    # Overread: the machine's interpretation stays in `summary`; the cardiologist's edited
    # version ({"statements": [...], "overall": str}) is kept beside it.
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=UNCONFIRMED)
    overread: Mapped[dict | None] = mapped_column(JSON)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def confidence(self) -> float:
        """The probability of the class the record was given."""
        p = self.probability_abnormal
        return p if self.classification == "Abnormal" else 1.0 - p


class Patient(Base):
    """A patient of a team, identified by the team's medical record number (MRN)."""

    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("team_id", "mrn", name="uq_patients_team_mrn"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    mrn: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    birth_date: Mapped[date | None] = mapped_column(Date)
    age: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(1))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Invitation(Base):
    """A single-use, expiring token that lets a new account join a team with a role. Only
    the token's SHA-256 is stored: a copy of the database cannot be used to join."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class AuditEvent(Base):
    """One change: who (id and name as they were), when, what, the value before and after.
    Append-only; no foreign keys, so it survives the deletion of what it names."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_ecg", "ecg_file_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    ecg_file_id: Mapped[str | None] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)


class RevokedToken(Base):
    """JWTs revoked by logout, kept until they would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
