"""Re-screen flags and acknowledged warnings are child rows (migration 0011), not JSON text.

Migrated both ways on a database holding a signed (trigger-locked) session: the facts survive word for
word, the stored SHA-256 still verifies from the rows, and the new rows are locked with the session.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from practitioner import create_app
from practitioner.extensions import db
from practitioner.treatments.models import SessionAcknowledgedWarning, SessionRescreenFlag, TreatmentSession
from practitioner.treatments.services import canonical_record, record_hash
from tests.conftest import make_config, make_patient, make_user
from tests.factories import signed_session, treatable_plan

WARNINGS = ("Cheeks: 1.25 mm is deeper than the device was evaluated to (1.00 mm).",
            "Cheeks: 1.25 mm is deeper than your configured maximum (1.00 mm).")


def _signed_with_facts() -> TreatmentSession:
    author = make_user(email="facts@clinic.example")
    plan = treatable_plan(make_patient(actor=author), author)
    # 1.50 as the column stores it, so the hash made at signing is the hash of the record as read back.
    # Every dated re-screen question answered Yes with its date (long past, raising nothing): a No is not kept by the
    # database below revision 0012, which this test passes through.
    long_ago = date.today() - timedelta(days=400)
    return signed_session(plan, author, device_max_depth_mm=Decimal("1.50"), sunburn_on=date.today() - timedelta(days=2), cold_sore_now=True,
                          neurotoxin_on=long_ago, filler_on=long_ago, resurfacing_on=long_ago,
                          override_reason="Discussed with the patient; treating away from the cold sore.",
                          acknowledged_warning_rows=[SessionAcknowledgedWarning(position=i, text=w) for i, w in enumerate(WARNINGS)],
                          warnings_acknowledged_by_id=author.id)


def _hash_of(canonical: dict) -> str:
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def _refused(statement: str, **params) -> None:
    with pytest.raises(DatabaseError, match="locked"):
        with db.engine.begin() as connection:
            connection.execute(text(statement), params)


def test_a_signed_sessions_facts_survive_the_migration_both_ways_and_its_hash_still_verifies(empty_database_url):
    from flask_migrate import downgrade, upgrade

    app = create_app(make_config(empty_database_url))
    with app.app_context():
        try:
            upgrade()
            session_id = _signed_with_facts().id
            db.session.remove()
            record = db.session.get(TreatmentSession, session_id)
            stored_hash = record.content_sha256
            flags, canonical = record.rescreen_flags, canonical_record(record)
            assert any("earliest_date" in f for f in flags) and len(flags) >= 2, flags  # the shapes worth carrying
            assert record.warnings_acknowledged == list(WARNINGS)
            assert record_hash(record) == stored_hash
            db.session.remove()

            downgrade(revision="0010")  # the JSON columns again, rebuilt from the rows
            with db.engine.connect() as connection:
                old = connection.execute(text("SELECT rescreen_flags, warnings_acknowledged, content_sha256 FROM treatment_sessions "
                                              "WHERE id = :id"), {"id": session_id}).one()
            assert json.loads(old.rescreen_flags) == flags
            assert json.loads(old.warnings_acknowledged) == list(WARNINGS)
            assert _hash_of({**canonical, "rescreen_flags": json.loads(old.rescreen_flags),
                             "warnings_acknowledged": json.loads(old.warnings_acknowledged)}) == old.content_sha256 == stored_hash
            # The session's lock was put back as it was.
            _refused("UPDATE treatment_sessions SET warnings_acknowledged = '[]' WHERE id = :id", id=session_id)

            upgrade()  # and rows once more, parsed from that JSON
            record = db.session.get(TreatmentSession, session_id)
            assert record.rescreen_flags == flags and record.warnings_acknowledged == list(WARNINGS)
            assert canonical_record(record) == canonical
            assert record_hash(record) == record.content_sha256 == stored_hash
            # Queryable now: which signed sessions raised this flag.
            code = flags[0]["code"]
            assert db.session.scalars(select(SessionRescreenFlag.session_id).where(SessionRescreenFlag.code == code)).all() == [session_id]
            db.session.remove()
            # Locked with the session, as its zones are.
            _refused("INSERT INTO session_rescreen_flags (session_id, position, code, decision, reason) "
                     "VALUES (:id, 9, 'smoker', 'proceed', 'added later')", id=session_id)
            _refused("DELETE FROM session_acknowledged_warnings WHERE session_id = :id", id=session_id)
            _refused("UPDATE session_rescreen_flags SET reason = 'changed' WHERE session_id = :id", id=session_id)
        finally:
            db.session.remove()
            db.engine.dispose()


def test_a_stored_flag_the_rows_cannot_hold_exactly_stops_the_upgrade(empty_database_url, capfd):
    from flask_migrate import downgrade, upgrade

    app = create_app(make_config(empty_database_url))
    with app.app_context():
        try:
            upgrade()
            session_id = _signed_with_facts().id
            db.session.remove()
            downgrade(revision="0010")
            with db.engine.begin() as connection:
                connection.execute(text("DROP TRIGGER treatment_sessions_locked" + (" ON treatment_sessions" if connection.dialect.name == "postgresql" else "")))
                connection.execute(text("UPDATE treatment_sessions SET rescreen_flags = :flags WHERE id = :id"),
                                   {"id": session_id, "flags": json.dumps([{"code": "smoker", "decision": "proceed", "reason": "r", "seen_by": "x"}])})
            with pytest.raises(SystemExit):  # flask-migrate logs the migration's error and exits
                upgrade()
            assert f"treatment session {session_id}: re-screen flag 0 is not in the engine's shape" in capfd.readouterr().err
            with db.engine.connect() as connection:  # refused before anything changed
                assert "seen_by" in connection.execute(text("SELECT rescreen_flags FROM treatment_sessions")).scalar_one()
                assert connection.execute(text("SELECT version_num FROM alembic_version WHERE version_num LIKE '0010%'")).scalar_one() == "0010"
        finally:
            db.session.remove()
            db.engine.dispose()


def test_a_save_that_changes_nothing_keeps_the_flag_rows(app):
    from practitioner.clinical.screening import Policy
    from practitioner.treatments.services import rescreen

    with app.app_context():
        author = make_user(email="same@clinic.example")
        plan = treatable_plan(make_patient(actor=author), author)
        record = TreatmentSession(patient_id=plan.patient_id, plan_id=plan.id, sequence=1, practitioner_id=author.id,
                                  session_date=date.today(), cold_sore_now=True)
        db.session.add(record)
        db.session.flush()
        rescreen(record, Policy())
        db.session.flush()
        rows = list(record.rescreen_flag_rows)
        assert rows and record.rescreen_flags == [row.to_dict() for row in rows]
        rescreen(record, Policy())
        assert record.rescreen_flag_rows == rows, "the same flags again are not deleted and re-inserted"
