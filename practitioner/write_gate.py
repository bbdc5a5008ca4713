"""A queue for SQLite's single write lock that wakes the next writer the moment the lock is free.

SQLite lets one connection write at a time. A writer that finds the lock taken is put to sleep by
SQLite's busy handler in fixed steps (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms, then 100 ms
at a time) and only tries again when its sleep ends, however early the lock was freed. Under load
(bench/bench_write_path.py: ten clients browsing, a patient page writing its audit row) a quarter
of the audit writes waited, a tenth of them over 45 ms and the slowest 1 % over 370 ms, for a lock
held about a millisecond at a time, while the CPU had nothing to do.

So every app connection to a SQLite file queues for the write lock before SQLite sees the write:
first on a lock of its own process (threads), then on an exclusive `flock` of a file beside the
database (`<database>-write.lock`: processes, gunicorn's workers). Both hand over as soon as the
holder lets go, so writers follow one another without sleeping. The queue is held from `BEGIN
IMMEDIATE` until the transaction's commit or rollback (or the connection's close): the kernel
frees the file lock if a process dies while holding it. SQLite's own lock and busy timeout stay
underneath as before, for writers from outside the app (the sqlite3 shell, a backup) and for the
rare case the queue is not taken (see `acquire`).

Reads never queue here: a read-only request begins its transactions deferred (practitioner.database).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from typing import Any

# Longer than any write the app makes, shorter than SQLite's busy timeout: a writer still queued
# after this goes on to SQLite's own lock and busy timeout instead of waiting for ever.
QUEUE_TIMEOUT_SECONDS = 10.0


class _Gate:
    """The write queue of one database file in this process: a thread lock, then the file lock."""

    def __init__(self, path: str) -> None:
        self.path = path + "-write.lock"
        self.thread_lock = threading.Lock()
        self.owner: int | None = None  # the thread holding it, so a thread never waits for itself
        self.fd: int | None = None
        self.pid = os.getpid()

    def _file(self) -> int:
        if self.fd is None or self.pid != os.getpid():  # a forked worker opens its own description
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self.pid = os.getpid()
        return self.fd

    def acquire(self) -> bool:
        """Queue for the write lock; False (not queued) if this thread holds it already or the wait ran out."""
        me = threading.get_ident()
        if self.owner == me:
            return False
        if not self.thread_lock.acquire(timeout=QUEUE_TIMEOUT_SECONDS):
            return False
        try:
            # Sleeps in the kernel until the holding process unlocks (or exits): one waiting thread
            # per process, the others wait on the thread lock above. A holder is a transaction in
            # progress, which a stuck gunicorn worker does not outlive (its timeout kills it).
            fcntl.flock(self._file(), fcntl.LOCK_EX)
        except OSError:
            self.thread_lock.release()
            return False
        self.owner = me
        return True

    def release(self) -> None:
        """Let the next writer in (this process's threads and other processes alike)."""
        self.owner = None
        try:
            if self.fd is not None and self.pid == os.getpid():
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.thread_lock.release()


_gates: dict[str, _Gate] = {}
_gates_lock = threading.Lock()


def gate_for(database: str) -> _Gate | None:
    """The write queue of a SQLite database file, or None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file:") or "mode=memory" in database:
        return None
    key = os.path.abspath(database)
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = _Gate(key)
        return gate


class QueuedWriterConnection(sqlite3.Connection):
    """A sqlite3 connection that leaves the write queue when its transaction ends."""

    gate: _Gate | None = None
    holds_gate = False

    def queue_for_write(self) -> None:
        """Wait for this database's write queue (before `BEGIN IMMEDIATE`)."""
        if self.gate is not None and not self.holds_gate:
            self.holds_gate = self.gate.acquire()

    def _leave(self) -> None:
        if self.holds_gate:
            self.holds_gate = False
            assert self.gate is not None
            self.gate.release()

    def commit(self) -> None:
        """Commit, then let the next writer in."""
        try:
            super().commit()
        finally:
            self._leave()

    def rollback(self) -> None:
        """Roll back, then let the next writer in."""
        try:
            super().rollback()
        finally:
            self._leave()

    def close(self) -> None:
        """Close, leaving the queue if a transaction was still open."""
        try:
            super().close()
        finally:
            self._leave()


def connect_arguments(cargs: tuple[Any, ...], cparams: dict[str, Any]) -> None:
    """Make a new SQLite connection a `QueuedWriterConnection` (SQLAlchemy's do_connect arguments)."""
    cparams.setdefault("factory", QueuedWriterConnection)


def attach(dbapi_connection: Any, database: str) -> None:
    """Give a new connection its database's write queue (none for an in-memory database)."""
    if isinstance(dbapi_connection, QueuedWriterConnection):
        dbapi_connection.gate = gate_for(database)
