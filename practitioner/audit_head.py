"""The audit chain's head kept outside the database: instance/audit-head.json, moved forward after every commit
that added audit rows.

Someone holding the database file can delete the newest audit rows and move the database's head back (the
chain left behind is intact). The file records the newest row's number and keyed hash where they cannot
reach it, so `flask audit-verify` names the rows that went missing (docs/integrity.md).

How it is written, and why it stays cheap (docs/integrity.md, "The head outside the database"):
- after the commit, never before (a row that was rolled back must never be recorded): `audit.append` notes
  the row on the SQLAlchemy session, the session's `after_commit` hands it on, a rollback forgets it;
- by a short timer, not on each write: replacing a file costs about 1-3 ms on ext4 (a rename over an
  existing file makes ext4 write the new data out first), several times an audit row's own append and
  commit (about 0.4 ms). So each process keeps the newest committed head in memory (a few microseconds per
  write) and a daemon thread records it AUDIT_HEAD_INTERVAL_SECONDS (0.5 s) after the first write it has not
  recorded yet, and at exit. `flush()` records at once (audit-verify calls it);
- only ever forward: several worker processes record in turn, so the file is read and replaced under an
  exclusive `flock` on `audit-head.json.lock`, and a number lower than the recorded one is never written;
- atomically: a temporary file beside it, then `os.replace` (a reader sees the old head or the new one);
  no fsync: a power cut can lose the last moves (the head then lags, which verifies as intact and is caught
  up by the next write); it can never leave a head ahead of the database.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

HEAD_FILE_NAME = "audit-head.json"
_PENDING = "practitioner.audit_head_pending"


def head_file() -> Path | None:
    """Where the chain's head is recorded outside the database: AUDIT_HEAD_FILE, else next to the audit key in
    instance/ (under tests only when a test names a file, so tests never share one)."""
    config = current_app.config
    if config.get("AUDIT_HEAD_FILE"):
        return Path(config["AUDIT_HEAD_FILE"])
    if config.get("TESTING"):
        return None
    return Path(current_app.instance_path) / HEAD_FILE_NAME


def read_head(path: Path | None) -> dict | None:
    """The head recorded outside the database, or None when there is none yet ({"unreadable": True} if damaged)."""
    if path is None or not path.exists():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"unreadable": True}
    return value if isinstance(value, dict) else {"unreadable": True}


def write_forward(path: Path, last_event_id: int | None, last_hash: str, keyed_from_id: int | None) -> bool:
    """Record this head (0600, atomically) unless the file already holds a later row; True when it was written."""
    if last_event_id is None:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(path.with_name(path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        recorded = read_head(path)
        if recorded is not None and not recorded.get("unreadable") and (recorded.get("last_event_id") or 0) >= last_event_id:
            return False
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump({"last_event_id": last_event_id, "last_hash": last_hash, "keyed_from_id": keyed_from_id}, out)
        os.replace(temporary, path)
        return True
    finally:
        os.close(lock)  # closing releases the flock


def set_aside(stamp: str) -> Path | None:
    """After a restore: the recorded head is the replaced database's, not the restored one's (which is older), so
    it is kept beside, renamed; the restored database's next audited write records its own. None if there was none."""
    path = head_file()
    if path is None or not path.exists():
        return None
    aside = path.with_name(f"{path.name}.before-restore-{stamp}")
    os.replace(path, aside)
    return aside


def note_append(session: Any, event_id: int, event_hash: str, keyed_from_id: int | None) -> None:
    """Remember the newest row this transaction appended; it is recorded outside the database once committed."""
    if not has_app_context():
        return
    path = head_file()
    if path is not None:
        interval = float(current_app.config.get("AUDIT_HEAD_INTERVAL_SECONDS", DEFAULT_INTERVAL_SECONDS))
        session.info[_PENDING] = (path, event_id, event_hash, keyed_from_id or 1, interval)


DEFAULT_INTERVAL_SECONDS = 0.5


class _Recorder:
    """This process's newest committed head per file, recorded by a daemon thread shortly after it moves."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.pending: dict[Path, tuple[int, str, int]] = {}
        self.interval = DEFAULT_INTERVAL_SECONDS
        self.thread: threading.Thread | None = None

    def offer(self, path: Path, event_id: int, event_hash: str, keyed_from_id: int, interval: float) -> None:
        """A committed head: kept if newer than what waits for this file; recorded within `interval` seconds."""
        with self.lock:
            waiting = self.pending.get(path)
            if waiting is None or waiting[0] < event_id:
                self.pending[path] = (event_id, event_hash, keyed_from_id)
            self.interval = interval
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="audit-head", daemon=True)
                self.thread.start()
        self.wake.set()

    def flush(self) -> None:
        """Record every head waiting in this process now."""
        with self.lock:
            pending, self.pending = self.pending, {}
        for path, head in pending.items():
            try:
                write_forward(path, *head)
            except OSError:
                # The rows are committed: nothing fails for this. The head lags (safe); the next write records it.
                logging.getLogger(__name__).exception("The audit head could not be written outside the database.")

    def _run(self) -> None:
        while True:
            self.wake.wait()
            time.sleep(self.interval)  # gather the writes of the next moment into one file replace
            self.wake.clear()
            self.flush()


_recorder = _Recorder()


def flush() -> None:
    """Record this process's newest committed head outside the database now (audit-verify, and at exit)."""
    _recorder.flush()


def _after_fork_in_child() -> None:
    # The parent's thread does not exist in the child, and its lock may have been held at the fork.
    global _recorder
    _recorder = _Recorder()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(lambda: _recorder.flush())


@event.listens_for(Session, "after_commit")
def _record_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is not None:
        _recorder.offer(*pending)


@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, *args: Any) -> None:
    session.info.pop(_PENDING, None)
