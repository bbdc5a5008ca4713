"""Document routes: preview, issue (archive), reprint from the archive, and the export's JSON."""

from __future__ import annotations

import uuid

from flask import Response, abort, flash, redirect, request, url_for
from flask_login import current_user

from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner.documents import bp, services
from practitioner.documents.kinds import NotReady, SourceNotFound
from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.errors import NotAllowed
from practitioner.extensions import db
from practitioner.forms import Form
from practitioner.dates import clinic_today
from practitioner.unit_of_work import CommitReason, commit_exception


def _kind_or_404(kind: str) -> DocumentKind:
    try:
        return DocumentKind(kind)
    except ValueError:
        abort(404)


def pdf_response(body: bytes, filename: str) -> Response:
    """A PDF answer: the right type, a sensible file name, never cached."""
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"})


@bp.get("/documents/<kind>/<uuid:source_id>.pdf")
@require(Permission.VIEW_CLINICAL)
def preview(kind: str, source_id: uuid.UUID):
    """Render a document now without archiving it (for the clinic file, or to check before issuing)."""
    document_kind = _kind_or_404(kind)
    large = request.args.get("large") == "1"
    try:
        spec = services.build(db.session, document_kind, source_id, clinic_today())
    except SourceNotFound:
        abort(404)
    except NotReady as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(request.referrer or url_for("patients.list"), 303)
    commit_exception(CommitReason.RENDER_THEN_ARCHIVE)  # end the read (and its WAL snapshot) before the 200 ms render
    return pdf_response(services.render(spec, large_print=large), services.filename(spec, large))


@bp.post("/documents/<kind>/<uuid:source_id>/issue")
@require(Permission.EDIT_CLINICAL)
def issue(kind: str, source_id: uuid.UUID):
    """Issue a document to the patient: render, archive the exact bytes, then show them."""
    document_kind = _kind_or_404(kind)
    if not Form().validate_on_submit():
        abort(400)
    try:
        issued = services.issue_now(db.session, document_kind, source_id, actor=current_user, issued_on=clinic_today(),
                                    large_print=request.form.get("large_print") == "1", ip_address=client_ip())
    except SourceNotFound:
        abort(404)
    except (NotReady, NotAllowed) as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(request.referrer or url_for("patients.list"), 303)
    flash(f"{issued.title} issued as {issued.number} (version {issued.version}).", "success")
    return redirect(url_for("documents.reprint", public_id=issued.public_id), 303)


@bp.get("/issued/<uuid:public_id>.pdf")
@require(Permission.VIEW_CLINICAL)
def reprint(public_id: uuid.UUID):
    """The stored bytes of an issued document, exactly as given."""
    issued = db.one_or_404(IssuedDocument.by_public_id(public_id))
    services.record_reprint(db.session, issued, actor=current_user, ip_address=client_ip())
    return pdf_response(issued.pdf, issued.filename)


@bp.get("/issued/<uuid:public_id>.json")
@require(Permission.VIEW_CLINICAL)
def reprint_json(public_id: uuid.UUID):
    """The machine-readable copy stored with a patient record export."""
    issued = db.one_or_404(IssuedDocument.by_public_id(public_id))
    if not issued.json_data:
        abort(404)
    services.record_reprint(db.session, issued, actor=current_user, ip_address=client_ip())
    return Response(issued.json_data, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{issued.filename.removesuffix(".pdf")}.json"', "Cache-Control": "no-store"})
