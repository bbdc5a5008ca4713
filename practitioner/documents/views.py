"""Document routes: preview, issue (archive), reprint from the archive, and the export's JSON."""

from __future__ import annotations

import uuid

from flask import Response, abort, flash, jsonify, redirect, request, url_for
from flask_login import current_user

from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner.documents import bp, jobs, services
from practitioner.documents.kinds import NotReady, SourceNotFound
from practitioner.documents.models import DocumentJob, DocumentKind, IssuedDocument, JobState
from practitioner.documents.pdf.pool import RenderQueueFull
from practitioner.errors import NotAllowed
from practitioner.extensions import db
from practitioner.forms import Form
from practitioner.dates import clinic_today
from practitioner.unit_of_work import CommitReason, commit_exception, commit_request


def _kind_or_404(kind: str) -> DocumentKind:
    try:
        return DocumentKind(kind)
    except ValueError:
        abort(404)


def pdf_response(body: bytes, filename: str) -> Response:
    """A PDF answer: the right type, a sensible file name, never cached."""
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"})


# The page of each kind of record documents are made from: where a refusal sends the person back to
# (never the Referer, which may be another site), and where a job's "Try again" returns.
RECORD_PAGES = {"Patient": "patients.detail", "Consultation": "consultations.detail", "TreatmentPlan": "plans.detail",
                "Consent": "consents.detail", "TreatmentSession": "treatments.detail", "PatientIntake": "intake.signed"}


def record_page(document_kind: DocumentKind, source_id: uuid.UUID | str) -> str:
    """The URL of the record a document is made from, at its Documents box."""
    endpoint = RECORD_PAGES.get(document_kind.document_type.source.__name__)
    if endpoint is None:
        return url_for("patients.list")
    source_id = document_kind.document_type.page_record(db.session, source_id)  # a plan's export volume: the patient
    return url_for(endpoint, public_id=source_id) + f"#docs-title-{source_id}"


def _refused(document_kind: DocumentKind, source_id: uuid.UUID, message: str):
    db.session.rollback()
    flash(message, "error")
    return redirect(record_page(document_kind, source_id), 303)


@bp.get("/documents/<kind>/<uuid:source_id>.pdf")
@require(Permission.VIEW_CLINICAL)
def preview(kind: str, source_id: uuid.UUID):
    """Render a document now without archiving it (for the clinic file, or to check before issuing)."""
    document_kind = _kind_or_404(kind)
    large = request.args.get("large") == "1"
    try:
        spec = services.build_to_print(db.session, document_kind, source_id, clinic_today())
    except SourceNotFound:
        abort(404)
    except NotReady as exc:
        return _refused(document_kind, source_id, str(exc))
    commit_exception(CommitReason.RENDER_THEN_ARCHIVE)  # end the read (and its WAL snapshot) before the 200 ms render
    try:
        body = services.render(spec, large_print=large, owner=services.owner_of(current_user))
    except RenderQueueFull as exc:
        return _refused(document_kind, source_id, str(exc))
    return pdf_response(body, services.filename(spec, large))


@bp.post("/documents/<kind>/<uuid:source_id>/issue")
@require(Permission.EDIT_CLINICAL)
def issue(kind: str, source_id: uuid.UUID):
    """Issue a document to the patient: render, archive the exact bytes, then show them."""
    document_kind = _kind_or_404(kind)
    if not Form().validate_on_submit():
        abort(400)
    if document_kind in IN_THE_BACKGROUND:
        return _issue_in_the_background(document_kind, source_id)
    try:
        issued = services.issue_now(db.session, document_kind, source_id, actor=current_user, issued_on=clinic_today(),
                                    large_print=request.form.get("large_print") == "1", ip_address=client_ip())
    except SourceNotFound:
        abort(404)
    except (NotReady, NotAllowed, RenderQueueFull) as exc:
        return _refused(document_kind, source_id, str(exc))
    flash(f"{issued.title} issued as {issued.number} (version {issued.version}).", "success")
    return redirect(url_for("documents.reprint", public_id=issued.public_id), 303)


# Kinds issued off the request path, as the aftercare at signing is: the patient record export prints a patient's
# whole history, which grows with every session (bench/bench_no_waiting.py), so it never holds the request.
IN_THE_BACKGROUND = {DocumentKind("patient-export")}


