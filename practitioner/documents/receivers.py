"""How documents answer the features below them (the signals of practitioner.signals).

Documents sit at the top of the feature chain: sessions, consents, plans, consultations and patients
cannot call them, so they send signals and these receivers answer. `connect()` runs once, from the
package's __init__.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, url_for
from sqlalchemy.orm import Session

from practitioner import signals
from practitioner.auth.models import User
from practitioner.database import utcnow
from practitioner.documents import jobs, kinds, services
from practitioner.documents.models import DocumentJob, DocumentKind, IssuedDocument, JobState
from practitioner.errors import DomainError
from practitioner.extensions import db
from practitioner.patients.models import Patient
from practitioner.patients.timeline import TimelineEntry
from practitioner.treatments.models import TreatmentSession
from practitioner.unit_of_work import CommitReason, commit_exception

# The preview button says "Preview aftercare", as it always has, where the label is longer.
_PREVIEW_NAMES = {DocumentKind.AFTERCARE: "Aftercare"}

AFTERCARE_NOT_ISSUED = ("The aftercare could not be issued automatically. Issue it from this page: "
                        f"“{DocumentKind.AFTERCARE.issue_label}” under Documents.")
DONE_SHOWN_FOR = timedelta(minutes=30)  # how long a record's page says a background document is ready
AFTERCARE_PREPARING = "Preparing the aftercare: it appears under Documents on this page in a moment, ready to print."


def issue_aftercare(record: TreatmentSession, *, actor: User, ip_address: str, **_: Any) -> signals.Notice:
    """session_signed: queue the signed session's aftercare (rendered off the request path, practitioner.documents.jobs).

    A refusal a person must act on (no clinic phone, not ready) is said at once; otherwise the notice says it is
    being prepared, and the Documents box shows it appear (or, after its retries, what failed, with Try again).
    """
    try:
        job = jobs.queue_issue(db.session, DocumentKind.AFTERCARE, record.public_id, actor=actor, issued_on=record.session_date,
                               ip_address=ip_address, record=record)
        commit_exception(CommitReason.DOCUMENT_JOB)
    except Exception as exc:  # noqa: BLE001  (the signature is committed and stands; the practitioner is told)
        db.session.rollback()
        signals.log_failure("Issuing the aftercare at signing", exc, record_id=f"session {record.public_id}")
        # A refusal written for people (no clinic phone, not ready) says what to do first.
        reason = f" {exc}" if isinstance(exc, (DomainError, services.NotReady)) else ""
        return signals.Notice(AFTERCARE_NOT_ISSUED + reason, "warning")
    if jobs.mode() == "background":
        jobs.wake_after_response()
        return signals.Notice(AFTERCARE_PREPARING)
    state = jobs.run_one(db.session, job.id)
    job = db.session.get(DocumentJob, job.id, populate_existing=True)
    if state is JobState.DONE:
        return signals.Notice(f"Aftercare issued as {job.issued_document.number}: print it for the patient from the Documents list.")
    if state is JobState.FAILED:
        return signals.Notice(AFTERCARE_NOT_ISSUED + f" {job.error}", "warning")
    return signals.Notice(AFTERCARE_PREPARING)


def document_entries(patient: Patient, *, session: Session, clinical: bool, **_: Any) -> list[TimelineEntry]:
    """patient_timeline: every document issued to the patient, with its version."""
    if not clinical:
        return []
    return [TimelineEntry(when=d.issued_at, kind="document", title=f"{d.title} {d.kind.issued_phrase}",
                          url=url_for("documents.reprint", public_id=d.public_id),
                          badge=f"v{d.version}", details=(f"{d.number} · issued by {d.issued_by.name}",))
            for d in services.issued_for_patient(session, patient.id)]


def documents_box(record: Any, **_: Any) -> signals.DocumentsBox | None:
    """record_documents: what was issued from the record (for a patient: everything issued to them) and what can be made from it."""
    made = [declared for declared in kinds.KINDS.values() if isinstance(record, declared.source)]
    if not made:
        return None
    if isinstance(record, Patient):
        issued = services.issued_for_patient(db.session, record.id)
        empty = "Nothing issued for this patient yet."
    else:
        # Grouped by kind, each kind's versions newest first.
        issued = [d for kind in sorted(declared.kind for declared in made)
                  for d in services.issued_for_source(db.session, kind, str(record.public_id))]
        empty = "Nothing issued from this record yet."
    # Every kind made from this kind of record (the catalogue says), offered to issue once it is ready: what each
    # kind offers (its document, or the export's volumes: DocumentType.offers).
    actions = tuple(
        signals.DocumentAction(
            label=_PREVIEW_NAMES.get(declared.kind, offer.label), issue_label=offer.issue_label,
            preview_url=url_for("documents.preview", kind=declared.kind.value, source_id=offer.source_id),
            issue_url=url_for("documents.issue", kind=declared.kind.value, source_id=offer.source_id)
            if declared.missing(record) is None else None)
        for declared in made for offer in declared.offers(db.session, record))
    return signals.DocumentsBox(anchor=str(record.public_id), empty=empty,
                                issued=tuple(_entry(d) for d in issued), actions=actions,
                                jobs=_job_states(record, made))


def _job_states(record: Any, made: list[Any]) -> tuple[signals.DocumentJobState, ...]:
    """What the background jobs of this record's documents are doing: preparing, failed (with Try again), or done."""
    states = []
    offered = [(declared, declared.offers(db.session, record)) for declared in made]
    # A kind that offers several documents (the export's volumes) reads their jobs in one statement, however many.
    several = {declared.kind: jobs.latest_for_each(db.session, declared.kind, [str(o.source_id) for o in offers])
               for declared, offers in offered if len(offers) > 1}
    for declared, offer in ((declared, offer) for declared, offers in offered for offer in offers):
        job = (several[declared.kind].get(str(offer.source_id)) if declared.kind in several
               else jobs.latest_for(db.session, declared.kind, str(offer.source_id)))
        if job is None:
            continue
        label = offer.label
        if job.state is JobState.DONE:
            if job.finished_at is None or job.finished_at < utcnow() - DONE_SHOWN_FOR:
                continue  # long done: the Documents list says it
            states.append(signals.DocumentJobState(
                state="done", message=f"{_PREVIEW_NAMES.get(declared.kind, label)} issued as {job.issued_document.number}: "
                                      f"{'print it for the patient' if declared.for_patient else 'it is in the clinic file'} "
                                      "from the list below."))
        elif job.state is JobState.FAILED:
            states.append(signals.DocumentJobState(
                state="failed", message=f"The {_PREVIEW_NAMES.get(declared.kind, label).lower()} could not be issued automatically. "
                                        f"Issue it from this page: “{declared.issue_label}” under Documents, or try again. {job.error}",
                retry_url=url_for("documents.retry_job", public_id=job.public_id)))
        else:
            states.append(signals.DocumentJobState(
                state="preparing", message=f"Preparing the {label.lower()}…",
                status_url=url_for("documents.job_status", public_id=job.public_id)))
    return tuple(states)


