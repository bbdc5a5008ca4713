"""The same behaviour on SQLite and PostgreSQL: migrations both ways, and writers that race.

These run in both passes (see tests/conftest.py): plain `pytest` on SQLite, and
`PRACTITIONER_TEST_POSTGRES=1 pytest` on PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any, Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from practitioner import audit, create_app
from practitioner.admin import services as admin_services
from practitioner.admin.models import AftercareSettings, ClinicalPolicy, ClinicSettings
from practitioner.audit import AuditEvent, verify_chain
from practitioner.auth.models import Role
from practitioner.extensions import db
from practitioner.patients.models import Patient
from tests.conftest import POSTGRES, make_config, make_user, sign_in

HOLD_SECONDS = 0.5


def _schema_differences() -> list[Any]:
    with db.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def _functions() -> set[str]:
    """PostgreSQL: the functions in the public schema (the triggers' PL/pgSQL); SQLite has none."""
    if db.engine.dialect.name != "postgresql":
        return set()
    with db.engine.connect() as conn:
        return set(conn.execute(text(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
        )).scalars())


def _triggers() -> set[str]:
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            return set(conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars())
        return set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())


def test_each_pass_runs_on_the_database_it_names(app):
    assert db.engine.dialect.name == ("postgresql" if POSTGRES else "sqlite")


def test_migrations_downgrade_to_base_and_upgrade_again(empty_database_url):
    """Upgrade, downgrade to nothing, upgrade again: clean every time, and the models match the schema."""
    from flask_migrate import downgrade, upgrade

    app = create_app(make_config(empty_database_url))
    with app.app_context():
        try:
            upgrade()
            assert _schema_differences() == [], "models and migrations differ"
            tables, functions, triggers = _tables(), _functions(), _triggers()
            assert {"audit_events", "patients", "issued_documents"} <= tables
            assert triggers, "the append-only and locking triggers exist"
            if POSTGRES:
                assert {"audit_events_append_only", "consents_immutable", "treatment_sessions_locked",
                        "session_children_locked", "session_addenda_append_only", "issued_documents_archived"} <= functions

            downgrade(revision="base")
            assert _tables() == {"alembic_version"}, "downgrade to base leaves only Alembic's own table"
            assert _functions() == set() and _triggers() == set(), "no trigger or trigger function is left behind"

            upgrade()
            assert _schema_differences() == []
            assert (_tables(), _functions(), _triggers()) == (tables, functions, triggers)
        finally:
            db.session.remove()
            db.engine.dispose()


def _in_second_writer(app, work: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run `work` in another thread with its own app context, session and connection, then commit."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        with app.app_context():
            try:
                outcome["value"] = work()
                db.session.commit()
            except Exception as exc:  # reported by the test
                outcome["error"] = exc
                db.session.rollback()
            finally:
                db.session.remove()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _race(app, first: Callable[[], Any], second: Callable[[], Any]) -> dict[str, Any]:
    """`first` runs in this test's session and holds its transaction open while `second` starts
    in another, then commits: the second writer must wait and succeed, never fail."""
    first()
    thread, outcome = _in_second_writer(app, second)
    time.sleep(HOLD_SECONDS)  # let the second writer reach the point where it waits for the first
    db.session.commit()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the second writer hung"
    assert "error" not in outcome, f"the second writer failed: {outcome.get('error')!r}"
    return outcome


def test_first_audit_rows_from_two_writers_at_once_make_one_chain(app):
    assert db.session.get(audit.AuditChainHead, 1) is None, "a new database's chain has not started"
    db.session.rollback()
    _race(app, lambda: audit.append(db.session, "test.first", actor_label="first"),
          lambda: audit.append(db.session, "test.second", actor_label="second"))
    db.session.remove()
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("test.%")).order_by(AuditEvent.id)).all()
    assert actions == ["test.first", "test.second"]
    assert verify_chain(db.session).intact


def test_two_patients_registered_at_once_get_different_record_numbers(app):
    user = make_user()
    user_id = user.id
    # Two different people (the same person twice is a possible duplicate: see the next test).
    outcome = _race(app, lambda: _register(user), lambda: _register(db.session.get(type(user), user_id), "Conditional").record_number)
    db.session.remove()
    numbers = db.session.scalars(select(Patient.record_number)).all()
    assert len(numbers) == 2 and len(set(numbers)) == 2 and outcome["value"] in numbers


def _register(actor, family_name: str = "Condition") -> Patient:
    """Register a patient with a blank record number (the next free one is chosen), without committing."""
    from practitioner.patients.services import register_patient

    return register_patient(db.session, {
        "given_name": "Race", "family_name": family_name, "date_of_birth": date(1990, 1, 1),
        "sex": "female", "phone": "07700 900000", "record_number": "", "fitzpatrick": 2,
        "no_known_allergies": True, "allergies": "", "current_medicines": "",
    }, actor=actor, clinical=True)


def test_the_same_person_registered_twice_at_once_is_caught_as_a_possible_duplicate(app):
    """The duplicate check runs under the registration lock: the second desk waits, then is asked."""
    from practitioner.patients.services import PossibleDuplicate

    user = make_user()
    user_id = user.id
    _register(user)
    thread, outcome = _in_second_writer(app, lambda: _register(db.session.get(type(user), user_id), "CONDITION"))
    time.sleep(HOLD_SECONDS)
    db.session.commit()
    thread.join(timeout=30)
    assert isinstance(outcome.get("error"), PossibleDuplicate), outcome
    db.session.remove()
    assert len(db.session.scalars(select(Patient.id)).all()) == 1


def test_clinic_settings_rows_read_by_two_at_once(app):
    """The rows are seeded by migration (0010): two first readers at once find the one row, neither makes one."""
    for model, get in ((ClinicSettings, admin_services.get_settings), (ClinicalPolicy, admin_services.get_policy_row),
                       (AftercareSettings, admin_services.get_aftercare_row)):
        assert db.session.get(model, 1) is not None
        db.session.remove()
        _race(app, lambda: get(db.session), lambda: get(db.session).id)
        db.session.remove()
        assert db.session.scalars(select(model.id)).all() == [1], model.__name__


def test_a_nul_character_in_an_address_is_refused_on_every_database(app):
    """PostgreSQL text cannot hold a NUL: searching for one must not become a 500 there."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    for role, paths in ((Role.PRACTITIONER, ("/patients/?q=a%00b", "/patients/?q=0770%00123", "/lots?lot=a%00b", "/lots.csv?lot=a%00b")),
                        (Role.ADMIN, ("/admin/audit?patient=P%001", "/admin/audit?action=a%00b", "/admin/audit?outcome=a%00"))):
        client = app.test_client()
        assert sign_in(client, make_user(role).email).status_code == 303
        for path in paths:
            assert client.get(path).status_code == 400, path
        assert client.get(paths[0].replace("%00", "")).status_code == 200
