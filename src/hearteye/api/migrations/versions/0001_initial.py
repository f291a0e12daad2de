"""Initial schema: users, ecgs, revoked_tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "ecgs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("file_id", sa.String(64), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_ecgs_user_id"),
            nullable=False,
        ),
        sa.Column("patient_name", sa.String(200), nullable=False),
        sa.Column("age", sa.Integer()),
        sa.Column("gender", sa.String(1)),
        sa.Column("notes", sa.Text()),
        sa.Column("upload_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("source_format", sa.String(16), nullable=False),
        sa.Column("upload_content_type", sa.String(100), nullable=False),
        sa.Column("fs", sa.Float(), nullable=False),
        sa.Column("n_leads", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("classification", sa.String(16), nullable=False),
        sa.Column("probability_abnormal", sa.Float(), nullable=False),
        sa.Column("heart_rate", sa.Float()),
        sa.Column("p_wave_duration_ms", sa.Float()),
        sa.Column("pq_interval_ms", sa.Float()),
        sa.Column("qrs_duration_ms", sa.Float()),
        sa.Column("qt_interval_ms", sa.Float()),
        sa.Column("qtc_ms", sa.Float()),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("delineator", sa.String(100), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.UniqueConstraint("file_id", name="uq_ecgs_file_id"),
    )
    op.create_index("ix_ecgs_user_id", "ecgs", ["user_id"])
    op.create_index("ix_ecgs_user_upload", "ecgs", ["user_id", "upload_date"])
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("revoked_tokens")
    op.drop_table("ecgs")
    op.drop_table("users")
