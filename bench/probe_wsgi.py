"""Diagnosis for bench_write_path.py --probe: where a request's wall time goes inside the server.

gunicorn serves `probe_wsgi:app` (this module, on PYTHONPATH) instead of `wsgi:app`: the same app,
wrapped so each request records its wall time, the CPU time of its thread, and the wall time
spent inside SQL statements (BEGIN IMMEDIATE, COMMIT and the rest apart). Wall minus CPU minus
SQL is time the thread was runnable but waiting for the GIL, or blocked elsewhere. Each worker
appends one JSON line per request to $PROBE_OUT.<pid> when it exits or every 200 requests.
Not part of the app; not imported by it.
"""

from __future__ import annotations

import json
import os
import threading
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine

from wsgi import app as _app

if os.environ.get("PROBE_SWITCH_INTERVAL"):  # diagnosis: how long a thread may keep the GIL when another wants it
    import sys

    sys.setswitchinterval(float(os.environ["PROBE_SWITCH_INTERVAL"]))

try:  # time spent queueing for the write lock before BEGIN IMMEDIATE, where the build has the queue
    from practitioner import write_gate as _gate_module
except ImportError:  # pragma: no cover - the base build
    _gate_module = None

_local = threading.local()
_rows: list[dict] = []
_lock = threading.Lock()
_OUT = os.environ.get("PROBE_OUT", "/tmp/probe")


@event.listens_for(Engine, "before_cursor_execute")
def _before(conn, cursor, statement, parameters, context, executemany):  # noqa: D103 - diagnosis only
    _local.sql_started = time.perf_counter()


@event.listens_for(Engine, "after_cursor_execute")
def _after(conn, cursor, statement, parameters, context, executemany):  # noqa: D103
    record = getattr(_local, "record", None)
    if record is None:
        return
    seconds = time.perf_counter() - _local.sql_started
    word = statement.lstrip()[:16].upper()
    key = "begin_immediate" if word.startswith("BEGIN IMMEDIATE") else "sql"
    record[key] += seconds
    record["statements"] += 1


if _gate_module is not None and hasattr(_gate_module, "_Gate"):
    _acquire = _gate_module._Gate.acquire

    def _timed_acquire(self):  # noqa: D103
        started = time.perf_counter()
        try:
            return _acquire(self)
        finally:
            record = getattr(_local, "record", None)
            if record is not None:
                record["begin_immediate"] += time.perf_counter() - started

    _gate_module._Gate.acquire = _timed_acquire


def _flush() -> None:
    with _lock:
        rows, _rows[:] = list(_rows), []
    if rows:
        with open(f"{_OUT}.{os.getpid()}", "a") as out:
            out.write("".join(json.dumps(r) + "\n" for r in rows))


def app(environ, start_response):
    """The app, measured."""
    record = {"path": environ.get("PATH_INFO", ""), "sql": 0.0, "begin_immediate": 0.0, "statements": 0,
              "thread": threading.current_thread().name, "pid": os.getpid()}
    _local.record = record
    started, cpu = time.perf_counter(), time.thread_time()
    try:
        body = b"".join(_app(environ, start_response))
    finally:
        record["wall"] = time.perf_counter() - started
        record["cpu"] = time.thread_time() - cpu
        record["end"] = time.time()
        _local.record = None
        with _lock:
            _rows.append(record)
            full = len(_rows) >= 200
        if full:
            _flush()
    return [body]
