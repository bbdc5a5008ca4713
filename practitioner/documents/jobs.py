"""Documents issued off the request path: a job row per document, claimed by any web process, retried, then given up in words.

Signing a session used to render its aftercare inside the sign request (about 2 s in the browser).
Now the sign view's receiver queues a `DocumentJob` (a row, so any web process of any server, and a
restarted one, can take it) and returns; a background thread in each web process (`start_runner`,
started with the process's first request, like the render process) takes jobs that are due:

- **Claim once.** `claim` moves a job from pending to running with one UPDATE whose WHERE still
  requires it to be claimable, and checks the row count: of two workers (two gunicorn workers,
  two servers on one PostgreSQL) that read the same job, exactly one gets it. A running job whose
  worker died (claimed longer ago than CLAIM_DEADLINE) is claimable again.
- **Render, archive, finish in one go.** `run` calls `services.issue_now`, the same build, render
  and archive as issuing by hand (so the archived bytes and their hash are what they were), with
  the job marked done in the archive's own transaction.
- **Retry without anyone noticing.** A failed render is tried again after BACKOFF_SECONDS, up to
  MAX_ATTEMPTS in all; then the job is FAILED with what went wrong in words, and the record's page
  offers "Try again" (`retry`). A refusal a person must act on (no clinic phone, not ready) is not
  retried: it is shown at once.
- **Wake at once, poll for the rest.** Queuing a job in this process wakes its runner; jobs queued
  by other processes, or due for a retry, are found by polling every POLL_SECONDS.

Under tests (app.testing) there is no thread: the job runs in the request right after it is queued
(`DOCUMENT_JOBS = "inline"`), so a test sees its outcome at once; set DOCUMENT_JOBS = "background"
to run the thread, as a served app does.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from flask import Flask, Response, after_this_request, current_app
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from practitioner import signals
from practitioner.auth.models import User
from practitioner.database import set_reads_only, utcnow
from practitioner.documents import kinds, services
from practitioner.documents.kinds import NotReady
from practitioner.documents.models import DocumentJob, IssuedDocument, JobState
from practitioner.documents.pdf.pool import RENDER_TIMEOUT_SECONDS
from practitioner.errors import DomainError, NotAllowed
from practitioner.patients.models import Patient
from practitioner.unit_of_work import CommitReason, commit_exception

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# Before the second and the third attempt. A render fails for a passing reason (the render process was
# recycled or killed, the database was busy) far more often than for good: a few seconds usually do.
BACKOFF_SECONDS = (5, 30)
# A job still running after this long lost its worker (the process was killed or restarted): claim it again.
CLAIM_DEADLINE = timedelta(seconds=2 * RENDER_TIMEOUT_SECONDS + 60)
POLL_SECONDS = 2.0
GAVE_UP = ("The PDF renderer failed {attempts} times in a row; if Try again fails too, "
           "tell your clinic administrator which record it was.")


class JobNotFailed(NotAllowed):
    """Only a job that has given up can be tried again."""


def mode(app: Flask | None = None) -> str:
    """"background" (a thread per web process takes jobs) or "inline" (the request runs its job: tests)."""
    app = app or current_app
    return app.config.get("DOCUMENT_JOBS") or ("inline" if app.testing else "background")


def enqueue(session: Session, kind: Any, source_id: uuid.UUID, *, patient_id: int, actor: User, issued_on: date,
            large_print: bool = False, ip_address: str = "") -> DocumentJob:
    """Queue a document to issue in the background (added and flushed; the caller commits)."""
    job = DocumentJob(kind=kind, source_id=str(source_id), patient_id=patient_id, issued_on=issued_on, large_print=large_print,
                      requested_by_id=actor.id, ip_address=ip_address, state=JobState.PENDING, attempts=0, run_after=utcnow())
    session.add(job)
    session.flush()
    return job


def queue_issue(session: Session, kind: Any, source_id: uuid.UUID, *, actor: User, issued_on: date, large_print: bool = False,
                ip_address: str = "", record: Any = None) -> DocumentJob:
    """Check the record can make the document now (SourceNotFound, NotReady, NoClinicPhone: said at once), then queue it.

    `record`: the source record when the caller holds it already (the signed session), so it is not loaded again.
    """
    declared = kinds.get(kind)
    record = record if record is not None else declared.load(session, source_id)
    missing = declared.missing(record)
    if missing:
        raise NotReady(missing)
    services.check_can_issue(session, declared.kind)
    patient_id = record.id if isinstance(record, Patient) else record.patient_id
    return enqueue(session, declared.kind, source_id, patient_id=patient_id, actor=actor, issued_on=issued_on,
                   large_print=large_print, ip_address=ip_address)


def latest_for(session: Session, kind: Any, source_id: str) -> DocumentJob | None:
    """The newest job for one document of one record, if any."""
    return session.scalars(_LATEST_FOR, {"kind": kind, "source_id": source_id}).first()


def latest_for_each(session: Session, kind: Any, source_ids: list[str]) -> dict[str, DocumentJob]:
    """The newest job for each of several documents of one kind (the export's volumes), by source id: one statement."""
    newest = (select(func.max(DocumentJob.id)).where(DocumentJob.kind == kind, DocumentJob.source_id.in_(source_ids))
              .group_by(DocumentJob.source_id))
    return {job.source_id: job for job in session.scalars(select(DocumentJob).where(DocumentJob.id.in_(newest)))}


# Built once (every page with a Documents box asks it): the kind and the record are bound at execution.
_LATEST_FOR = (select(DocumentJob).where(DocumentJob.kind == bindparam("kind"), DocumentJob.source_id == bindparam("source_id"))
               .order_by(DocumentJob.id.desc()).limit(1))


def _claimable(now: datetime) -> Any:
    return or_(and_(DocumentJob.state == JobState.PENDING, DocumentJob.run_after <= now),
               and_(DocumentJob.state == JobState.RUNNING, DocumentJob.claimed_at < now - CLAIM_DEADLINE))


def claim(session: Session, worker: str, *, now: datetime | None = None, job_id: int | None = None) -> DocumentJob | None:
    """Take one due job (or the job `job_id`, if due) for this worker: one conditional UPDATE, so only one worker gets it."""
    now = now or utcnow()
    query = select(DocumentJob.id).where(_claimable(now)).order_by(DocumentJob.run_after, DocumentJob.id).limit(5)
    if job_id is not None:
        query = query.where(DocumentJob.id == job_id)
    # Look as a reader (on SQLite a deferred transaction, no write lock: the runner looks every POLL_SECONDS),
    # then claim in a short write transaction of its own.
    set_reads_only(True)
    try:
        candidates = list(session.scalars(query))
        session.rollback()
    finally:
        set_reads_only(False)
    for candidate in candidates:
        taken = session.execute(
            update(DocumentJob).where(DocumentJob.id == candidate, _claimable(now))
            .values(state=JobState.RUNNING, claimed_by=worker[:80], claimed_at=now, attempts=DocumentJob.attempts + 1)
            .execution_options(synchronize_session=False))
        commit_exception(CommitReason.DOCUMENT_JOB, session)
        if taken.rowcount == 1:
            return session.get(DocumentJob, candidate, populate_existing=True)
    return None


def run(session: Session, job: DocumentJob, *, now: datetime | None = None) -> JobState:
    """Issue a claimed job's document (services.issue_now), then record how it ended: done, retry later, or failed."""
    job_id, attempts, label = job.id, job.attempts, job.kind.label.lower()
    actor = session.get(User, job.requested_by_id)

    def done(issued: IssuedDocument) -> None:
        finished = session.get(DocumentJob, job_id)
        finished.state, finished.issued_document_id, finished.error, finished.finished_at = JobState.DONE, issued.id, "", utcnow()

    try:
        services.issue_now(session, job.kind, uuid.UUID(job.source_id), actor=actor, issued_on=job.issued_on,
                           large_print=job.large_print, ip_address=job.ip_address, with_archive=done)
    except (NotReady, DomainError) as exc:  # a refusal a person must act on: trying again would not help
        session.rollback()
        return _finish(session, job_id, JobState.FAILED, str(exc))
    except Exception as exc:  # noqa: BLE001  (tried again later; the log names no patient)
        session.rollback()
        signals.log_failure(f"Issuing the {label} in the background (attempt {attempts} of {MAX_ATTEMPTS})", exc,
                            record_id=f"job {job_id}")
        if attempts >= MAX_ATTEMPTS:
            return _finish(session, job_id, JobState.FAILED, GAVE_UP.format(attempts=attempts))
        wait = BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]
        return _finish(session, job_id, JobState.PENDING, "", run_after=(now or utcnow()) + timedelta(seconds=wait))
    return JobState.DONE


