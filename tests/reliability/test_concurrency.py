"""Sixteen people saving at once: nobody sees "database is locked" (or any error), nothing is lost.

Written for SQLite's single write lock; it runs unchanged in the PostgreSQL pass too.

Each thread is one signed-in user with their own browser (a test client) going through the real
pages: open the new-patient form, save it, open the edit form, change the phone number, save.
"""

from __future__ import annotations

import logging
import re
import statistics
import threading
import time
import uuid

from sqlalchemy import func, select

from practitioner.audit import AuditEvent, verify_chain
from practitioner.auth.models import Role
from practitioner.extensions import db
from practitioner.patients.models import Patient
from tests.conftest import CSRF_RE, make_user, sign_in
from tests.reliability.support import NOTHING_HALF_SAVED, half_saved_in, patient_form

USERS = 16
SECONDS = 5.0
MAX_ROUNDS = 60  # per user: bounds the run on a fast machine too
LOCATION_RE = re.compile(r"/patients/([0-9a-f-]{36})$")
VERSION_RE = re.compile(r'name="version" type="hidden" value="(\d+)"|name="version" value="(\d+)"')
LOCKED = "database is locked"


class Tally:
    """What one user's browser saw."""

    def __init__(self) -> None:
        self.created: list[uuid.UUID] = []
        self.edited = 0
        self.requests = 0
        self.statuses: dict[int, int] = {}
        self.unexpected: list[str] = []
        self.locked_pages = 0
        self.latencies: list[float] = []

    def saw(self, response, started: float) -> str:
        self.latencies.append(time.monotonic() - started)
        self.requests += 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        body = response.get_data(as_text=True)
        if LOCKED in body:
            self.locked_pages += 1
        return body


def _token(body: str) -> str:
    match = CSRF_RE.search(body)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def _user_session(client, index: int, deadline: float, tally: Tally) -> None:
    try:
        for n in range(MAX_ROUNDS):
            if time.monotonic() >= deadline:
                return
            tag = f"{index}r{n}"
            started = time.monotonic()
            form_page = client.get("/patients/new")
            body = tally.saw(form_page, started)
            started = time.monotonic()
            saved = client.post("/patients/new", data={**patient_form(tag), "csrf_token": _token(body)})
            tally.saw(saved, started)
            if saved.status_code != 303:
                tally.unexpected.append(f"create {tag}: {saved.status_code}")
                continue
            public_id = uuid.UUID(LOCATION_RE.search(saved.headers["Location"]).group(1))
            tally.created.append(public_id)

            started = time.monotonic()
            edit_page = client.get(f"/patients/{public_id}/edit")
            body = tally.saw(edit_page, started)
            version = VERSION_RE.search(body)
            started = time.monotonic()
            edited = client.post(f"/patients/{public_id}/edit", data={
                **patient_form(tag, phone=f"07700 9{index:02d}{n:03d}"), "csrf_token": _token(body),
                "version": version.group(1) or version.group(2)})
            tally.saw(edited, started)
            if edited.status_code == 303:
                tally.edited += 1
            else:
                tally.unexpected.append(f"edit {tag}: {edited.status_code}")
    except Exception as exc:  # an exception here is a failure the test reports, not a crash of the thread
        tally.unexpected.append(f"exception: {exc!r}")


def test_sixteen_concurrent_users_never_see_a_locked_database(app, caplog):
    caplog.set_level(logging.INFO)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # unexpected errors become the real 500 page, as in production
    clients = []
    for i in range(USERS):
        user = make_user(Role.PRACTITIONER, email=f"load{i}@clinic.example", name=f"Load User {i}")
        client = app.test_client()
        assert sign_in(client, user.email).status_code == 303
        clients.append(client)
    db.session.remove()

    tallies = [Tally() for _ in range(USERS)]
    started = time.monotonic()
    deadline = started + SECONDS
    threads = [threading.Thread(target=_user_session, args=(clients[i], i, deadline, tallies[i]), daemon=True)
               for i in range(USERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 60)
    elapsed = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads), "a user's session hung"

    statuses: dict[int, int] = {}
    for tally in tallies:
        for code, count in tally.statuses.items():
            statuses[code] = statuses.get(code, 0) + count
    created = [public_id for tally in tallies for public_id in tally.created]
    edited = sum(tally.edited for tally in tallies)
    requests = sum(tally.requests for tally in tallies)
    latencies = sorted(lat for tally in tallies for lat in tally.latencies)
    server_errors = sum(count for code, count in statuses.items() if code >= 500)
    locked_pages = sum(tally.locked_pages for tally in tallies)
    locked_logs = [r for r in caplog.records if LOCKED in r.getMessage() or LOCKED in (r.exc_text or "")]
    error_logs = [r for r in caplog.records if r.levelno >= logging.ERROR]
    print(f"\nconcurrency: {USERS} users, {elapsed:.1f} s: {requests} requests ({requests / elapsed:.0f}/s), "
          f"{len(created)} patients created ({len(created) / elapsed:.0f}/s), {edited} edits; statuses {statuses}; "
          f"latency p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {latencies[int(len(latencies) * .95)] * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms; 5xx {server_errors}, 'locked' pages {locked_pages}, "
          f"'locked' log lines {len(locked_logs)}, error log lines {len(error_logs)}")

    assert server_errors == 0
    assert locked_pages == 0 and not locked_logs
    assert not error_logs, [r.getMessage() for r in error_logs[:5]]
    assert not [u for tally in tallies for u in tally.unexpected]
    assert len(created) >= USERS, "every user saved at least one patient"
    assert edited == len(created)

    # Everything that was confirmed is there, once, with its audit rows; the chain is intact.
    in_db = set(db.session.scalars(select(Patient.public_id)))
    assert set(created) <= in_db and len(in_db) == len(created)
    actions = dict(db.session.execute(select(AuditEvent.action, func.count()).group_by(AuditEvent.action)).all())
    assert actions.get("patient.create") == len(created) and actions.get("patient.update") == edited
    report = verify_chain(db.session)
    assert report.intact, report.problem
    assert half_saved_in(db.session) == NOTHING_HALF_SAVED
