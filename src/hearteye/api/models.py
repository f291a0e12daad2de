"""Database tables. The schema is created and changed only by the Alembic migrations in
`hearteye.api.migrations`; keep these classes and the latest migration in step."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
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


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    def to_dict(self) -> dict:
        return {"id": self.id, "username": self.username, "email": self.email}


class Ecg(Base):
    """One uploaded ECG and its analysis. Its stored files live under the storage keys
    ``ecg/<file_id>/...`` (see `hearteye.api.storage.ecg_keys`)."""

    __tablename__ = "ecgs"
    __table_args__ = (Index("ix_ecgs_user_upload", "user_id", "upload_date"),)

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

    @property
    def confidence(self) -> float:
        """The probability of the class the record was given."""
        p = self.probability_abnormal
        return p if self.classification == "Abnormal" else 1.0 - p


class RevokedToken(Base):
    """JWTs revoked by logout, kept until they would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