def _finish(session: Session, job_id: int, state: JobState, error: str, run_after: datetime | None = None) -> JobState:
    job = session.get(DocumentJob, job_id, populate_existing=True)
    job.state, job.error, job.claimed_by, job.claimed_at = state, error[:500], "", None
    if run_after is not None:
        job.run_after = run_after
    if state is JobState.FAILED:
        job.finished_at = utcnow()
    commit_exception(CommitReason.DOCUMENT_JOB, session)
    return state


def run_due(session: Session, worker: str | None = None, *, now: datetime | None = None, limit: int = 100) -> int:
    """Claim and run due jobs until none is left (or `limit` ran); the number run."""
    worker = worker or worker_name()
    ran = 0
    while ran < limit:
        job = claim(session, worker, now=now)
        if job is None:
            break
        run(session, job, now=now)
        ran += 1
    return ran


def run_one(session: Session, job_id: int) -> JobState | None:
    """Claim and run one job now, if it is due and no one else took it (the inline mode's request does this)."""
    job = claim(session, worker_name(), job_id=job_id)
    return None if job is None else run(session, job)


def retry(session: Session, job: DocumentJob, *, actor: User) -> DocumentJob:
    """Try a job that gave up again, from its first attempt, as the person asking (added and flushed)."""
    if job.state is not JobState.FAILED:
        raise JobNotFailed("This document is not waiting to be tried again: reload the page to see where it is.")
    job.state, job.attempts, job.error, job.run_after, job.finished_at = JobState.PENDING, 0, "", utcnow(), None
    job.requested_by_id = actor.id
    session.flush()
    return job


