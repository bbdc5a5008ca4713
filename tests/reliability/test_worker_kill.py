"""Killing a gunicorn worker mid-request loses no confirmed record and leaves no half-saved one.

Real gunicorn (2 workers x 4 threads, as `make run` but smaller) on 127.0.0.1 against a file SQLite
database; a few browsers (http.client, their own cookies and CSRF tokens) keep registering
patients while the test SIGKILLs a worker just after a POST has been sent, several times. Then,
with the server stopped: every patient whose save was confirmed (303) is in the database, every
patient has exactly its one `patient.create` audit row and every such row its patient, the file
passes `PRAGMA integrity_check` and the audit chain verifies.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlencode

import pytest

from practitioner import ROOT
from practitioner.audit import verify_chain
from practitioner.auth.models import Role
from practitioner.extensions import db
from practitioner.maintenance import processes_holding
from tests.conftest import CSRF_RE, PASSWORD, make_user
from tests.reliability.support import NOTHING_HALF_SAVED, half_saved, patient_form, rows, scalar

pytestmark = pytest.mark.sqlite_only(reason="checks the SQLite file (integrity, WAL recovery) after a worker dies")

BROWSERS = 4
MAX_KILLS = 6
MIN_KILLS = 3
RUN_LIMIT = 40.0  # seconds of traffic at most
AFTER_LAST_KILL = 1.5  # seconds of traffic after the last kill, to show the server carried on
LISTENING_RE = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
LOCATION_RE = re.compile(r"/patients/([0-9a-f-]{36})$")


class Browser:
    """A minimal browser: one connection per request, cookies kept, redirects not followed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None, on_sent=None) -> tuple[int, dict, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = {"Host": f"127.0.0.1:{self.port}"}
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            body = None
            if form is not None:
                body = urlencode(form)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=headers)
            if on_sent is not None:
                on_sent()
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                value = rest.split(";", 1)[0]
                if value in ("", '""') or "Max-Age=0" in header:
                    self.cookies.pop(name.strip(), None)
                else:
                    self.cookies[name.strip()] = value
            return response.status, dict(response.headers.items()), text
        finally:
            conn.close()

    def token(self, path: str) -> str:
        status, _, body = self.request("GET", path)
        match = CSRF_RE.search(body)
        assert status == 200 and match, f"no form at {path} ({status})"
        return match.group(1) or match.group(2)


