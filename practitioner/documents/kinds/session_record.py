"""The session record: for the clinic's file, every field of one treatment session, its signature (or DRAFT) and addenda."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from practitioner.documents.kinds import aftercare
from practitioner.documents.kinds._common import CLINIC_FILE_VERSION, _patient_head, session_values, slug
from practitioner.documents.kinds._types import DocumentSpec, DocumentType
from practitioner.documents.models import IssuedDocument
from practitioner.treatments.models import TreatmentSession


def _aftercare_for(session: Session, record: TreatmentSession) -> list[IssuedDocument]:
    return list(session.scalars(select(IssuedDocument).where(IssuedDocument.kind == aftercare.TYPE.code,
                                                             IssuedDocument.source_id == str(record.public_id))
                                .order_by(IssuedDocument.version)))


def build(session: Session, record: TreatmentSession, issued_on: date | None = None) -> DocumentSpec:
    """The clinic-file session record: every field, the signature (or DRAFT), the addenda."""
    patient = record.patient
    context = {
        "patient": _patient_head(patient),
        "session": session_values(record, _aftercare_for(session, record)),
        "summary": f"Session record for {patient.full_name}, {record.session_date:%-d %B %Y} (session {record.sequence})",
    }
    return DocumentSpec(TYPE.kind, str(record.public_id), patient.id, TYPE.template,
                        TYPE.label if record.is_signed else f"{TYPE.label} (draft)", context, CLINIC_FILE_VERSION,
                        f"session-{slug(patient.full_name)}-{record.session_date.isoformat()}-{record.sequence}")


TYPE = DocumentType(
    code="session-record",
    label="Session record",
    number_prefix="SR",
    source=TreatmentSession,
    source_name="session",
    template="session_record.html",
    for_patient=False,
    build=build,
)
