"""Service configuration: environment variables (and a `.env` file), with safe defaults.

Every variable, its default and its meaning is listed in docs/SERVICE.md; `Settings.from_env`
is the only place that reads them. With no configuration at all the service runs in
development mode on a SQLite file and a local storage folder under ``HEARTEYE_DATA_DIR``
(default ``./hearteye-data``), with secrets generated once and kept in that folder.

Production mode (``HEARTEYE_ENV=production``) refuses to start without real secrets: a
missing, short or well-known placeholder ``JWT_SECRET_KEY`` / ``SECRET_KEY`` would let anyone
forge tokens or plot links.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

log = logging.getLogger(__name__)

MiB = 1 << 20
MIN_SECRET_LENGTH = 32
# Placeholders seen in tutorials, .env templates and the original seed: never acceptable.
KNOWN_WEAK_SECRETS = frozenset(
    {
        "",
        "secret",
        "changeme",
        "change-me",
        "change_me",
        "dev",
        "development",
        "test",
        "your-secret-key",
        "your_secret_key",
        "super-secret",
        "super-secret-key",
        "jwt-secret",
        "jwt-secret-string",
        "secret-key",
        "default",
        "please-change-me",
    }
)


class ConfigError(RuntimeError):
    """The configuration cannot run safely; the message says which variable to set."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"expected true/false, got {value!r}")


