"""The one-row settings tables are seeded by migration 0010: reading them never writes."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pytest
from sqlalchemy import event, text

from practitioner import create_app
from practitioner.admin import services
from practitioner.admin.models import AftercareSettings, ClinicalPolicy, ClinicSettings, PaperSize
from practitioner.clinical.aftercare import AftercarePolicy
from practitioner.clinical.screening import Policy
from practitioner.extensions import db
from tests.conftest import make_config

READERS = (services.get_settings, services.get_policy_row, services.get_aftercare_row,
           services.current_policy, services.current_aftercare_policy)


@contextmanager
def _writes() -> Iterator[list[str]]:
    """Every INSERT, UPDATE or DELETE the engine sends while the block runs."""
    seen: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)


def test_the_migrations_seed_each_settings_row_with_todays_defaults(app):
    with app.app_context():
        assert [row.id for row in (db.session.get(ClinicSettings, 1), db.session.get(ClinicalPolicy, 1),
                                   db.session.get(AftercareSettings, 1))] == [1, 1, 1]
        settings = services.get_settings(db.session)
        assert (settings.name, settings.phone, settings.paper_size, settings.logo_sha256) == ("My clinic", "", PaperSize.A4, "")
        # The migration writes the values out; they are the engines' defaults, so a new clinic screens as before.
        assert services.current_policy(db.session) == Policy()
        assert services.current_aftercare_policy(db.session) == AftercarePolicy()


def test_reading_the_settings_never_writes(app):
    with app.app_context(), _writes() as writes:
        for read in READERS:
            read(db.session)
        db.session.commit()
    assert writes == []


def test_a_settings_page_and_a_patient_page_read_without_writing(app, as_admin):
    with app.app_context(), _writes() as writes:
        for path in ("/admin/settings", "/admin/policy", "/admin/aftercare"):
            assert as_admin.get(path).status_code == 200, path
    assert not [w for w in writes if any(t in w for t in ("clinic_settings", "clinical_policy", "aftercare_settings"))]


def test_a_database_that_was_never_migrated_is_told_to_upgrade_not_given_a_row(app):
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text("DELETE FROM aftercare_settings"))
        with pytest.raises(services.SettingsRowMissing, match="flask db upgrade"):
            services.get_aftercare_row(db.session)
        assert db.session.get(AftercareSettings, 1) is None


def test_a_row_a_clinic_already_has_is_kept_by_the_seeding_migration(empty_database_url):
    from flask_migrate import downgrade, upgrade

    app = create_app(make_config(empty_database_url))
    with app.app_context():
        try:
            upgrade()
            downgrade(revision="0009")
            with db.engine.begin() as connection:
                connection.execute(text("DELETE FROM clinic_settings"))
                connection.execute(text("UPDATE clinical_policy SET min_age = 21 WHERE id = 1"))
            upgrade()
            assert db.session.get(ClinicalPolicy, 1).min_age == 21, "a clinic's own setting is never overwritten"
            assert db.session.get(ClinicSettings, 1).name == "My clinic", "a missing row is seeded"
        finally:
            db.session.remove()
            db.engine.dispose()
