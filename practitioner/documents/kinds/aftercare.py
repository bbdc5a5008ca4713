"""Aftercare instructions: for the patient, assembled from a signed session's record (practitioner.clinical.aftercare)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, lazyload, selectinload

from practitioner.admin.services import current_aftercare_policy, get_settings
from practitioner.clinical.aftercare import SessionFacts, assemble_aftercare
from practitioner.documents.kinds._common import slug
from practitioner.paths import CONTENT_DIR
from practitioner.documents.kinds._types import DocumentSpec, DocumentType
from practitioner.plans.models import TreatmentPlan
from practitioner.treatments.models import TreatmentSession

# What the aftercare reads of a session, and nothing more: the models' default eager loads would
# also fetch the consent, the addenda, the plan's zones and the consultation's screening rows,
# twice over (29 statements, about 10 ms of a 230 ms render).
# Loaded by key (selectin), never joined: joins from the sessions table make SQLite build the
# join for every row of the table (measured: a 34 ms build at 100,000 sessions, 4 ms by key).
LOADS = (
    lazyload("*"),
    selectinload(TreatmentSession.patient).lazyload("*"),
    selectinload(TreatmentSession.practitioner).lazyload("*"),
    selectinload(TreatmentSession.plan).lazyload("*"),
    selectinload(TreatmentSession.plan).selectinload(TreatmentPlan.consultation).lazyload("*"),
    selectinload(TreatmentSession.zones),
    selectinload(TreatmentSession.products),
    selectinload(TreatmentSession.adverse_events),
)


def missing(record: TreatmentSession) -> str | None:
    """Aftercare is made from a signed session only."""
    if not record.is_signed:
        return "Aftercare is issued from a signed session: sign the session record first."
    return None


def build(session: Session, record: TreatmentSession, issued_on: date | None = None) -> DocumentSpec:
    """Aftercare instructions assembled from a signed session's record; dates outside the issue date's year print their year."""
    settings = get_settings(session)
    consultation = record.plan.consultation
    facts = SessionFacts(
        modality=record.plan.modality,
        session_date=record.session_date,
        zones=tuple((z.zone, float(z.depth_mm)) for z in record.zones),
        products_applied=tuple(p.name for p in record.products),
        fitzpatrick=consultation.fitzpatrick or record.patient.fitzpatrick,
        cold_sore_history=bool(consultation.cold_sore_history),
        adverse_events=tuple(e.kind for e in record.adverse_events),
        patient_name=record.patient.full_name,
        practitioner_name=record.practitioner.name,
        session_number=record.sequence,
        sessions_planned=record.plan.sessions_planned,
        next_appointment=record.next_appointment_on if record.next_appointment_on and record.next_appointment_on > record.session_date else None,
        interval_weeks=record.plan.interval_weeks,
        clinic_name=settings.name,
        clinic_phone=(settings.phone or "").strip() or "the clinic",  # a preview only: issuing needs the phone
        clinic_out_of_hours=settings.out_of_hours or "your local urgent care service",
        issued_on=issued_on,
    )
    aftercare = assemble_aftercare(facts, current_aftercare_policy(session), CONTENT_DIR)
    blocks = [
        {"id": b.id, "kind": b.kind, "title": b.title, "paragraphs": list(b.paragraphs), "items": list(b.items), "when": b.when,
         "until": b.until, "expect": list(b.expect), "do": list(b.do), "avoid": list(b.avoid)}
        for b in aftercare.blocks
    ]
    context = {
        "patient": {"name": record.patient.full_name},
        "treatment": {"date": record.session_date, "practitioner": record.practitioner.name, "session_number": record.sequence,
                      "session_count": record.plan.sessions_planned, "modality": record.plan.modality},
        "blocks": blocks,
        "summary": f"Aftercare for {record.patient.full_name} after treatment on {record.session_date:%-d %B %Y}",
    }
    return DocumentSpec(TYPE.kind, str(record.public_id), record.patient_id, TYPE.template, TYPE.label,
                        context, aftercare.content_version, f"aftercare-{slug(record.patient.full_name)}-{record.session_date.isoformat()}")


TYPE = DocumentType(
    code="aftercare",
    label="Aftercare instructions",
    number_prefix="AC",
    source=TreatmentSession,
    source_name="session",
    template="aftercare.html",
    for_patient=True,
    build=build,
    missing=missing,
    loads=LOADS,
)