def _int(env: dict, name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _csv(raw: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (raw or "").split(",") if p.strip())


@dataclass(frozen=True)
class Settings:
    env: str = "development"  # development | production
    data_dir: Path = Path("hearteye-data")
    database_url: str = ""  # "" -> sqlite file in data_dir
    jwt_secret_key: str = ""
    secret_key: str = ""
    jwt_access_expires_s: int = 3600
    jwt_refresh_expires_s: int = 30 * 24 * 3600
    cors_origins: tuple[str, ...] = ()  # with credentials; "*": any origin, without them
    redis_url: str = ""
    ratelimit_login: str = "10 per minute"
    ratelimit_register: str = "20 per hour"
    max_upload_mb: int = 100
    storage_backend: str = ""  # local | s3 ; "" -> s3 when a bucket is configured
    storage_dir: Path | None = None  # None -> data_dir / "storage"
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_prefix: str = ""
    plot_url_ttl_s: int = 3600
    plot_on_upload: bool = False  # False: the plot is drawn on its first request
    # Fill the form's empty patient name, age and sex from the uploaded file (cart exports
    # carry them); False: only what the form says is stored.
    patient_from_file: bool = True
    public_base_url: str = ""  # "" -> the request's own host
    trusted_proxies: int = 0
    leads_max_seconds: int = 60
    analyze_max_seconds: int = 300  # longer uploads: the first 5 min are analysed (flagged)
    web_session_s: int = 8 * 3600  # the web app's sign-in lasts one shift, then expires
    orphan_grace_s: int = 900
    auto_migrate: bool = True
    log_level: str = "INFO"
    extra: dict = field(default_factory=dict)  # Flask config overrides (tests)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_env(cls, environ: dict | None = None, dotenv: bool = True) -> Settings:
        """Read the environment (after loading ``.env`` from the working directory, without
        overriding variables already set)."""
        if environ is None:
            if dotenv:
                from dotenv import load_dotenv

                # The working directory's file, explicitly: python-dotenv's default search
                # starts from the installed package's folder instead.
                load_dotenv(Path.cwd() / ".env", override=False)
            environ = dict(os.environ)
        env = environ
        data_dir = Path(env.get("HEARTEYE_DATA_DIR") or "hearteye-data")
        supabase_url = (env.get("SUPABASE_URL") or "").rstrip("/")
        endpoint = env.get("S3_ENDPOINT_URL") or (
            f"{supabase_url}/storage/v1/s3" if supabase_url else ""
        )
        settings = cls(
            env=(env.get("HEARTEYE_ENV") or "development").strip().lower(),
            data_dir=data_dir,
            database_url=env.get("DATABASE_URL", ""),
            jwt_secret_key=env.get("JWT_SECRET_KEY", ""),
            secret_key=env.get("SECRET_KEY", ""),
            jwt_access_expires_s=_int(env, "JWT_ACCESS_TOKEN_EXPIRES", 3600, 60),
            jwt_refresh_expires_s=_int(env, "JWT_REFRESH_TOKEN_EXPIRES", 30 * 24 * 3600, 60),
            cors_origins=_csv(env.get("CORS_ORIGINS")),
            redis_url=env.get("REDIS_URL", ""),
            ratelimit_login=env.get("RATELIMIT_LOGIN") or "10 per minute",
            ratelimit_register=env.get("RATELIMIT_REGISTER") or "20 per hour",
            max_upload_mb=_int(env, "MAX_UPLOAD_MB", 100, 1),
            storage_backend=(env.get("STORAGE_BACKEND") or "").strip().lower(),
            storage_dir=Path(env["STORAGE_DIR"]) if env.get("STORAGE_DIR") else None,
            s3_bucket=env.get("S3_BUCKET") or env.get("SUPABASE_BUCKET_NAME") or "",
            s3_endpoint_url=endpoint,
            s3_region=env.get("S3_REGION") or "us-east-1",
            s3_access_key_id=env.get("S3_ACCESS_KEY_ID", ""),
            s3_secret_access_key=env.get("S3_SECRET_ACCESS_KEY", ""),
            s3_prefix=(env.get("S3_PREFIX") or "").strip("/"),
            plot_url_ttl_s=_int(env, "PLOT_URL_TTL", 3600, 10),
            plot_on_upload=_bool(env.get("PLOT_ON_UPLOAD"), False),
            patient_from_file=_bool(env.get("PATIENT_FROM_FILE"), True),
            public_base_url=(env.get("PUBLIC_BASE_URL") or "").rstrip("/"),
            trusted_proxies=_int(env, "TRUSTED_PROXIES", 0, 0),
            leads_max_seconds=_int(env, "LEADS_MAX_SECONDS", 60, 1),
            analyze_max_seconds=_int(env, "ANALYZE_MAX_SECONDS", 300, 10),
            web_session_s=_int(env, "WEB_SESSION_SECONDS", 8 * 3600, 60),
            orphan_grace_s=_int(env, "ORPHAN_GRACE_SECONDS", 900, 0),
            auto_migrate=_bool(env.get("DB_AUTO_MIGRATE"), True),
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
        )
        if env.get("SUPABASE_KEY") and not settings.s3_access_key_id:
            # The original client reached Supabase through its REST API with this key; the S3
            # endpoint needs S3 access keys instead (Dashboard -> Storage -> S3 access keys).
            log.warning(
                "SUPABASE_KEY is set but S3_ACCESS_KEY_ID is not: Supabase's S3 "
                "endpoint needs S3 access keys (see docs/SERVICE.md)"
            )
        return settings

    def with_overrides(self, **changes) -> Settings:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        return replace(self, **changes)

    # ------------------------------------------------------------------ derived values

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # Heroku/Supabase style URLs: pick the psycopg 3 driver SQLAlchemy should use.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return f"sqlite:///{(self.data_dir / 'hearteye.db').resolve()}"

    @property
    def resolved_storage_backend(self) -> str:
        return self.storage_backend or ("s3" if self.s3_bucket else "local")

    @property
    def resolved_storage_dir(self) -> Path:
        return self.storage_dir or self.data_dir / "storage"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * MiB

    # ------------------------------------------------------------------ checks

    def validate(self) -> Settings:
        """Refuse unsafe or inconsistent settings; fill development secrets. Returns the
        settings to run with."""
        if self.env not in ("development", "production"):
            raise ConfigError(
                f"HEARTEYE_ENV must be 'development' or 'production', got {self.env!r}"
            )
        if self.resolved_storage_backend not in ("local", "s3"):
            raise ConfigError(
                f"STORAGE_BACKEND must be 'local' or 's3', got {self.storage_backend!r}"
            )
        if self.resolved_storage_backend == "s3" and not self.s3_bucket:
            raise ConfigError("STORAGE_BACKEND=s3 needs S3_BUCKET (or SUPABASE_BUCKET_NAME)")
        settings = self
        for name in ("jwt_secret_key", "secret_key"):
            value = getattr(self, name)
            if _weak(value):
                if self.production:
                    raise ConfigError(
                        f"{name.upper()} is missing, shorter than {MIN_SECRET_LENGTH} "
                        "characters or a known placeholder; production mode refuses to start. "
                        "Generate one with: python -c 'import secrets; "
                        "print(secrets.token_urlsafe(48))'"
                    )
                settings = replace(settings, **{name: _dev_secret(self.data_dir, name)})
        if self.production and "*" in self.cors_origins:
            raise ConfigError(
                "CORS_ORIGINS='*' is refused in production: list the front-end origins explicitly"
            )
        return settings


def _weak(secret: str) -> bool:
    return len(secret) < MIN_SECRET_LENGTH or secret.strip().lower() in KNOWN_WEAK_SECRETS


def _dev_secret(data_dir: Path, name: str) -> str:
    """A random secret kept in the data folder, so tokens survive restarts and every gunicorn
    worker signs with the same key. Created atomically: workers may race to create it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f".{name}"
    if not path.exists():
        tmp = data_dir / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # fails if another worker won the race: keep theirs
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
        log.warning(
            "development mode: generated %s in %s (set %s in production)",
            name.upper(),
            data_dir,
            name.upper(),
        )
    return path.read_text().strip()
