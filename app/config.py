"""Configuration: the only module that reads the environment.

Every threshold of the specification (verification.md, kpi.md) is a setting here,
overridable by an environment variable of the same name.
"""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = BASE_DIR / "instance"


def _env(name: str, default: Any, cast: type = str) -> Any:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if cast is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return cast(raw)


def instance_path() -> Path:
    return Path(_env("INSTANCE_PATH", str(DEFAULT_INSTANCE)))


def secret_key(instance: Path) -> str:
    """SECRET_KEY from the environment, or one generated into the instance folder once."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL so that two workers starting at once cannot each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


# Thresholds named in verification.md and kpi.md, with their defaults.
THRESHOLDS: dict[str, tuple[type, Any]] = {
    "GEOFENCE_DEFAULT_RADIUS_M": (float, 150),
    "GPS_MAX_ACCURACY_M": (float, 100),
    "MAX_TRAVEL_KMH": (float, 200),
    "TRAVEL_MIN_DISTANCE_M": (float, 1000),
    "CLOCK_AHEAD_TOLERANCE_S": (int, 300),
    "CLOCK_AHEAD_MAX_S": (int, 86400),
    "LATE_SYNC_S": (int, 21600),
    "OFFLINE_MAX_AGE_S": (int, 259200),
    "MIN_VISIT_S": (int, 300),
    "PHOTO_MAX_DISTANCE_M": (float, 500),
    "PHOTO_TIME_TOLERANCE_S": (int, 7200),
    "PHOTO_DHASH_MAX_DISTANCE": (int, 6),
    "OPEN_VISIT_ALERT_S": (int, 43200),
    "BONUS_TOP_SHARE": (float, 0.2),
    "PROMOTION_STREAK_MONTHS": (int, 3),
    "FLAG_PATTERN_COUNT": (int, 3),
    "FLAG_PATTERN_DAYS": (int, 14),
    "SLA_CONTACT_MINUTES_URGENT": (int, 30),
    "SLA_CONTACT_MINUTES_HIGH": (int, 60),
    "SLA_CONTACT_MINUTES_NORMAL": (int, 240),
    "SLA_CONTACT_MINUTES_LOW": (int, 1440),
    "FEEDBACK_LINK_DAYS": (int, 14),
    "RULES_TEXT_SCAN_DAYS": (int, 30),
    "IDEMPOTENCY_TTL_S": (int, 259200),
    "IDEMPOTENCY_LEASE_S": (int, 300),
}


class Config:
    """Production and development settings, read from the environment."""

    def __init__(self, instance: Path | None = None) -> None:
        instance = instance or instance_path()
        self.INSTANCE_PATH = str(instance)
        self.SECRET_KEY = secret_key(instance)
        # Earlier keys, comma-separated, still accepted after SECRET_KEY is changed
        # (session cookies, intake source secrets).
        self.SECRET_KEY_FALLBACKS = [key for key in _env("SECRET_KEY_FALLBACKS", "").split(",") if key]
        self.SQLALCHEMY_DATABASE_URI = _env(
            "DATABASE_URL", f"sqlite:///{instance / 'fieldproof.db'}"
        )
        self.SQLITE_BUSY_TIMEOUT_MS = _env("SQLITE_BUSY_TIMEOUT_MS", 15000, int)
        self.TIMEZONE = _env("TIMEZONE", "UTC")
        self.PHOTO_STORAGE = _env("PHOTO_STORAGE", "local")
        self.PHOTO_DIR = _env("PHOTO_DIR", str(instance / "photos"))
        # PHOTO_STORAGE=s3: a private bucket of an S3-compatible service (app/storage/s3.py).
        self.S3_ENDPOINT_URL = _env("S3_ENDPOINT_URL", "")
        self.S3_BUCKET = _env("S3_BUCKET", "")
        self.S3_ACCESS_KEY_ID = _env("S3_ACCESS_KEY_ID", "")
        self.S3_SECRET_ACCESS_KEY = _env("S3_SECRET_ACCESS_KEY", "")
        self.S3_REGION = _env("S3_REGION", "us-east-1")
        self.RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
        self.FEEDBACK_RATE_LIMIT = _env("FEEDBACK_RATE_LIMIT", "30 per minute")
        # The intake webhook: per source (a desk's burst after an outage) and per address
        # (keys that name no source are counted there too).
        self.INTAKE_RATE_LIMIT = _env("INTAKE_RATE_LIMIT", "300 per minute")
        self.INTAKE_ADDRESS_RATE_LIMIT = _env("INTAKE_ADDRESS_RATE_LIMIT", "600 per minute")
        self.INTAKE_TIMESTAMP_TOLERANCE_S = _env("INTAKE_TIMESTAMP_TOLERANCE_S", 300, int)
        self.PASSWORD_HASH_METHOD = _env("PASSWORD_HASH_METHOD", "scrypt")
        self.PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "")
        self.SESSION_COOKIE_SECURE = _env("SESSION_COOKIE_SECURE", False, bool)
        self.TRUSTED_PROXIES = _env("TRUSTED_PROXIES", 0, int)
        self.RATELIMIT_KEY_PREFIX = _env("RATELIMIT_KEY_PREFIX", "fieldproof")
        for name, (cast, default) in THRESHOLDS.items():
            setattr(self, name, _env(name, default, cast))

    # Fixed settings (not environment-dependent).
    MAX_CONTENT_LENGTH = 25 * 1024 * 1024
    INTAKE_MAX_BODY_BYTES = 1024 * 1024  # one ticket's JSON
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_NAME = "fieldproof_session"
    PERMANENT_SESSION_LIFETIME = timedelta(days=14)
    SESSION_REFRESH_EACH_REQUEST = True
    JSON_SORT_KEYS = False
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_STRATEGY = "moving-window"
    LOGIN_LIMIT_PER_ACCOUNT = "5 per 15 minutes"
    LOGIN_LIMIT_PER_ADDRESS = "20 per 15 minutes"
    API_TITLE = "FieldProof API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    TESTING = False


class TestConfig(Config):
    """Settings for the test suite: a cheap password hash, everything else real."""

    def __init__(self, instance: Path, **overrides: Any) -> None:
        super().__init__(instance)
        self.TESTING = True
        self.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
        for key, value in overrides.items():
            setattr(self, key, value)
