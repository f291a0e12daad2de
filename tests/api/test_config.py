"""Configuration: safe defaults, production refusals, variable mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearteye.api.config import ConfigError, Settings

STRONG = "s" * 48


def test_defaults_run_on_sqlite_and_local_storage_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env({}).validate()
    assert s.env == "development"
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'hearteye-data' / 'hearteye.db'}"
    assert s.resolved_storage_backend == "local"
    assert s.resolved_storage_dir == Path("hearteye-data") / "storage"
    assert s.cors_origins == ()
    # Development secrets: random, kept private in the data folder, stable across restarts.
    assert len(s.jwt_secret_key) >= 32 and s.jwt_secret_key != s.secret_key
    secret_file = tmp_path / "hearteye-data" / ".jwt_secret_key"
    assert secret_file.stat().st_mode & 0o077 == 0
    assert Settings.from_env({}).validate().jwt_secret_key == s.jwt_secret_key


@pytest.mark.parametrize("jwt_secret", ["", "your-secret-key", "short", "changeme" * 1])
def test_production_refuses_a_missing_or_weak_jwt_secret(tmp_path, jwt_secret):
    env = {
        "HEARTEYE_ENV": "production",
        "JWT_SECRET_KEY": jwt_secret,
        "SECRET_KEY": STRONG,
        "HEARTEYE_DATA_DIR": str(tmp_path),
    }
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        Settings.from_env(env).validate()


def test_production_refuses_a_missing_secret_key_and_wildcard_cors(tmp_path):
    env = {
        "HEARTEYE_ENV": "production",
        "JWT_SECRET_KEY": STRONG,
        "HEARTEYE_DATA_DIR": str(tmp_path),
    }
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings.from_env(env).validate()
    env["SECRET_KEY"] = STRONG[::-1] + "x"
    env["CORS_ORIGINS"] = "*"
    with pytest.raises(ConfigError, match="CORS_ORIGINS"):
        Settings.from_env(env).validate()
    env["CORS_ORIGINS"] = "https://app.example.org, http://localhost:3000"
    s = Settings.from_env(env).validate()
    assert s.cors_origins == ("https://app.example.org", "http://localhost:3000")


def test_create_app_refuses_to_start_in_production_without_secrets(tmp_path):
    from hearteye.api import create_app

    with pytest.raises(ConfigError):
        create_app(Settings(env="production", data_dir=tmp_path))


def test_mapping_of_seed_variables(tmp_path):
    s = Settings.from_env(
        {
            "DATABASE_URL": "postgres://u:p@db:5432/hearteye",
            "SUPABASE_URL": "https://abc.supabase.co/",
            "SUPABASE_BUCKET_NAME": "ecgs",
            "S3_ACCESS_KEY_ID": "k",
            "S3_SECRET_ACCESS_KEY": "s",
            "MAX_UPLOAD_MB": "5",
            "HEARTEYE_DATA_DIR": str(tmp_path),
        }
    )
    assert s.resolved_database_url == "postgresql+psycopg://u:p@db:5432/hearteye"
    assert s.resolved_storage_backend == "s3"
    assert s.s3_bucket == "ecgs"
    assert s.s3_endpoint_url == "https://abc.supabase.co/storage/v1/s3"
    assert s.max_upload_bytes == 5 << 20


@pytest.mark.parametrize(
    "env, match",
    [
        ({"MAX_UPLOAD_MB": "lots"}, "MAX_UPLOAD_MB"),
        ({"HEARTEYE_ENV": "staging"}, "HEARTEYE_ENV"),
        ({"STORAGE_BACKEND": "s3"}, "S3_BUCKET"),
        ({"DB_AUTO_MIGRATE": "maybe"}, "true/false"),
    ],
)
def test_invalid_values_name_the_variable(tmp_path, env, match):
    with pytest.raises(ConfigError, match=match):
        Settings.from_env({"HEARTEYE_DATA_DIR": str(tmp_path), **env}).validate()