def content_awaiting_review(_sender: Any, **_: Any) -> list[signals.ContentNote]:
    """content_awaiting_review: aftercare notes marked in the content as awaiting the clinic's medical review."""
    from practitioner.clinical.aftercare import awaiting_review
    from practitioner.paths import CONTENT_DIR

    return [signals.ContentNote(title=note.title, block=note.block_id, file=note.source, note=note.note)
            for note in awaiting_review(CONTENT_DIR)]


def start_rendering_early() -> None:
    """In a served app, each web process starts its PDF render process and its document job runner with its
    first request (any page, usually the sign-in), not with its first PDF. Not under tests or commands."""
    if current_app.testing:
        return

    from practitioner.documents.pdf.pool import start_render_process_soon

    start_render_process_soon()
    if jobs.mode() == "background":
        jobs.start_runner(current_app._get_current_object())  # type: ignore[attr-defined]  # the app, not its proxy


def connect() -> None:
    """Connect documents' receivers (idempotent: module-level functions, held strongly)."""
    signals.session_signed.connect(issue_aftercare, weak=False)
    signals.patient_timeline.connect(document_entries, weak=False)
    signals.record_documents.connect(documents_box, weak=False)
    signals.content_awaiting_review.connect(content_awaiting_review, weak=False)


def _entry(document: IssuedDocument) -> signals.IssuedEntry:
    return signals.IssuedEntry(
        title=document.title, url=url_for("documents.reprint", public_id=document.public_id),
        json_url=url_for("documents.reprint_json", public_id=document.public_id) if document.json_sha256 else None,
        version=document.version, phrase=document.kind.issued_phrase, number=document.number,
        issued_at=document.issued_at, issued_by=document.issued_by.name, large_print=document.large_print)
