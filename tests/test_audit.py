"""The audit trail: append-only in the database, hash-chained, verifiable from the command line."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DatabaseError

from practitioner import audit
from practitioner.audit import AuditEvent, verify_chain
from practitioner.extensions import db
from tests.conftest import drop_append_only_triggers, make_patient, make_user


def _events(n: int) -> None:
    user = make_user()
    for i in range(n):
        audit.append(db.session, "test.event", actor=user, detail={"i": i})
    db.session.commit()


def test_rows_chain_to_each_other(app):
    _events(5)
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert rows[0].prev_hash == audit.GENESIS_HASH
    for earlier, later in zip(rows, rows[1:]):
        assert later.prev_hash == earlier.hash
    assert all(row.hash == row.compute_hash() for row in rows)
    assert verify_chain(db.session).intact


def test_database_refuses_updates_and_deletes(app):
    _events(2)
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(update(AuditEvent).values(action="tampered"))
    db.session.rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(delete(AuditEvent))
    db.session.rollback()


def _tamper(sql: str) -> None:
    with db.engine.begin() as conn:
        drop_append_only_triggers(conn)
        conn.exec_driver_sql(sql)


def test_one_modified_row_is_detected_and_named(app):
    _events(6)
    _tamper("UPDATE audit_events SET detail = '{\"i\": 99}' WHERE id = 4")
    report = verify_chain(db.session)
    assert not report.intact and report.broken_event_id == 4
    assert "modified" in report.problem


def test_a_modified_row_with_a_recomputed_hash_breaks_the_next_link(app):
    _events(6)
    row = db.session.get(AuditEvent, 3)
    row.detail = '{"i": 42}'
    forged = row.compute_hash()
    db.session.rollback()
    _tamper(f"UPDATE audit_events SET detail = '{{\"i\": 42}}', hash = '{forged}' WHERE id = 3")
    report = verify_chain(db.session)
    assert report.broken_event_id == 4 and "link" in report.problem


def test_a_deleted_row_is_detected(app):
    _events(5)
    _tamper("DELETE FROM audit_events WHERE id = 2")
    assert verify_chain(db.session).broken_event_id == 3


def test_truncated_tail_is_detected(app):
    _events(5)
    _tamper("DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)")
    report = verify_chain(db.session)
    assert not report.intact and "newest rows are missing" in report.problem


def test_audit_verify_command(app):
    _events(3)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit-verify"])
    assert result.exit_code == 0 and "Audit chain intact: 4 rows checked." in result.output
    _tamper("UPDATE audit_events SET actor_label = 'someone else' WHERE id = 2")
    result = runner.invoke(args=["audit-verify"])
    assert result.exit_code == 1 and "BROKEN at row 2" in result.output


def test_every_patient_change_is_audited_with_the_patient(app):
    patient = make_patient()
    row = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.create")).one()
    assert row.patient_id == patient.id and row.outcome == "success" and row.at.tzinfo is not None