def _issue_in_the_background(document_kind: DocumentKind, source_id: uuid.UUID):
    """Queue the document (refusals said at once), then show it when it is ready, or say it is being prepared."""
    try:
        job = jobs.queue_issue(db.session, document_kind, source_id, actor=current_user, issued_on=clinic_today(),
                               large_print=request.form.get("large_print") == "1", ip_address=client_ip())
    except SourceNotFound:
        abort(404)
    except (NotReady, NotAllowed) as exc:
        return _refused(document_kind, source_id, str(exc))
    commit_request()
    state = None
    if jobs.mode() == "background":
        jobs.wake_after_response()
    else:
        state = jobs.run_one(db.session, job.id)
    job = db.session.get(DocumentJob, job.id, populate_existing=True)
    if state is JobState.DONE:
        issued = job.issued_document
        flash(f"{issued.title} issued as {issued.number} (version {issued.version}).", "success")
        return redirect(url_for("documents.reprint", public_id=issued.public_id), 303)
    if state is JobState.FAILED:
        return _refused(document_kind, source_id, job.error)
    flash(f"Preparing the {document_kind.label.lower()}: it appears under Documents on this page in a moment.", "success")
    return redirect(record_page(document_kind, source_id), 303)


@bp.get("/issued/<uuid:public_id>.pdf")
@require(Permission.VIEW_CLINICAL)
def reprint(public_id: uuid.UUID):
    """The stored bytes of an issued document, exactly as given."""
    issued = db.one_or_404(IssuedDocument.by_public_id(public_id))
    try:
        body = services.checked_bytes(db.session, issued)
    except services.DocumentAltered as exc:
        return _altered(issued, str(exc))
    services.record_reprint(db.session, issued, actor=current_user, ip_address=client_ip())
    return pdf_response(body, issued.filename)


def _altered(issued: IssuedDocument, message: str):
    """Refuse a reprint whose stored bytes changed: say so on the record's page (never serve the bytes)."""
    db.session.rollback()
    flash(message, "error")
    return redirect(record_page(issued.kind, issued.source_id), 303)


@bp.get("/issued/<uuid:public_id>.json")
@require(Permission.VIEW_CLINICAL)
def reprint_json(public_id: uuid.UUID):
    """The machine-readable copy stored with a patient record export."""
    issued = db.one_or_404(IssuedDocument.by_public_id(public_id))
    if not issued.json_data:
        abort(404)
    try:
        body = services.checked_bytes(db.session, issued, json_copy=True)
    except services.DocumentAltered as exc:
        return _altered(issued, str(exc))
    services.record_reprint(db.session, issued, actor=current_user, ip_address=client_ip())
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{issued.filename.removesuffix(".pdf")}.json"', "Cache-Control": "no-store"})


@bp.get("/documents/jobs/<uuid:public_id>.json")
@require(Permission.VIEW_CLINICAL)
def job_status(public_id: uuid.UUID):
    """Where a background document stands (the record's page polls it while it says "Preparing")."""
    job = db.one_or_404(DocumentJob.by_public_id(public_id))
    ready = job.state is JobState.DONE
    return jsonify(state=job.state.value, ready=ready, failed=job.state is JobState.FAILED,
                   url=url_for("documents.reprint", public_id=job.issued_document.public_id) if ready else None)


@bp.post("/documents/jobs/<uuid:public_id>/retry")
@require(Permission.EDIT_CLINICAL)
def retry_job(public_id: uuid.UUID):
    """Try again a background document that gave up after its retries; back to its record's page."""
    job = db.one_or_404(DocumentJob.by_public_id(public_id))
    if not Form().validate_on_submit():
        abort(400)
    back = record_page(job.kind, job.source_id)
    try:
        jobs.retry(db.session, job, actor=current_user)
    except NotAllowed as exc:
        return _refused(job.kind, job.source_id, str(exc))
    commit_request()
    if jobs.mode() == "background":
        jobs.wake_after_response()
        flash(f"Trying the {job.kind.label.lower()} again: it appears under Documents in a moment.", "success")
    elif jobs.run_one(db.session, job.id) is JobState.DONE:
        flash(f"{job.kind.label} issued.", "success")
    return redirect(back, 303)
