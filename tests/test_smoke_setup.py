"""The app factory, configuration and database settings."""

import pytest
from sqlalchemy import text

from practitioner import create_app
from practitioner.config import ConfigError
from practitioner.extensions import db


def test_missing_secret_key_refuses_to_start(monkeypatch):
    monkeypatch.delenv("PRACTITIONER_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="PRACTITIONER_SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_short_secret_key_refused(monkeypatch):
    monkeypatch.setenv("PRACTITIONER_SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="too short"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_database_url_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PRACTITIONER_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("PRACTITIONER_DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite3")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.sqlite3")
    assert app.config["SESSION_COOKIE_SECURE"] is True, "cookies must be Secure by default (production)"


@pytest.mark.sqlite_only(reason="checks SQLite's PRAGMA settings (WAL, foreign keys, busy timeout)")
def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(app):
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_migrations_match_the_models(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
