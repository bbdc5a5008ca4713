"""Writers queue for SQLite's write lock in the kernel and are woken the moment it is free
(practitioner.write_gate), instead of sleeping in SQLite's busy handler in coarse steps.

Each test takes SQLite's busy timeout away (0 ms): a writer that still met the lock held would fail
at once with "database is locked", so a pass means it waited in the queue, not in SQLite.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from practitioner import audit, database, write_gate
from practitioner.audit import AuditEvent
from practitioner.extensions import db

pytestmark = pytest.mark.sqlite_only(reason="SQLite's single write lock")

HOLD_SECONDS = 0.4
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_busy_timeout(app, monkeypatch):
    """New connections get SQLite busy timeout 0: meeting a held write lock fails at once."""
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 0)
    db.session.remove()
    db.engine.dispose()
    assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == 0
    db.session.rollback()
    return app


def _write_in_thread(app, action: str, results: dict, *, hold: float = 0.0, started: threading.Event | None = None,
                     roll_back: bool = False) -> None:
    with app.app_context():
        try:
            audit.append(db.session, action)  # BEGIN IMMEDIATE, the chain head, the row
            if started is not None:
                started.set()
            time.sleep(hold)
            if roll_back:
                db.session.rollback()
            else:
                db.session.commit()
            results[action] = time.perf_counter()
        except Exception as exc:  # the failure is the test's finding
            results[action] = exc
            if started is not None:
                started.set()
        finally:
            db.session.remove()


def test_a_second_writer_waits_for_the_first_and_then_writes(no_busy_timeout):
    app = no_busy_timeout
    results: dict = {}
    started = threading.Event()
    first = threading.Thread(target=_write_in_thread, args=(app, "test.first", results),
                             kwargs={"hold": HOLD_SECONDS, "started": started})
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=_write_in_thread, args=(app, "test.second", results))
    second.start()
    first.join(10)
    second.join(10)
    assert not isinstance(results["test.first"], Exception), results
    assert not isinstance(results["test.second"], Exception), f"the second writer met the lock: {results['test.second']}"
    assert results["test.second"] >= results["test.first"]
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["test.first", "test.second"]
    assert audit.verify_chain(db.session).intact


def test_a_rolled_back_writer_lets_the_next_one_in(no_busy_timeout):
    app = no_busy_timeout
    results: dict = {}
    started = threading.Event()
    first = threading.Thread(target=_write_in_thread, args=(app, "test.undone", results),
                             kwargs={"hold": HOLD_SECONDS, "started": started, "roll_back": True})
    first.start()
    assert started.wait(10)
    _write_in_thread(app, "test.after", results)
    first.join(10)
    assert not isinstance(results["test.after"], Exception), results
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "test.after" in actions and "test.undone" not in actions


def test_writers_in_another_process_queue_too(no_busy_timeout, database_path: Path):
    # Another process (a second gunicorn worker) holds a write transaction of the app for a while.
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from practitioner import audit, create_app
        from practitioner.extensions import db
        app = create_app({{"TESTING": True, "SECRET_KEY": "x" * 40,
                          "SQLALCHEMY_DATABASE_URI": "sqlite:///{database_path}"}})
        with app.app_context():
            audit.append(db.session, "test.other_process")
            print("holding", flush=True)
            time.sleep({HOLD_SECONDS})
            db.session.commit()
        print("done", flush=True)
    """)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "holding"
        audit.append(db.session, "test.this_process")  # busy timeout 0: fails if it meets the lock
        db.session.commit()
        assert holder.stdout.readline().strip() == "done"
    finally:
        holder.wait(30)
        holder.stdout.close()
    assert holder.returncode == 0
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["test.other_process", "test.this_process"]
    assert audit.verify_chain(db.session).intact


def test_a_thread_that_already_holds_the_queue_does_not_wait_for_itself(app, database_path: Path):
    gate = write_gate.gate_for(str(database_path))
    assert gate is not None and gate is write_gate.gate_for(str(database_path))
    assert gate.acquire()
    try:
        assert gate.acquire() is False  # a second connection of the same thread goes on to SQLite's own lock
    finally:
        gate.release()
    assert gate.acquire()
    gate.release()


def test_an_in_memory_database_has_no_queue():
    assert write_gate.gate_for(":memory:") is None
    assert write_gate.gate_for("") is None
