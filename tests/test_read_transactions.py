"""Reading pages do not queue for SQLite's write lock; their few writes run in short write steps.

See `practitioner.database`: a GET or HEAD request's transactions begin DEFERRED, everything else
IMMEDIATE, and a write in a read-only request outside `write_step` is refused before it runs.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, select, text

from practitioner import audit
from practitioner.audit import AuditEvent
from practitioner.database import WriteInReadOnlyRequest, reads_only, set_reads_only, write_step
from practitioner.extensions import db
from practitioner.patients.models import Patient
from tests.conftest import make_patient, post_form

PATIENT = {
    "given_name": "Ada", "family_name": "Reader", "date_of_birth": "1990-01-01", "sex": "female",
    "phone": "07700 900123", "fitzpatrick": "2", "no_known_allergies": "y",
}


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs inside the block (BEGIN included)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement.strip())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@contextmanager
def write_lock_held_elsewhere(database: Path) -> Iterator[None]:
    """Another connection holds SQLite's write lock for the whole block."""
    other = sqlite3.connect(database, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@contextmanager
def read_only_request() -> Iterator[None]:
    set_reads_only(True)
    try:
        yield
    finally:
        set_reads_only(False)


@pytest.mark.sqlite_only(reason="SQLite's write lock")
def test_pages_that_only_read_do_not_wait_for_a_writer(as_practitioner, practitioner, database_path: Path):
    patient = make_patient(practitioner, family_name="Waiting")
    with write_lock_held_elsewhere(database_path):
        started = time.perf_counter()
        listing = as_practitioner.get("/patients/")
        search = as_practitioner.get("/patients/?q=Wait")
        form = as_practitioner.get(f"/patients/{patient.public_id}/edit")
        elapsed = time.perf_counter() - started
    assert listing.status_code == search.status_code == form.status_code == 200
    assert "Waiting" in search.get_data(as_text=True)
    # Queued behind the lock they would wait the whole 15 s busy timeout and then fail.
    assert elapsed < 5, f"three reading pages took {elapsed:.1f} s while another connection was writing"


@pytest.mark.sqlite_only(reason="SQLite's BEGIN statements")
def test_a_get_begins_deferred_and_takes_the_write_lock_only_for_its_audit_row(as_practitioner, practitioner):
    patient = make_patient(practitioner)
    with statements() as seen:
        assert as_practitioner.get(f"/patients/{patient.public_id}").status_code == 200
    begins = [s for s in seen if s.startswith("BEGIN")]
    assert begins[0] == "BEGIN", seen[:3]
    assert begins.count("BEGIN IMMEDIATE") == 1, begins  # the patient.view audit row, nothing else
    write_at = seen.index("BEGIN IMMEDIATE")
    writes = [s for s in seen if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert writes and all(seen.index(s) > write_at for s in writes), "a write ran before the write step began"
    assert db.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "patient.view")).all() == ["patient.view"]


@pytest.mark.sqlite_only(reason="SQLite's BEGIN statements")
def test_a_post_writes_in_one_immediate_transaction(as_practitioner):
    from tests.conftest import csrf_token

    token = csrf_token(as_practitioner, "/patients/new")
    with statements() as seen:
        response = as_practitioner.post("/patients/new", data={**PATIENT, "csrf_token": token})
    assert response.status_code == 303
    begins = [s for s in seen if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE"], begins  # the patient and its audit row commit together


def test_a_write_in_a_read_only_request_is_refused_before_it_runs(app):
    with read_only_request():
        assert reads_only()
        with pytest.raises(WriteInReadOnlyRequest, match="write_step"):
            db.session.execute(text("INSERT INTO audit_chain_head (id, last_hash) VALUES (7, 'x')"))
        db.session.rollback()
    assert db.session.execute(text("SELECT count(*) FROM audit_chain_head WHERE id = 7")).scalar() == 0


def test_a_write_step_commits_on_its_own_in_a_read_only_request(app, practitioner):
    with read_only_request():
        db.session.scalars(select(Patient)).all()  # the reading so far
        with write_step(db.session):
            assert not reads_only()
            audit.append(db.session, "test.step", actor=practitioner)
        assert reads_only()
        db.session.rollback()  # the request ends without committing: the step is already saved
    db.session.remove()
    assert db.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "test.step")).all() == ["test.step"]


def test_a_failed_write_step_saves_nothing(app, practitioner):
    with read_only_request(), pytest.raises(RuntimeError, match="boom"):
        with write_step(db.session):
            audit.append(db.session, "test.half", actor=practitioner)
            raise RuntimeError("boom")
    db.session.remove()
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "test.half")).all() == []


def test_outside_a_read_only_request_a_write_step_is_part_of_the_callers_transaction(app, practitioner):
    with write_step(db.session):
        audit.append(db.session, "test.joined", actor=practitioner)
    db.session.rollback()  # the caller changes its mind: the step goes with it
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "test.joined")).all() == []


def test_every_get_and_head_request_is_read_only_and_nothing_else_is(app, as_practitioner):
    seen: dict[str, bool] = {}

    def note() -> None:
        from flask import request

        seen[request.method] = reads_only()

    app.before_request_funcs.setdefault(None, []).append(note)  # after the app's own hooks

    as_practitioner.get("/patients/")
    as_practitioner.head("/patients/")
    post_form(as_practitioner, "/patients/new", PATIENT)
    assert seen == {"GET": True, "HEAD": True, "POST": False}
    assert not reads_only(), "the flag outlived its request"


@pytest.mark.sqlite_only(reason="SQLite's write lock")
def test_a_view_waits_for_the_writer_then_records_its_audit_row(as_practitioner, practitioner, database_path: Path):
    """The audit row of a page view queues like any write, and is not lost."""
    patient = make_patient(practitioner)
    result: dict[str, int] = {}

    def open_page() -> None:
        result["status"] = as_practitioner.get(f"/patients/{patient.public_id}").status_code

    with write_lock_held_elsewhere(database_path):
        reader = threading.Thread(target=open_page)
        reader.start()
        time.sleep(0.5)
        assert reader.is_alive(), "the view's audit row did not wait for the lock"
    reader.join(timeout=20)
    assert result == {"status": 200}
    db.session.remove()
    assert len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.view")).all()) == 1