class Traffic:
    """Shared record of what the browsers sent and were told."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.posting = threading.Event()
        self.confirmed: dict[str, uuid.UUID] = {}  # family-name tag -> public id, for every 303
        self.interrupted: dict[str, str] = {}  # tag -> the connection error: outcome unknown to the user
        self.refused: dict[str, int] = {}  # tag -> any other status
        self.get_failures = 0


def _browse(browser: Browser, index: int, traffic: Traffic) -> None:
    n = 0
    while not traffic.stop.is_set():
        try:
            token = browser.token("/patients/new")
        except (OSError, http.client.HTTPException, AssertionError):
            with traffic.lock:
                traffic.get_failures += 1
            time.sleep(0.05)
            continue
        tag = f"{index}k{n}"
        n += 1
        try:
            status, headers, _ = browser.request("POST", "/patients/new", form={**patient_form(tag), "csrf_token": token},
                                                 on_sent=traffic.posting.set)
        except (OSError, http.client.HTTPException) as exc:
            with traffic.lock:
                traffic.interrupted[tag] = repr(exc)
            continue
        with traffic.lock:
            if status == 303:
                traffic.confirmed[tag] = uuid.UUID(LOCATION_RE.search(headers["Location"]).group(1))
            else:
                traffic.refused[tag] = status


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(process: subprocess.Popen, workers: set[int]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    for pid in workers:  # only workers this test saw as children of its own gunicorn
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def test_slow_killing_a_worker_mid_request_loses_nothing_confirmed(app, database_path, tmp_path):
    emails = [make_user(Role.PRACTITIONER, email=f"desk{i}@clinic.example").email for i in range(BROWSERS)]
    db.session.remove()
    db.engine.dispose()

    log_path = tmp_path / "gunicorn.log"
    # The server keys the audit chain with the test app's key, given the way production gives it (the environment),
    # so the chain it writes verifies here; without it the server would key with the checkout's instance/audit.key.
    env = {**os.environ, "PRACTITIONER_SECRET_KEY": "worker-kill-test-secret-0123456789abcdefghij",
           "PRACTITIONER_DATABASE_URL": f"sqlite:///{database_path}", "PRACTITIONER_COOKIE_SECURE": "0",
           "PRACTITIONER_AUDIT_KEY": app.config["AUDIT_KEY"], "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "4", "--bind", "127.0.0.1:0",
               "--graceful-timeout", "5", "--timeout", "30", "--chdir", str(ROOT), "wsgi:app"]
    traffic = Traffic()
    workers_seen: set[int] = set()
    kills: list[int] = []
    browsers_threads: list[threading.Thread] = []
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))
    started = time.monotonic()
    try:
        port = int(_wait_for(lambda: LISTENING_RE.search(log_path.read_text()), 30, "gunicorn to listen").group(1))
        workers_seen.update(_wait_for(lambda: len(_children(server.pid)) == 2 and _children(server.pid), 30, "2 workers"))
        browsers = [Browser(port) for _ in emails]
        for browser, email in zip(browsers, emails):
            token = _wait_for(lambda: _try_token(browser), 30, "the sign-in page")
            status, _, _ = browser.request("POST", "/sign-in", form={"email": email, "password": PASSWORD, "csrf_token": token})
            assert status == 303, f"sign-in answered {status}"
        boot_seconds = time.monotonic() - started

        browsers_threads = [threading.Thread(target=_browse, args=(b, i, traffic), daemon=True) for i, b in enumerate(browsers)]
        for thread in browsers_threads:
            thread.start()
        deadline = time.monotonic() + RUN_LIMIT
        respawn_seconds = []
        for k in range(MAX_KILLS):
            target = 8 * (k + 1)
            _wait_for(lambda: len(traffic.confirmed) >= target or time.monotonic() > deadline, RUN_LIMIT, "traffic")
            if time.monotonic() > deadline:
                break
            # Kill only workers that have booted and served: they have the database open.
            workers = _wait_for(lambda: (lambda c: len(c) == 2 and set(c) <= set(processes_holding(database_path) or ())
                                         and c)(_children(server.pid)), 30, "both workers to serve requests")
            workers_seen.update(workers)
            traffic.posting.clear()
            traffic.posting.wait(5)  # a POST has just been sent: kill while it is being handled
            victim = workers[k % len(workers)]
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            kills.append(victim)
            replaced = _wait_for(lambda: (lambda c: len(c) == 2 and victim not in c and c)(_children(server.pid)),
                                 30, "gunicorn to replace the killed worker")
            respawn_seconds.append(time.monotonic() - killed_at)
            workers_seen.update(replaced)
            if len(kills) >= MIN_KILLS and traffic.interrupted:
                break
        confirmed_at_last_kill = len(traffic.confirmed)
        time.sleep(AFTER_LAST_KILL)
        _wait_for(lambda: len(traffic.confirmed) > confirmed_at_last_kill, 15, "saves to succeed after the last kill")
    finally:
        traffic.stop.set()
        for thread in browsers_threads:
            thread.join(timeout=35)
        _stop(server, workers_seen)
    run_seconds = time.monotonic() - started
    log_text = log_path.read_text()
    print("\n" + "\n".join(line for line in log_text.splitlines() if "[ERROR]" in line or "WARNING" in line))

    # What the browsers were told.
    assert len(kills) >= MIN_KILLS, "the server never got busy enough to kill a worker"
    assert traffic.interrupted, "no kill landed while a POST was being handled (nothing was tested)"
    assert not traffic.refused, traffic.refused
    assert "database is locked" not in log_text
    assert "Traceback" not in log_text, log_text[-3000:]

    # What the database holds, read after the server has stopped.
    assert scalar(database_path, "PRAGMA integrity_check") == "ok"
    saved = {family[len("Tester"):]: uuid.UUID(public) for family, public in
             rows(database_path, "SELECT family_name, public_id FROM patients")}
    # public_id is stored as 32 hex digits on SQLite; uuid.UUID reads both forms.
    lost = {tag for tag in traffic.confirmed if tag not in saved}
    assert not lost, f"confirmed saves missing from the database: {sorted(lost)}"
    assert all(saved[tag] == public for tag, public in traffic.confirmed.items())
    unexplained = set(saved) - set(traffic.confirmed) - set(traffic.interrupted)
    assert not unexplained, f"patients nobody asked for: {sorted(unexplained)}"
    assert half_saved(database_path) == NOTHING_HALF_SAVED
    report = verify_chain(db.session)
    assert report.intact, report.problem
    creates = scalar(database_path, "SELECT count(*) FROM audit_events WHERE action = 'patient.create'")
    assert creates == len(saved)

    committed_unknown = sorted(set(traffic.interrupted) & set(saved))
    print(f"\nworker kill: gunicorn up and {BROWSERS} browsers signed in after {boot_seconds:.1f} s; {len(kills)} "
          f"SIGKILLs (replacement forked after {', '.join(f'{s:.1f}' for s in respawn_seconds)} s); "
          f"{len(traffic.confirmed)} saves confirmed, all present; {len(traffic.interrupted)} POSTs cut off by a kill "
          f"({len(committed_unknown)} had committed before the worker died, {len(traffic.interrupted) - len(committed_unknown)} "
          f"had not: none half-saved); {traffic.get_failures} form loads failed; {len(saved)} patients = {creates} "
          f"patient.create rows; audit chain intact ({report.rows_checked} rows); integrity ok; total {run_seconds:.1f} s")


def _try_token(browser: Browser) -> str | None:
    try:
        return browser.token("/sign-in")
    except (OSError, http.client.HTTPException, AssertionError):
        return None
