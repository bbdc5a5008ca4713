"""How documents plug into the features below them: the aftercare at signing, and the patient timeline."""

from __future__ import annotations

from flask import url_for
from sqlalchemy.orm import Session

from practitioner.auth.models import User
from practitioner.documents import services
from practitioner.documents.models import DocumentKind
from practitioner.extensions import db
from practitioner.patients.models import Patient
from practitioner.patients.timeline import TimelineEntry
from practitioner.treatments.models import TreatmentSession


def issue_aftercare_after_sign(record: TreatmentSession, actor: User, ip_address: str) -> str:
    """Signing a session issues its aftercare; the message says where to find it."""
    issued = services.issue_now(db.session, DocumentKind.AFTERCARE, record.public_id, actor=actor,
                                issued_on=record.session_date, ip_address=ip_address)
    return f"Aftercare issued as {issued.number}: print it for the patient from the Documents list."


def document_entries(session: Session, patient: Patient, clinical: bool) -> list[TimelineEntry]:
    """Every document issued to the patient, with its version."""
    if not clinical:
        return []
    return [TimelineEntry(when=d.issued_at, kind="document", title=f"{d.title} {d.kind.issued_phrase}",
                          url=url_for("documents.reprint", public_id=d.public_id),
                          badge=f"v{d.version}", details=(f"{d.number} · issued by {d.issued_by.name}",))
            for d in services.issued_for_patient(session, patient.id)]


def documents_for_patient(patient: Patient) -> list:
    """For the patient page: every document issued for the patient, newest first (the timeline lists the same ones)."""
    return services.issued_for_patient(db.session, patient.id)


def document_templates_globals() -> dict[str, object]:
    """What page templates use to list documents and label their buttons."""
    return {"documents_for_patient": documents_for_patient, "document_kind": DocumentKind,
            "content_awaiting_review": content_awaiting_review}


def content_awaiting_review() -> list[dict[str, str]]:
    """Aftercare notes marked in the content as awaiting the clinic's medical review (for the admin settings page)."""
    from practitioner.clinical.aftercare import awaiting_review
    from practitioner.documents.context import CONTENT_DIR

    return [{"title": note.title, "block": note.block_id, "file": note.source, "note": note.note}
            for note in awaiting_review(CONTENT_DIR)]


def documents_for_source(source_id: object) -> list:
    """For templates of lower features: every issued document made from this record, newest first."""
    from sqlalchemy import select

    from practitioner.documents.models import IssuedDocument

    return list(db.session.scalars(select(IssuedDocument).where(IssuedDocument.source_id == str(source_id))
                                   .order_by(IssuedDocument.kind, IssuedDocument.version.desc())))


def start_rendering_early(app) -> None:
    """In a served app, each web process starts its PDF render process with its first request
    (any page, usually the sign-in), not with its first PDF. Not under tests or commands."""
    if app.testing:
        return

    from practitioner.documents.rendering import start_render_process_soon

    app.before_request(start_render_process_soon)
