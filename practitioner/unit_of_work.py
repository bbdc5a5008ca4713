"""Who commits: one rule, and the few named exceptions. The only module in practitioner/ that calls `.commit()`.

The rule (as Indico's request handler: operations flush, the request commits):

    A view loads its record (by public id, or 404), checks access, validates the form, calls ONE service,
    then commits ONCE with `commit_request()`, flashes and redirects. Services, models and everything
    below them add and flush; they never commit, so a service can be called inside another's transaction
    and a refusal (a domain error) rolls the whole request back.

The exceptions, each named, so `grep -rn "commit_" practitioner/` lists every place a transaction ends
(tests/test_unit_of_work.py fails on any other `.commit(` in practitioner/):

    commit_audit_of_read()   (CommitReason.AUDIT_OF_READ) a read-only request (GET, HEAD) that must still
                             write: the audit row of a viewed record or of a refused access, a sign-in
                             session's last-seen time. It runs in its own short write transaction
                             (`database.write_step`), so reading pages never queue for SQLite's write lock,
                             and a refusal's audit row survives the 403.
    commit_exception(reason) one of the `CommitReason`s below, said where it happens:
        RENDER_THEN_ARCHIVE  issuing or previewing a PDF: the read is ended before the ~200 ms render (an open
                             SQLite transaction would hold the write lock, or its WAL snapshot, all that time),
                             then the archived document and its audit row are committed on their own.
        SIGN_IN_REFUSED      a refused or throttled sign-in still records the failure: the count that throttles
                             the next attempt must survive the refusal.
        SIGN_IN_SESSION      loading the signed-in user touches or expires the sign-in session before any view.
        CLI                  a command-line command (create-user, seed-demo) is its own unit of work.
        PASSWORD_CONFIRM_REFUSED an administrator typed a wrong password to confirm a change (a role, a reset,
                             a new administrator): the change is refused, its audit row is still kept.
        DOCUMENT_JOB         a document issued off the request path (practitioner/documents/jobs.py): queuing it
                             after the signature is committed, claiming it, and recording how it ended, each on its own.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, scoped_session


class CommitReason(enum.StrEnum):
    """Why a transaction is committed somewhere other than at the end of a view's one service call."""

    AUDIT_OF_READ = "a read-only request writes its audit row (or a sign-in session's last-seen time)"
    RENDER_THEN_ARCHIVE = "end the read before rendering a PDF, then archive what was issued"
    SIGN_IN_REFUSED = "a refused or throttled sign-in keeps its failure count"
    SIGN_IN_SESSION = "loading the signed-in user touches or expires the sign-in session"
    CLI = "a command-line command is its own unit of work"
    PASSWORD_CONFIRM_REFUSED = "a wrong password typed to confirm an admin's change is audited though the change is refused"
    DOCUMENT_JOB = "a background document job is queued, claimed and finished in its own short transactions"


def _session(session: Session | scoped_session | None) -> Session | scoped_session:
    if session is not None:
        return session
    from practitioner.extensions import db  # lazily: database.py imports this module, and extensions imports database

    return db.session


def commit_request(session: Session | scoped_session | None = None) -> None:
    """The view's one commit, after its one service call (the rule above)."""
    _session(session).commit()


def commit_exception(reason: CommitReason, session: Session | scoped_session | None = None) -> None:
    """A commit outside the rule, for one of the named `CommitReason`s."""
    if not isinstance(reason, CommitReason):
        raise TypeError("commit_exception needs a CommitReason: add a named reason (and its why) to practitioner/unit_of_work.py.")
    _session(session).commit()


def commit_audit_of_read(session: Session | scoped_session | None = None) -> None:
    """A read-only request's own write (its audit row, a sign-in session's last-seen time), committed by itself."""
    commit_exception(CommitReason.AUDIT_OF_READ, session)
