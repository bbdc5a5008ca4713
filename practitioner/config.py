"""Configuration: defaults, then PRACTITIONER_* environment variables, then a test mapping."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping


class ConfigError(RuntimeError):
    """The configuration cannot run the app safely; the message says what to set."""


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from exc


def default_sqlite_url(instance_path: str) -> str:
    """The embedded database: one SQLite file under instance/."""
    return "sqlite:///" + str(Path(instance_path) / "practitioner.sqlite3")


def build_config(instance_path: str, test_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge defaults, environment and test overrides into one Flask config mapping."""
    config: dict[str, Any] = {
        "SECRET_KEY": os.environ.get("PRACTITIONER_SECRET_KEY"),
        # The audit chain's key (docs/integrity.md): this, else a file made 0600 on first use in instance/.
        "AUDIT_KEY": os.environ.get("PRACTITIONER_AUDIT_KEY"),
        "AUDIT_KEY_FILE": os.environ.get("PRACTITIONER_AUDIT_KEY_FILE"),
        "AUDIT_HEAD_FILE": os.environ.get("PRACTITIONER_AUDIT_HEAD_FILE"),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("PRACTITIONER_DATABASE_URL")
        or default_sqlite_url(instance_path),
        # hide_parameters: a failed statement's error (logged with a 500) never carries its values: names, phones.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "SESSION_COOKIE_NAME": "practitioner_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_bool("PRACTITIONER_COOKIE_SECURE", True),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # The CSRF token lives as long as the server-side sign-in session; a time limit
        # would refuse a form the practitioner spent an hour on.
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": True,
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        "IDLE_TIMEOUT": timedelta(minutes=_env_int("PRACTITIONER_IDLE_MINUTES", 30)),
        "SIGN_IN_MAX_FAILURES": _env_int("PRACTITIONER_SIGN_IN_MAX_FAILURES", 5),
        "SIGN_IN_WINDOW": timedelta(minutes=_env_int("PRACTITIONER_SIGN_IN_WINDOW_MINUTES", 15)),
        # docs/security.md, Sign-in: one address over many accounts, and the pause an account's failures add.
        "SIGN_IN_ADDRESS_MAX_FAILURES": _env_int("PRACTITIONER_SIGN_IN_ADDRESS_MAX_FAILURES", 20),
        "SIGN_IN_DELAY_CAP_SECONDS": _env_int("PRACTITIONER_SIGN_IN_DELAY_CAP_SECONDS", 5),
        # A sign-in lasts at most a working day, however active.
        "SESSION_MAX_AGE": timedelta(hours=_env_int("PRACTITIONER_SESSION_HOURS", 12)),
        # docs/intake.md: how long a one-time intake link works (it also stops working once used).
        "INTAKE_LINK_HOURS": _env_int("PRACTITIONER_INTAKE_LINK_HOURS", 72),
        "PATIENTS_PER_PAGE": 25,
        "LOGO_MAX_BYTES": 2 * 1024 * 1024,
        "TRUST_PROXY": _env_bool("PRACTITIONER_TRUST_PROXY", False),
        "TIMEZONE": os.environ.get("PRACTITIONER_TIMEZONE", "Europe/London"),
        "TESTING": False,
    }
    if test_config:
        config.update(test_config)
    if str(config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        # A SQLite file has no server to drop the connection: a ping before each checkout (three on a
        # patient's page) would be a statement for nothing. PostgreSQL keeps the ping.
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {**config["SQLALCHEMY_ENGINE_OPTIONS"], "pool_pre_ping": False}
    if not config["SECRET_KEY"]:
        raise ConfigError(
            "PRACTITIONER_SECRET_KEY is not set. Set it to a long random value, for example "
            "the output of: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if len(str(config["SECRET_KEY"])) < 32 and not config["TESTING"]:
        raise ConfigError("PRACTITIONER_SECRET_KEY is too short: use at least 32 random characters.")
    return config