def worker_name() -> str:
    """This process and thread, as a job's claimed_by says it."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


# -- the runner thread ---------------------------------------------------------------------------------------------

_runners: dict[tuple[int, int], tuple[threading.Event, threading.Event]] = {}  # (pid, app) -> (wake up, stop)
_runners_lock = threading.Lock()


def start_runner(app: Flask) -> None:
    """Start this web process's job runner for the app, once (a forked worker starts its own)."""
    key = (os.getpid(), id(app))
    with _runners_lock:
        if key in _runners:
            return
        events = _runners[key] = (threading.Event(), threading.Event())
    threading.Thread(target=_loop, args=(app, *events), name="document-jobs", daemon=True).start()


def wake(app: Flask | None = None) -> None:
    """Have this process's runner look for due jobs now (after a job was queued and committed)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]  # the app, not its proxy
    start_runner(app)
    _runners[(os.getpid(), id(app))][0].set()


def wake_after_response() -> None:
    """In a request: wake this process's runner once the response has gone out, so the render does not compete with
    the request's last steps for the interpreter (the runner's poll finds the job anyway if the server never says)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the app, not its proxy
    start_runner(app)

    @after_this_request
    def _wake_when_sent(response: Response) -> Response:
        response.call_on_close(lambda: wake(app))
        return response


def stop_runner(app: Flask) -> None:
    """Stop this process's runner for the app after its current round (tests; a process's runner otherwise lives with it)."""
    with _runners_lock:
        events = _runners.pop((os.getpid(), id(app)), None)
    if events is not None:
        events[1].set()
        events[0].set()


def stop_all_runners() -> None:
    """Stop every runner of this process after its current round (tests: an app a test made goes with its database)."""
    with _runners_lock:
        keys = [key for key in _runners if key[0] == os.getpid()]
        stopped = [_runners.pop(key) for key in keys]
    for wake_up, stop in stopped:
        stop.set()
        wake_up.set()


def _loop(app: Flask, wake_up: threading.Event, stop: threading.Event) -> None:
    from practitioner.extensions import db

    worker = worker_name()
    while not stop.is_set():
        wake_up.clear()
        try:
            with app.app_context():
                try:
                    run_due(db.session, worker)
                finally:
                    db.session.remove()
        except Exception:  # noqa: BLE001  (the next round tries again; a job left running is reclaimed after its deadline)
            log.exception("The document job runner failed a round")
        wake_up.wait(POLL_SECONDS)
