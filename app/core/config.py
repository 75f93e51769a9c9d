"""Settings from the environment (and an optional `.env` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-0123456789"  # noqa: S105
MIN_SECRET_BYTES = 32
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says what to change."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_prefix="", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias="PROCOPT_ENV"
    )
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'data' / 'procopt.db'}"
    secret_key: str = DEV_SECRET_KEY
    jwt_issuer: str = "procopt"
    jwt_audience: str = "procopt"
    access_token_minutes: int = Field(60 * 8, ge=1, le=60 * 24 * 30)
    login_max_failures_per_account: int = Field(5, ge=1)
    login_max_failures_per_address: int = Field(20, ge=1)
    login_window_seconds: int = Field(900, ge=1)
    # Anonymous feedback: posts per account and hour (a keyed hash of the account is kept for the hour, apart
    # from the feedback); the response target: acknowledged within this many working days (Monday to Friday).
    feedback_anonymous_per_hour: int = Field(5, ge=1)
    feedback_ack_working_days: int = Field(2, ge=0, le=30)
    # The file a feedback may carry (PNG, JPEG, PDF or plain text), at most this many bytes.
    feedback_attachment_max_bytes: int = Field(5 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    default_locale: Literal["en", "zh_CN"] = "en"
    business_timezone: str = "Asia/Shanghai"
    page_size_max: int = Field(200, ge=1, le=1000)
    db_pool_size: int = Field(10, ge=1)
    # Requests of one worker process that use the database at once; more wait their turn (app/core/db.py).
    db_concurrency: int = Field(2, ge=1)
    # Request bodies (JSON, forms) larger than this many bytes are refused with 413 before they are read;
    # uploads and KPI observation batches have their own limits (app/core/limits.py).
    body_max_bytes: int = Field(1024 * 1024, ge=1024)
    # Event-log uploads larger than this many bytes, or with more events, are refused with 413.
    eventlog_max_bytes: int = Field(256 * 1024 * 1024, ge=1024)
    eventlog_max_events: int = Field(5_000_000, ge=1)
    log_level: str = "info"
    # One log line per request (uvicorn's access log); off saves a little CPU per request.
    access_log: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(1, ge=1)
    # Cookies get the Secure flag when served over https; force it behind a TLS proxy.
    cookie_secure: bool | None = None
    # The API reference (Swagger UI) at /api/docs; off: /api/docs is a 404 (/openapi.json stays).
    api_docs: bool = True

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @model_validator(mode="after")
    def _check_pool(self) -> Settings:
        if self.db_concurrency > self.db_pool_size:
            raise ValueError(
                f"DB_CONCURRENCY ({self.db_concurrency}) must not exceed DB_POOL_SIZE ({self.db_pool_size}): "
                "each request that uses the database holds one pooled connection."
            )
        return self

    @model_validator(mode="after")
    def _check_secret(self) -> Settings:
        if self.environment == "production":
            if self.secret_key == DEV_SECRET_KEY:
                raise ConfigError(
                    "SECRET_KEY is the development default; set SECRET_KEY to a random value of at "
                    "least 32 bytes (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
                )
            if len(self.secret_key.encode()) < MIN_SECRET_BYTES:
                raise ConfigError(
                    f"SECRET_KEY is {len(self.secret_key.encode())} bytes; production needs at least "
                    f"{MIN_SECRET_BYTES} bytes."
                )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
